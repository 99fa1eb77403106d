"""Batches that cannot go out (a name outside GBK in a GBK layout): checked before release,
every offending line named; written in another layout, or cancelled with their cases freed.
And a returned batch's file is handed out again only after a confirmation naming the day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden
from huimin.payments import actions as pay
from huimin.payments import ledger
from huimin.payments.models import BatchState, LineStatus, PaymentBatch, PaymentLine
from huimin.registry.models import Person
from tests.conftest import VILLAGE_A, Personas, make_family
from tests.web.test_payments import approved, assert_books_clean, cycle_of

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 6, 15, 10, 0, tzinfo=SH)


def _families(personas: Personas, names: list[str]) -> list[Case]:
    cases = []
    for i, name in enumerate(names):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2 + i, 2))
        Person.objects.filter(pk=fam.mother.pk).update(name=name)  # older data, before checks
        cases.append(approved(personas, fam))
    return cases


def stuck(personas: Personas, layout: str = "rcc-gbk-csv") -> tuple[PaymentBatch, list[Case]]:
    """A draft batch of three cases, the first and third payees' names outside GBK."""
    cases = _families(personas, ["𠮷秀英", "林秀兰", "陈䶮"])
    cycle = cycle_of(personas)
    return pay.create_batch(personas.finance, cycle, layout=layout), cases


def released_anyway(personas: Personas, batch: PaymentBatch) -> None:
    """A batch released before the check existed (how 18 cases stayed 发放中 for good)."""
    PaymentBatch.objects.filter(pk=batch.pk).update(
        state=BatchState.RELEASED, released_by=personas.county, released_at=timezone.now())
    batch.refresh_from_db()


