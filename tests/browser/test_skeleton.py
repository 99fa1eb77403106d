"""The 育儿补贴 skeleton in Debian's chromium: each role logs in and does its step."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_childcare_skeleton_in_the_browser(page: Any, live_server: Any, personas: Personas,
                                          tmp_path: Path) -> None:
    from huimin.cases.models import Case
    from huimin.payments import actions as pay_actions
    from huimin.payments.models import PaymentBatch

    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 20))

        login(page, base, "cadre_a")
        shot(page, "skeleton-01-cadre-home")
        page.click("text=受理育儿补贴申请")
        page.fill("#child", fam.child.id_number)
        page.fill("#applicant", fam.mother.id_number)
        shot(page, "skeleton-02-cadre-intake")
        page.click("button:has-text('受理')")
        page.wait_for_selector("[data-testid=state]")
        assert page.inner_text("[data-testid=state]") == "待乡镇初审"
        assert "3,600.00 元" in page.inner_text("[data-testid=amount]")
        assert "12 个月 × 300 元" in page.content()
        shot(page, "skeleton-03-case-submitted")
        case = Case.objects.get(subject=fam.child)
        logout(page)

        login(page, base, "township")
        page.click(f"text={case.number}")
        page.fill("#comment", "材料齐全，同意")
        page.click("button:has-text('乡镇初审通过')")
        page.wait_for_selector("text=已乡镇初审通过")
        assert page.inner_text("[data-testid=state]") == "待县级确认"
        shot(page, "skeleton-04-township-approved")
        logout(page)

        login(page, base, "county")
        page.click(f"text={case.number}")
        page.click("button:has-text('县级确认通过')")
        page.wait_for_selector("text=已县级确认通过")
        assert page.inner_text("[data-testid=state]") == "已确认，待发放"
        shot(page, "skeleton-05-county-confirmed")
        logout(page)

        login(page, base, "finance")
        page.click("nav >> text=发放")
        page.click("button:has-text('冻结应发明细')")
        page.wait_for_selector("[data-testid=payable]")
        assert page.inner_text("[data-testid=payable]") == "1"
        page.click("button:has-text('生成发放批次')")
        page.wait_for_selector("[data-testid=batch-state]")
        assert page.inner_text("[data-testid=batch-state]") == "待审核放行"
        shot(page, "skeleton-06-batch")
        batch_url = page.url
        logout(page)

        login(page, base, "county")  # a second person releases the batch
        page.goto(batch_url)
        page.click("[data-testid=release]")
        page.wait_for_selector("text=已放行")
        logout(page)

        login(page, base, "finance")
        page.goto(batch_url)
        page.click("[data-testid=export]")  # a POST: the batch moves to exported
        page.wait_for_selector("[data-testid=download]")
        with page.expect_download() as info:
            page.click("[data-testid=download]")
        bank_file = tmp_path / "bank.csv"
        info.value.save_as(bank_file)
        assert "3600.00" in bank_file.read_text(encoding="utf-8")
        batch = PaymentBatch.objects.get()
        ret = tmp_path / "return.csv"
        ret.write_bytes(pay_actions.sample_return(batch))
        page.reload()
        page.set_input_files("#file", str(ret))
        page.click("button:has-text('导入回盘')")
        page.wait_for_selector("text=回盘已导入")
        assert page.inner_text("[data-testid=batch-state]") == "已回盘"
        shot(page, "skeleton-07-return-imported")
        logout(page)

        login(page, base, "cadre_a")
        page.goto(f"{base}/cases/{case.pk}/")
        assert page.inner_text("[data-testid=state]") == "已发放"
        shot(page, "skeleton-08-case-paid")
