"""变更登记 in Debian's chromium: a village cadre asks for a bank card to be added and a death to
be recorded; the township reviewer confirms from the list; the person's page and the
household's timeline show it. Each page is shot at 1366 and 390 px wide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas
from tests.web.changes_helpers import CARD, PNG

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def both(page: Any, name: str) -> None:
    """Shoot the page at 1366 px and at 390 px (a phone), then back to the desktop width."""
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, f"{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name}: the page is {width} px wide at 390"
    page.set_viewport_size({"width": 1366, "height": 900})


def test_submit_and_confirm_a_change(page: Any, live_server: Any, personas: Personas,
                                     settings: Any, tmp_path: Path) -> None:
    from huimin.cases.actions import local_today
    from huimin.registry.models import BankAccount, ChangeRequest, Person
    from tests.web.cases_helpers import make_rural_couple

    settings.MEDIA_ROOT = tmp_path / "media"
    base = live_server.url
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)

    login(page, base, "cadre_a")
    page.goto(f"{base}/registry/persons/{couple.wife.pk}/")
    page.click("[data-testid=change-new]")
    page.wait_for_selector("[data-testid=kinds]")
    both(page, "changes-01-kinds")
    page.click("text=增加银行账户")
    page.fill("#f-bank_name", "惠来农商银行")
    page.fill("#f-account", CARD[:-1] + "0")  # a typo: the Luhn check catches it
    page.fill("#f-verified_how", "本人持卡到村委会核对")
    page.fill("#f-reason", "本人新办社保卡，申请以此卡领取补贴")
    page.click("button:has-text('提交变更申请')")
    page.wait_for_selector("text=校验位不符")
    both(page, "changes-02-form-error")
    page.fill("#f-account", CARD)
    page.fill("#f-reason", "本人新办社保卡，申请以此卡领取补贴")
    page.click("button:has-text('提交变更申请')")
    page.wait_for_selector("[data-testid=status]")
    assert page.inner_text("[data-testid=status]") == "待确认"
    assert CARD not in page.content()
    both(page, "changes-03-submitted")

    # a death, with the certificate scan
    page.goto(f"{base}/registry/persons/{couple.husband.pk}/changes/new/?kind=death")
    page.fill("#f-death_date", local_today().isoformat())
    page.fill("#f-source", "县卫生健康局")
    page.fill("#f-certificate", "Q445224-0001")
    scan = tmp_path / "死亡证明.png"
    scan.write_bytes(PNG)
    page.set_input_files("#f-evidence", str(scan))
    page.fill("#f-reason", "家属持死亡医学证明前来登记")
    both(page, "changes-04-death-form")
    page.click("button:has-text('提交变更申请')")
    page.wait_for_selector("[data-testid=status]")
    logout(page)

    login(page, base, "township")
    page.click("nav >> text=变更登记")
    page.wait_for_selector("[data-testid=changes]")
    assert page.locator("[data-testid=changes] tr").count() == 3  # header + two requests
    both(page, "changes-05-pending-list")
    death = ChangeRequest.objects.get(kind="death")
    page.click(f"text={death.number}")
    page.wait_for_selector("[data-testid=confirm]")
    both(page, "changes-06-detail")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=已确认并生效")
    account = ChangeRequest.objects.get(kind="account_add")
    page.goto(f"{base}/registry/changes/{account.pk}/")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=已确认并生效")
    assert Person.objects.get(pk=couple.husband.pk).death_date == local_today()
    assert BankAccount.objects.get(person=couple.wife).verified_by == personas.cadre_a

    page.goto(f"{base}/registry/households/{couple.household.pk}/")
    timeline = page.inner_text("[data-testid=timeline]")
    assert "登记死亡" in timeline and "确认变更申请（生效）" in timeline
    assert "登记银行账户" in timeline and CARD not in timeline
    both(page, "changes-07-household-timeline")
    page.goto(f"{base}/registry/persons/{couple.husband.pk}/")
    assert "县卫生健康局" in page.content()
    both(page, "changes-08-person")
    page.goto(f"{base}/registry/handovers/import/")
    assert "移交记录" in page.content()
    both(page, "changes-09-handover-import")


def test_a_passbook_is_added_without_the_card_check(page: Any, live_server: Any,
                                                    personas: Personas, settings: Any,
                                                    tmp_path: Path) -> None:
    """A 一折通 passbook number has no Luhn digit: chosen as 存折 it is accepted, and the
    person's page marks it."""
    from huimin.registry import changes
    from huimin.registry.models import BankAccount, ChangeRequest
    from tests.web.cases_helpers import make_rural_couple
    from tests.web.changes_helpers import BAD_CARD

    settings.MEDIA_ROOT = tmp_path / "media"
    base = live_server.url
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    login(page, base, "cadre_a")
    page.goto(f"{base}/registry/persons/{couple.wife.pk}/changes/new/?kind=account_add")
    page.fill("#f-bank_name", "惠来农商银行")
    page.fill("#f-account", BAD_CARD)
    page.fill("#f-verified_how", "本人持一折通存折到村委会核对")
    page.fill("#f-reason", "本人以一折通存折领取补贴")
    page.click("button:has-text('提交变更申请')")
    page.wait_for_selector("text=校验位不符")  # a card, the default, is Luhn-checked
    page.select_option("#f-account_kind", "passbook")
    page.fill("#f-account", BAD_CARD)
    page.fill("#f-reason", "本人以一折通存折领取补贴")
    both(page, "changes-10-passbook-form")
    page.click("button:has-text('提交变更申请')")
    page.wait_for_selector("[data-testid=status]")
    assert "惠来农商银行 存折 " in page.content() and BAD_CARD not in page.content()
    changes.confirm_change(personas.township, ChangeRequest.objects.get(kind="account_add"))
    assert BankAccount.objects.get(person=couple.wife).kind == "passbook"
    page.goto(f"{base}/registry/persons/{couple.wife.pk}/")
    accounts = page.inner_text("[data-testid=accounts]")
    assert "惠来农商银行" in accounts and BAD_CARD not in accounts
    assert page.locator("[data-testid=accounts] [data-testid=passbook]").count() == 1
    both(page, "changes-11-person-passbook")
