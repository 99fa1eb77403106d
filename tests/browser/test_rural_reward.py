"""奖励扶助 in Debian's chromium: intake by the village, village review and posting, an
objection found unfounded, then township and county approval — a screenshot of each page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas, artifacts_dir
from tests.web.cases_helpers import make_rural_couple

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")


def state(page: Any) -> str:
    return str(page.inner_text("[data-testid=state]"))


def test_rural_reward_from_intake_to_county_approval(page: Any, live_server: Any,
                                                     personas: Personas,
                                                     settings: Any, tmp_path: Path) -> None:
    from huimin.cases.models import Case, Notice

    settings.MEDIA_ROOT = tmp_path / "media"
    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=SH)) as clock:
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)

        # the village cadre records the application
        login(page, base, "cadre_a")
        shot(page, "rural-reward-01-cadre-home")
        page.click("text=受理奖励扶助申请")
        page.fill("#subject", couple.husband.id_number)
        page.check("input[name=policy_status_confirmed]")
        shot(page, "rural-reward-02-intake")
        page.click("button:has-text('受理')")
        page.wait_for_selector("[data-testid=state]")
        assert state(page) == "待村级审核"
        assert "960.00" in page.inner_text("[data-testid=amount]")
        shot(page, "rural-reward-03-submitted")
        case = Case.objects.get(subject=couple.husband)

        # village review, then the village posting
        page.fill("#comment", "经村民代表评议，符合条件")
        page.click("button:has-text('村级审核通过')")
        page.wait_for_selector("text=已村级审核通过")
        assert state(page) == "待乡镇审核"
        shot(page, "rural-reward-04-village-approved")
        page.goto(f"{base}/notices/new/")
        page.select_option("#program", "rural-reward")
        page.fill("#objection_info", "四香村委会办公室，电话 0663-6612345，工作日 8:30–17:30")
        shot(page, "rural-reward-05-notice-form")
        page.click("button:has-text('发布')")
        page.wait_for_selector("[data-testid=period]")
        assert page.inner_text("[data-testid=period]") == "2026-06-15 至 2026-06-21"
        body = page.content()
        assert "李**" in body and "李大山" not in body
        shot(page, "rural-reward-06-village-notice")
        notice = Notice.objects.get()
        pdf = page.request.get(f"{base}/notices/{notice.pk}/pdf/")
        assert pdf.ok and pdf.body()[:5] == b"%PDF-"
        (artifacts_dir() / "rural-reward-village-notice.pdf").write_bytes(pdf.body())

        # an objection during the posting, checked and found unfounded
        clock.move_to(datetime(2026, 6, 17, 10, 0, tzinfo=SH))
        page.goto(f"{base}/cases/{case.pk}/")
        page.fill("#content", "听说其儿子户口已迁出，家庭情况可能与申报不符")
        page.click("button:has-text('登记异议')")
        page.wait_for_selector("text=已登记公示异议")
        assert page.inner_text("[data-testid=objection-status]") == "待核实"
        shot(page, "rural-reward-07-objection-recorded")
        page.fill("textarea[name=finding]", "经入户核实并查询户籍，其子户口仍在本村，异议不成立")
        page.click("button:has-text('异议不成立')")
        page.wait_for_selector("text=已记录：异议不成立")
        assert page.inner_text("[data-testid=objection-status]") == "异议不成立"
        shot(page, "rural-reward-08-objection-resolved")
        logout(page)

        # the township acts once the posting has ended
        clock.move_to(datetime(2026, 6, 22, 9, 0, tzinfo=SH))
        login(page, base, "township")
        assert case.number in page.inner_text("[data-testid=worklist]")
        shot(page, "rural-reward-09-township-worklist")
        page.click(f"text={case.number}")
        page.fill("#comment", "材料齐全，同意")
        page.click("button:has-text('乡镇审核通过')")
        page.wait_for_selector("text=已乡镇审核通过")
        assert state(page) == "待县级审批"
        shot(page, "rural-reward-10-township-approved")
        page.goto(f"{base}/notices/new/")
        page.fill("#objection_info", "惠城镇卫健办，电话 0663-6600000")
        page.click("button:has-text('发布')")
        page.wait_for_selector("[data-testid=period]")
        shot(page, "rural-reward-11-township-notice")
        logout(page)

        # the county approves after the township posting
        clock.move_to(datetime(2026, 6, 29, 9, 0, tzinfo=SH))
        login(page, base, "county")
        page.click(f"text={case.number}")
        page.fill("#comment", "同意")
        page.click("button:has-text('县级审批通过')")
        page.wait_for_selector("text=已县级审批通过")
        assert state(page) == "已确认，待发放"
        shot(page, "rural-reward-12-county-approved")
        letter = page.request.get(page.get_attribute("[data-testid=letter]", "href")
                                  .replace("/cases", f"{base}/cases", 1))
        assert letter.ok and letter.body()[:5] == b"%PDF-"
        (artifacts_dir() / "rural-reward-decision-letter.pdf").write_bytes(letter.body())
        logout(page)

    case.refresh_from_db()
    assert case.state == "approved"
    assert list(case.decisions.values_list("level", "outcome")) == [
        ("village", "submitted"), ("village", "approved"), ("township", "approved"),
        ("county", "approved")]
