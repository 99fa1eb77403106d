"""批量确认 in Debian's chromium: the township reviewer ticks three waiting requests (two bank
accounts and a name), previews what each will change and confirms them at once. The list
and the preview are shot at 1366 and 390 px wide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.browser.test_register_changes import both
from tests.conftest import VILLAGE_A, Personas
from tests.web.changes_helpers import CARD, CARD_2, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bulk_confirm_after_a_preview(page: Any, live_server: Any, personas: Personas,
                                      settings: Any, tmp_path: Path) -> None:
    from huimin.registry.models import BankAccount, ChangeRequest, Person
    from tests.web.cases_helpers import make_rural_couple

    settings.MEDIA_ROOT = tmp_path / "media"
    base = live_server.url
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    how = "本人持卡到村委会核对"
    reqs = [submit(personas.cadre_a, "account_add", couple.wife,
                   {"bank_name": "惠来农商银行", "account": CARD, "verified_how": how}),
            submit(personas.cadre_a, "account_replace", couple.husband,
                   {"account_id": str(couple.account.pk), "bank_name": "中国邮政储蓄银行",
                    "account": CARD_2, "verified_how": how}),
            submit(personas.cadre_a, "identity", couple.child, {"name": "李春燕"})]

    login(page, base, "township")
    page.goto(f"{base}/registry/changes/")
    page.wait_for_selector("[data-testid=bulk]")
    for r in reqs:
        page.check(f"input[name=change][value='{r.pk}']")
    both(page, "changes-bulk-01-list")
    page.click("[data-testid=bulk-preview]")
    page.wait_for_selector("[data-testid=preview]")
    text = page.inner_text("[data-testid=preview]")
    assert "姓名：李春一 → 李春燕" in text and CARD not in page.content()
    assert page.inner_text("[data-testid=count]").startswith("共 3 项变更申请")
    assert all(r.status == "submitted" for r in ChangeRequest.objects.all())
    both(page, "changes-bulk-02-preview")
    page.click("[data-testid=bulk-confirm]")
    page.wait_for_selector("text=已确认 3 项变更申请并生效")
    assert {r.status for r in ChangeRequest.objects.all()} == {"confirmed"}
    assert Person.objects.get(pk=couple.child.pk).name == "李春燕"
    assert BankAccount.objects.get(person=couple.husband, active=True).account_number == CARD_2
    both(page, "changes-bulk-03-done")