def test_the_check_names_every_line_the_layout_cannot_write(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    problems = pay.check_batch(batch)
    assert [(e.row, e.column) for e in problems] == [(2, "户名"), (4, "户名")]
    assert f"{batch.number}-000001「𠮷秀英」中的「𠮷」不在 GBK 字符集内" == problems[0].reason
    assert "「䶮」" not in problems[1].reason or "陈䶮" in problems[1].reason
    assert pay.check_batch(batch, "standard-csv") == []
    assert pay.check_batch(batch, "abc-xlsx") == []


def test_release_refuses_with_the_list(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    with pytest.raises(FileRejected) as info:
        pay.release_batch(personas.county, batch)
    assert "2 处无法按「农村信用社代发格式（CSV，GBK）」写出，不能放行" in info.value.message
    assert [e.row for e in info.value.errors] == [2, 4]
    batch.refresh_from_db()
    assert batch.state == BatchState.DRAFT and batch.released_by is None
    assert not AuditEvent.objects.filter(action="batch.release").exists()


def test_another_layout_lets_the_batch_go_out(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    released_anyway(personas, batch)
    with pytest.raises(FileRejected):
        pay.export_batch(personas.finance, batch)
    done = pay.relayout_batch(personas.finance, batch, layout="standard-csv",
                              note="户名含生僻字，改用 UTF-8")
    assert (done.layout, done.state) == ("standard-csv", BatchState.RELEASED)
    event = AuditEvent.objects.get(action="batch.relayout")
    assert event.data == {"old": "rcc-gbk-csv", "new": "standard-csv",
                          "note": "户名含生僻字，改用 UTF-8", "state": "released"}
    assert "𠮷秀英" in pay.export_batch(personas.finance, batch).decode()


def test_relayout_refusals_change_nothing(personas: Personas) -> None:
    batch, _cases = stuck(personas, layout="standard-csv")
    cases = [
        (personas.county, "rcc-gbk-csv", "x", Forbidden, "只有财务人员"),
        (personas.finance, "no-such", "x", ActionError, "未知的银行文件格式"),
        (personas.finance, "abc-xlsx", "  ", ActionError, "更换说明"),
        (personas.finance, "standard-csv", "x", ActionError, "已是「通用格式"),
        (personas.finance, "rcc-gbk-csv", "x", FileRejected, "仍有 2 处无法写出"),
        (personas.finance_b, "abc-xlsx", "x", Forbidden, "管辖范围"),
    ]
    for actor, layout, note, error, words in cases:
        with pytest.raises(error, match=words):
            pay.relayout_batch(actor, batch, layout=layout, note=note)
    batch.refresh_from_db()
    assert batch.layout == "standard-csv"
    assert not AuditEvent.objects.filter(action="batch.relayout").exists()


def test_cancel_frees_the_cases_for_a_new_batch(personas: Personas) -> None:
    with time_machine.travel(WHEN, tick=False):
        batch, cases = stuck(personas)
        released_anyway(personas, batch)
        assert {c.state for c in Case.objects.filter(pk__in=[c.pk for c in cases])} == {
            "in_payment"}
        n = pay.cancel_batch(personas.county, batch, reason="户名含生僻字无法导出")
    assert n == 3
    batch.refresh_from_db()
    assert (batch.state, batch.line_count, batch.total_fen) == (BatchState.CANCELLED, 0, 0)
    assert batch.cancel_reason == "户名含生僻字无法导出" and batch.cancelled_at == WHEN
    assert not PaymentLine.objects.filter(batch=batch).exists()
    assert {c.state for c in Case.objects.filter(pk__in=[c.pk for c in cases])} == {"approved"}
    cancel = AuditEvent.objects.get(action="batch.cancel")
    assert (cancel.data["lines"], cancel.data["total_fen"], cancel.data["cases_freed"],
            cancel.data["state_before"]) == (3, sum(c.amount_fen for c in cases), 3, "released")
    unbatched = AuditEvent.objects.filter(action="payment.unbatch").order_by("case_id")
    assert [e.case_id for e in unbatched] == sorted(c.pk for c in cases)
    assert {e.data["line"] for e in unbatched} == {f"{batch.number}-{s:06d}" for s in (1, 2, 3)}
    assert {(e.data["old"], e.data["new"]) for e in unbatched} == {("in_payment", "approved")}
    assert batch.cycle is not None
    assert_books_clean(batch.cycle)
    again = pay.create_batch(personas.finance, batch.cycle, layout="standard-csv")
    assert again.line_count == 3 and again.total_fen == sum(c.amount_fen for c in cases)
    assert_books_clean(batch.cycle)


def test_a_case_whose_earlier_line_failed_goes_back_to_failed(personas: Personas) -> None:
    (case,) = _families(personas, ["林秀兰"])
    cycle = cycle_of(personas)
    first = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, first)
    pay.export_batch(personas.finance, first)
    line = first.lines.get()
    pay.import_return(personas.finance, first,
                      pay.sample_return(first, {line.reference: "账户已冻结"}))
    pay.correct_line(personas.finance, line, bank_account=line.bank_account, note="已核实")
    second = pay.create_batch(personas.finance, cycle)
    assert pay.cancel_batch(personas.finance, second, reason="重新生成") == 1
    case.refresh_from_db()
    assert case.state == "payment_failed"
    assert_books_clean(cycle)
    assert pay.create_batch(personas.finance, cycle).line_count == 1


def test_cancel_refusals_change_nothing(personas: Personas) -> None:
    batch, cases = stuck(personas, layout="standard-csv")
    for actor, reason, error, words in [
        (personas.auditor, "x", Forbidden, "只有财务人员或县级审批人"),
        (personas.finance, " ", ActionError, "作废原因"),
        (personas.county_b, "x", Forbidden, "管辖范围"),
    ]:
        with pytest.raises(error, match=words):
            pay.cancel_batch(actor, batch, reason=reason)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    with pytest.raises(Conflict, match="只有尚未导出的批次可以作废"):
        pay.cancel_batch(personas.finance, batch, reason="x")
    batch.refresh_from_db()
    assert batch.state == BatchState.EXPORTED and batch.line_count == 3
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases])
               .values_list("state", flat=True)) == {"in_payment"}
    assert not AuditEvent.objects.filter(action__in=["batch.cancel", "payment.unbatch"]).exists()


