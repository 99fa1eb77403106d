"""A death in Debian's chromium: the county loads the civil-affairs file, previews and
confirms the effects; the child's paid case is stopped with its months recalculated, the
overpaid months become a recoverable amount, finance records its repayment, and the books
stay balanced at every step. Each feeds page is photographed at 1366 and 390 px."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas, make_family, new_id
from tests.web.feeds_helpers import BIRTH, childcare_case, csv_bytes, death_file, pay

pytestmark = [pytest.mark.browser, pytest.mark.also_postgres,
              pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")
WIDTHS = (1366, 390)


def both(page: Any, name: str, *, own: bool = True) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"feeds-{name}-{width}")
        if width == 390 and own:  # nothing but the tables' own boxes scrolls sideways on a phone
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name}: the page is {overflow} px wider than the phone"
    page.set_viewport_size({"width": 1366, "height": 900})


def test_death_from_feed_file_to_stopped_case_and_recovery(page: Any, live_server: Any,
                                                           personas: Personas,
                                                           tmp_path: Path) -> None:
    from huimin.cases.models import Case
    from huimin.payments import reconcile
    from huimin.payments.models import Recovery

    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=SH)):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))
        case = childcare_case(personas, fam)
        batch = pay(personas)
        c = fam.child
        deaths = tmp_path / "民政死亡数据.csv"
        deaths.write_bytes(death_file([
            ["MZ-2026-0001", c.id_number, c.name, "2026-03-05", "惠来县殡葬管理所", "HH01"],
            ["MZ-2026-0002", new_id(date(1950, 1, 1), "M"), "无此人", "2026-03-01", "", ""],
            ["MZ-2026-0003", c.id_number, "王某", "2026-03-05", "", ""]], encoding="gbk"))
        births = tmp_path / "出生医学证明.csv"
        births.write_bytes(csv_bytes(BIRTH, [[
            "CS-1", new_id(date(2026, 4, 1), "F"), "林小花", "女", "2026-04-01",
            fam.mother.id_number, fam.father.id_number, "", "Q440001"]]))

        login(page, base, "county")
        page.click("nav >> text=数据比对")
        both(page, "01-index")
        page.select_option("#kind", "death")
        page.set_input_files("#file", str(deaths))
        page.click("button:has-text('上传并比对')")
        page.wait_for_selector("text=共 3 行：匹配 1，未匹配 1，隔离 1")
        assert c.id_number not in page.content()
        both(page, "02-file")
        page.goto(f"{base}/feeds/rows/?status=quarantined")
        assert "与登记的姓名不一致" in page.content()
        both(page, "03-quarantined")
        page.goto(f"{base}/feeds/")
        page.select_option("#kind", "birth")
        page.set_input_files("#file", str(births))
        page.click("button:has-text('上传并比对')")
        page.wait_for_selector("text=共 1 行：匹配 1")

        page.goto(f"{base}/feeds/effects/")
        both(page, "04-effects")
        page.check("input[name=effect] >> nth=0")
        page.check("input[name=effect] >> nth=1")
        page.click("button:has-text('预览所选事项')")
        page.wait_for_selector("text=确认前预览")
        assert "应追回 2,700.00 元" in page.content()
        both(page, "05-preview")
        page.fill("#note", "民政死亡数据，经核实")
        page.click("button:has-text('确认以上')")
        page.wait_for_selector("text=已确认 2 项")

        case.refresh_from_db()
        assert (case.state, case.months, case.amount_fen) == ("stopped", 3, 90000)
        rec = Recovery.objects.get(case=case)
        assert rec.amount_fen == 270000
        batch.cycle.refresh_from_db()
        report = reconcile.reconcile(batch.cycle)
        assert report.all_ok, [v.cause for v in report.variances]
        page.goto(f"{base}/cases/{case.pk}/")
        assert "已停发" in page.content()
        page.goto(f"{base}/registry/households/{fam.child.household_id}/")
        assert "确认比对处理事项" in page.content()
        both(page, "06-household", own=False)  # the registry's page

        other = page.context.browser.new_context(locale="zh-CN")
        login_as_cadre = other.new_page()
        login(login_as_cadre, base, "cadre_a")
        login_as_cadre.goto(f"{base}/feeds/offers/")
        assert "陈秀英 家新生儿（尚未登记）" in login_as_cadre.content()
        both(login_as_cadre, "07-offers")
        other.close()
        page.goto(f"{base}/feeds/tokens/")
        page.fill("#label", "民政殡葬系统")
        page.click("button:has-text('签发令牌')")
        page.wait_for_selector("text=令牌只显示这一次")
        both(page, "08-tokens")
        assert Case.objects.filter(subject=fam.child).count() == 1

        # finance records the family's repayment on the recoveries page: the receivable closes
        # and the books still balance
        logout(page)
        login(page, base, "finance")
        page.click("nav >> text=追回")
        page.wait_for_selector("[data-testid=recoveries]")
        page.click(f"text={rec.number}")
        page.fill("#repay-amount", "2700")
        page.fill("#repay-receipt", "HL2026061501")
        page.click("[data-testid=repay]")
        page.wait_for_selector("text=退缴已登记")
        assert page.inner_text("[data-testid=recovery-state]") == "已结清"
        both(page, "09-repaid")
        rec.refresh_from_db()
        assert rec.balance_fen == 0
        batch.cycle.refresh_from_db()
        report = reconcile.reconcile(batch.cycle)
        assert report.all_ok, [v.cause for v in report.variances]
