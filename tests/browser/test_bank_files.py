"""Bank files in chromium: a batch whose names GBK cannot write is checked, refused at
release with every line listed, cancelled on the page and its cases put in a new batch; a
returned batch's statement is imported and its result shown; the re-download asks first.
Screenshots at 1366 and 390 px."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")
SIZES = ((1366, 900), (390, 844))


def _approved(personas: Personas, names: list[str]) -> list[Any]:
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program
    from huimin.registry.models import Person

    program = Program.objects.get(code="childcare-subsidy")
    cases = []
    for i, name in enumerate(names):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2 + i, 2))
        Person.objects.filter(pk=fam.mother.pk).update(name=name)
        case = case_actions.submit_application(
            personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
            applicant=fam.mother, bank_account=fam.account)
        case_actions.township_review(personas.township, case, approve=True)
        cases.append(case_actions.county_confirm(personas.county, case, approve=True))
    return cases


def test_a_stuck_batch_is_checked_and_cancelled_on_the_page(page: Any, live_server: Any,
                                                            personas: Personas) -> None:
    from huimin.cases.models import Case
    from huimin.payments import actions as pay
    from huimin.programs.models import Program

    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=SH)):
        cases = _approved(personas, ["𠮷秀英", "林秀兰", "陈䶮"])
        cycle = pay.build_cycle(personas.finance, program=Program.objects.get(
            code="childcare-subsidy"), claim_year=2026)
        batch = pay.create_batch(personas.finance, cycle, layout="rcc-gbk-csv")
        login(page, base, "county")
        url = f"{base}/payments/{batch.pk}/"
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(url)
            assert page.locator("[data-testid=check] tr").count() == 3  # header + 2 lines
            shot(page, f"batch-check-{width}")
        page.click("[data-testid=release]")
        assert "不能放行" in page.inner_text("[data-testid=rejected]")
        shot(page, "batch-release-refused-390")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(url)
        page.fill("#cancel-reason", "户名含生僻字，农信社格式无法写出")
        page.click("[data-testid=cancel]")
        page.wait_for_selector("[data-testid=cancelled]")
        shot(page, "batch-cancelled-1366")
        assert {c.state for c in Case.objects.filter(pk__in=[c.pk for c in cases])} == {
            "approved"}
        logout(page)
        again = pay.create_batch(personas.finance, cycle, layout="standard-csv")
        assert again.line_count == 3


def test_a_statement_and_the_confirmed_download(page: Any, live_server: Any,
                                                personas: Personas) -> None:
    from huimin.payments import actions as pay
    from huimin.programs.models import Program

    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=SH)):
        _approved(personas, ["林秀兰", "黄美玲"])
        cycle = pay.build_cycle(personas.finance, program=Program.objects.get(
            code="childcare-subsidy"), claim_year=2026)
        batch = pay.create_batch(personas.finance, cycle)
        pay.release_batch(personas.county, batch)
        pay.export_batch(personas.finance, batch)
        first, second = batch.lines.order_by("seq")
        pay.import_return(personas.finance, batch,
                          pay.sample_return(batch, {second.reference: "账户已冻结"}))
        statement = ("交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
                     f"2026-06-15,{first.reference},,{first.amount_fen / 100:.2f},,代发\n"
                     f"2026-06-15,{second.reference},,{second.amount_fen / 100:.2f},,代发\n"
                     "2026-06-15,HF001,,2.00,,手续费\n")
        login(page, base, "finance")
        page.goto(f"{base}/payments/{batch.pk}/")
        page.set_input_files("#statement-file", files=[{
            "name": "对账单.csv", "mimeType": "text/csv", "buffer": statement.encode()}])
        page.click("[data-testid=statement]")
        page.wait_for_selector("[data-testid=statement-result]")
        assert "账上为「支付失败」" in page.inner_text("[data-testid=statement-result]")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{base}/payments/{batch.pk}/")
            shot(page, f"batch-statement-{width}")
            page.goto(f"{base}/payments/{batch.pk}/bank-file")
            assert "回盘" in page.inner_text("[data-testid=returned-warning]")
            shot(page, f"download-confirm-{width}")
        with page.expect_download() as info:
            page.click("[data-testid=confirm-download]")
        assert info.value.suggested_filename == f"{batch.number}.csv"