def test_a_cancelled_batch_has_no_file(personas: Personas) -> None:
    batch, _cases = stuck(personas, layout="standard-csv")
    pay.cancel_batch(personas.finance, batch, reason="建错了")
    with pytest.raises(Conflict, match="已作废"):
        pay.export_batch(personas.finance, batch)
    with pytest.raises(Conflict, match="已作废"):
        pay.download_bank_file(personas.finance, batch)
    with pytest.raises(Conflict, match="只有尚未导出的批次可以更换"):
        pay.relayout_batch(personas.finance, batch, layout="abc-xlsx", note="x")


def _returned(personas: Personas) -> tuple[PaymentBatch, bytes]:
    _families(personas, ["林秀兰"])
    with time_machine.travel(WHEN, tick=False):
        batch = pay.create_batch(personas.finance, cycle_of(personas))
        pay.release_batch(personas.county, batch)
        data = pay.export_batch(personas.finance, batch)
    with time_machine.travel(datetime(2026, 6, 18, 23, 30, tzinfo=SH), tick=False):
        pay.import_return(personas.finance, batch, pay.sample_return(batch))
    batch.refresh_from_db()
    return batch, data


def test_a_returned_batch_is_downloaded_only_when_confirmed(personas: Personas) -> None:
    batch, data = _returned(personas)
    assert pay.returned_on(batch) == "2026-06-18"  # Shanghai's day, not UTC's
    for call in (lambda: pay.export_batch(personas.finance, batch),
                 lambda: pay.download_bank_file(personas.finance, batch)):
        with pytest.raises(Conflict, match="已于 2026-06-18 回盘"):
            call()
    assert not AuditEvent.objects.filter(action="batch.download").exists()
    assert pay.download_bank_file(personas.finance, batch, confirm_returned=True) == data
    event = AuditEvent.objects.get(action="batch.download")
    assert event.data["after_return"] is True and event.data["n"] == 1


def test_cli_commands(personas: Personas, tmp_path: Any) -> None:
    from huimin.cli import app

    runner = CliRunner()
    batch, _cases = stuck(personas)
    result = runner.invoke(app, ["payments", "check-batch", "--batch", str(batch.pk)])
    assert result.exit_code == 1 and "有 2 处无法写出" in result.output
    assert "第 2 行「户名」" in result.output
    result = runner.invoke(app, ["payments", "check-batch", "--batch", str(batch.pk),
                                 "--layout", "standard-csv"])
    assert result.exit_code == 0 and "可按「standard-csv」写出" in result.output
    result = runner.invoke(app, ["payments", "check-batch", "--batch", str(batch.pk),
                                 "--layout", "nope"])
    assert result.exit_code == 1 and "未知的银行文件格式" in result.output
    result = runner.invoke(app, ["payments", "relayout-batch", "--user", "finance", "--batch",
                                 str(batch.pk), "--layout", "abc-xlsx", "--note", "生僻字"])
    assert result.exit_code == 0, result.output
    assert PaymentBatch.objects.get(pk=batch.pk).layout == "abc-xlsx"
    result = runner.invoke(app, ["payments", "relayout-batch", "--user", "county", "--batch",
                                 str(batch.pk), "--layout", "standard-csv", "--note", "x"])
    assert result.exit_code == 1 and "只有财务人员" in result.output
    result = runner.invoke(app, ["payments", "cancel-batch", "--user", "auditor", "--batch",
                                 str(batch.pk), "--reason", "x"])
    assert result.exit_code == 1
    result = runner.invoke(app, ["payments", "cancel-batch", "--user", "county", "--batch",
                                 str(batch.pk), "--reason", "重新生成"])
    assert result.exit_code == 0 and "3 笔移出" in result.output
    assert PaymentBatch.objects.get(pk=batch.pk).state == BatchState.CANCELLED


def test_cli_statement_and_confirmed_download(personas: Personas, tmp_path: Any) -> None:
    from huimin.cli import app

    runner = CliRunner()
    batch, data = _returned(personas)
    line = batch.lines.get()
    assert line.status == LineStatus.PAID
    out = tmp_path / "again.csv"
    result = runner.invoke(app, ["payments", "export", "--user", "finance", "--batch",
                                 str(batch.pk), "--out", str(out)])
    assert result.exit_code == 1 and "已于 2026-06-18" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["payments", "export", "--user", "finance", "--batch",
                                 str(batch.pk), "--out", str(out), "--confirm-returned"])
    assert result.exit_code == 0 and out.read_bytes() == data
    account = line.bank_account
    from huimin.registry.crypto import box

    number = box().unseal(account.account_sealed)
    good = tmp_path / "st.csv"
    good.write_text("交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
                    f"2026-06-16,{line.reference},{number},{line.amount_fen / 100:.2f},,代发\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["payments", "import-statement", "--user", "finance",
                                 "--batch", str(batch.pk), str(good)])
    assert result.exit_code == 0 and "帐实相符" in result.output, result.output
    bad = tmp_path / "st2.csv"
    bad.write_text("交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n", encoding="utf-8")
    result = runner.invoke(app, ["payments", "import-statement", "--user", "finance",
                                 "--batch", str(batch.pk), str(bad)])
    assert result.exit_code == 1 and "对账单没有这笔支出" in result.output
    result = runner.invoke(app, ["payments", "import-statement", "--user", "county",
                                 "--batch", str(batch.pk), str(bad)])
    assert result.exit_code == 1 and "只有财务人员" in result.output
    assert ledger.balances(batch.cycle) == ledger.rebuild_from_events(batch.cycle)


def test_pending_work_for_the_home_page(personas: Personas) -> None:
    from huimin.payments import pending

    batch, _cases = stuck(personas)
    assert pending.unwritable_batches(personas.finance) == [(batch, 2)]
    assert pending.unwritable_batches(personas.county) == [(batch, 2)]
    assert pending.unwritable_batches(personas.finance_b) == []  # another county
    assert pending.unwritable_batches(personas.auditor) == []  # nothing to do about it
    pay.relayout_batch(personas.finance, batch, layout="standard-csv", note="生僻字")
    assert pending.unwritable_batches(personas.finance) == []


def test_pending_statements_that_disagree(personas: Personas) -> None:
    from huimin.payments import pending

    batch, _data = _returned(personas)
    header = "交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
    bad = pay.import_statement(personas.finance, batch, header.encode())
    assert pending.disagreeing_statements(personas.auditor) == [bad]
    assert pending.disagreeing_statements(personas.county_b) == []
    assert pending.disagreeing_statements(personas.cadre_a) == []
    line = batch.lines.get()
    pay.import_statement(personas.finance, batch, (
        header + f"2026-06-16,{line.reference},,{line.amount_fen / 100:.2f},,代发\n").encode())
    assert pending.disagreeing_statements(personas.finance) == []  # the latest agrees


def test_the_home_page_shows_stuck_batches_and_disagreeing_statements(
        personas: Personas) -> None:
    from django.test import Client
    from django.urls import reverse

    from huimin.front.tiles import collect

    batch, _cases = stuck(personas)
    tiles = {t.key: t for t in collect(personas.finance)}
    tile = tiles["payments.unwritable"]
    assert tile.count == 1 and tile.url == reverse("payments:detail", args=[batch.pk])
    assert "2 行无法" in tile.note
    assert "payments.unwritable" in {t.key for t in collect(personas.county)}
    assert "payments.unwritable" not in {t.key for t in collect(personas.finance_b)}
    client = Client()
    client.force_login(personas.finance)
    page = client.get(reverse("home")).content.decode()
    assert "银行文件无法生成的批次" in page
    pay.relayout_batch(personas.finance, batch, layout="standard-csv", note="生僻字")
    assert "payments.unwritable" not in {t.key for t in collect(personas.finance)}
    returned, _data = _returned(personas)
    header = "交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
    pay.import_statement(personas.finance, returned, header.encode())
    differs = {t.key: t for t in collect(personas.auditor)}["payments.statement_differs"]
    assert differs.count == 1
    assert differs.url == reverse("payments:detail", args=[returned.pk])
