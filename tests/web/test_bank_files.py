"""Bank returns and statements as banks send them (tests/data/returns/, tests/data/statements/).

The files are literal rows in each bank's columns, encoding and words: returns without a
control row, or with a ``合计`` row of count and total only, amounts as ``3600``,
``3,600.00`` or numeric XLSX cells; a statement (对账单) per shipped layout, other business
of the account included. Each is imported into batch PB202604711 built through actions.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import openpyxl
import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden
from huimin.lib.sheets import MAX_ERRORS
from huimin.payments import actions as pay
from huimin.payments import bankfile, reconcile
from huimin.payments.models import BankReturn, BankStatement, LineStatus
from tests.conftest import Personas
from tests.web.test_bank_returns import RETURNS, SH, _exported, documented_checksum

pytestmark = pytest.mark.django_db
STATEMENTS = RETURNS.parent / "statements"
WHEN = datetime(2026, 6, 15, 10, 0, tzinfo=SH)
STD = bankfile.get_layout("standard-csv")

#: layout, the return as the bank sends it, the second line's outcome and reason
VARIANTS = [
    ("standard-csv", "standard-csv-no-control.csv", LineStatus.FAILED, "账户已冻结"),
    ("rcc-gbk-csv", "rcc-gbk-csv-count-total.csv", LineStatus.FAILED, "收款账户已冻结"),
    ("abc-xlsx", "abc-xlsx-numeric.xlsx", LineStatus.RETURNED, "收款账户已销户，资金退回"),
]
#: layout, its checksummed return (test_bank_returns), its statement
STATEMENT_FILES = [
    ("standard-csv", "standard-csv.csv", "standard-csv.csv"),
    ("rcc-gbk-csv", "rcc-gbk-csv.csv", "rcc-gbk-csv.csv"),
    ("abc-xlsx", "abc-xlsx.xlsx", "abc-xlsx.xlsx"),
]


def _returned(personas: Personas, layout: str, name: str) -> Any:
    with time_machine.travel(WHEN, tick=False):
        batch = _exported(personas, layout)
        pay.import_return(personas.finance, batch, (RETURNS / name).read_bytes())
    batch.refresh_from_db()
    return batch


# --- returns ----------------------------------------------------------------------------


def test_every_shipped_layout_has_a_return_variant_and_a_statement() -> None:
    assert sorted(code for code, *_ in VARIANTS) == sorted(bankfile.layouts())
    assert sorted(code for code, *_ in STATEMENT_FILES) == sorted(bankfile.layouts())
    for layout in bankfile.layouts().values():
        assert {"reference", "debit"} <= {c.field for c in layout.statement_columns}


def test_the_variants_are_written_as_banks_write_them() -> None:
    """What makes each file a variant, read from the file itself (not the project's reader)."""
    std = list(csv.reader(io.StringIO((RETURNS / VARIANTS[0][1]).read_text("utf-8"))))
    assert std[-1][0] != "合计" and [r[2] for r in std[1:]] == ["3600", "3,600.00"]
    rcc = list(csv.reader(io.StringIO((RETURNS / VARIANTS[1][1]).read_bytes().decode("gbk"))))
    assert rcc[-1][:4] == ["合计", "2", "7,200.00", ""]  # count and total, no checksum
    book = openpyxl.load_workbook(RETURNS / VARIANTS[2][1])
    cells = [[c.value for c in row] for row in book["代付明细"].iter_rows()]
    assert all(isinstance(r[2], int | float) for r in cells[1:3])  # numeric cells
    assert cells[-1][:4] == ["合计", 2, 7200, None]


@pytest.mark.parametrize("layout, name, outcome, reason", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_a_return_without_a_checksum_imports(personas: Personas, layout: str, name: str,
                                             outcome: str, reason: str) -> None:
    batch = _returned(personas, layout, name)
    first, second = batch.lines.order_by("seq")
    assert (first.status, second.status, second.bank_reason) == (LineStatus.PAID, outcome,
                                                                  reason)
    ret = BankReturn.objects.get(batch=batch)
    assert (ret.line_count, ret.total_fen, ret.paid_fen) == (2, 720000, 360000)
    assert batch.state == "returned"


def test_a_control_row_without_checksum_is_still_checked(personas: Personas) -> None:
    text = (RETURNS / "rcc-gbk-csv-count-total.csv").read_bytes().decode("gbk")
    with time_machine.travel(WHEN, tick=False):
        batch = _exported(personas, "rcc-gbk-csv")
        with pytest.raises(FileRejected) as info:
            pay.import_return(personas.finance, batch,
                              text.replace('合计,2,"7,200.00"', "合计,3,7200.01").encode("gbk"))
    assert {(e.row, e.column) for e in info.value.errors} == {(4, "笔数"), (4, "金额")}
    assert not BankReturn.objects.filter(batch=batch).exists()
    assert set(batch.lines.values_list("status", flat=True)) == {LineStatus.PENDING}


def test_a_checksum_when_present_is_checked(personas: Personas) -> None:
    rows = [["流水号", "账号", "金额", "处理结果", "失败原因"],
            ["PB202604711-000001", "6228480012345678901", "3600", "成功", ""],
            ["PB202604711-000002", "6228480012345678901", "3600", "成功", ""]]
    good = documented_checksum(rows)
    def file(checksum: str) -> bytes:
        buf = io.StringIO()
        csv.writer(buf).writerows([*rows, ["合计", "2", "7200", checksum, ""]])
        return buf.getvalue().encode()
    parsed = bankfile.parse_return(STD, file("SHA256:" + good))
    assert parsed.problems == [] and parsed.totals.checksum == good
    bad = bankfile.parse_return(STD, file("SHA256:" + "0" * 64))
    assert [(p.row, p.column) for p in bad.problems] == [(4, "校验码")]


@pytest.mark.parametrize("amount, fen", [("3600", 360000), ("3600.5", 360050),
                                         ("3,600.00", 360000), ("1,234,567.89", 123456789),
                                         (" 3600.00 ", 360000)])
def test_amounts_as_banks_write_them(amount: str, fen: int) -> None:
    assert bankfile.read_amount(amount) == fen


@pytest.mark.parametrize("amount, words", [("3,60.00", "千位分隔符"), ("36,00", "千位分隔符"),
                                           ("３６００", "半角"), ("3600.001", "最多两位小数")])
def test_amounts_banks_do_not_write_are_refused_naming_the_row(amount: str, words: str) -> None:
    data = ("流水号,账号,金额,处理结果,失败原因\n"
            f'PB202604711-000001,6228480012345678901,"{amount}",成功,\n').encode()
    with pytest.raises(FileRejected) as info:
        bankfile.parse_return(STD, data)
    (e,) = info.value.errors
    assert (e.row, e.column) == (2, "金额") and words in e.reason


def test_grouped_amounts_take_the_column_wise_path() -> None:
    rows = [["流水号", "账号", "金额", "处理结果", "失败原因"],
            ["PB202604711-000001", "6228480012345678901", "3,600.00", "成功", ""]]
    buf = io.StringIO()
    csv.writer(buf).writerows([*rows, ["合计", "1", "3,600.00", "", ""]])
    cols = bankfile.read_return_columns(STD, buf.getvalue().encode())
    assert cols is not None and cols.amount_fen.to_pylist() == [360000]
    assert cols.totals.count == 1


# --- statements -------------------------------------------------------------------------


@pytest.mark.parametrize("layout, ret, name", STATEMENT_FILES, ids=[s[0] for s in STATEMENT_FILES])
def test_a_statement_in_each_layout_agrees_with_the_books(personas: Personas, layout: str,
                                                          ret: str, name: str) -> None:
    batch = _returned(personas, layout, ret)
    data = (STATEMENTS / name).read_bytes()
    st = pay.import_statement(personas.finance, batch, data)
    assert (st.agrees, st.mismatches, st.debit_fen, st.books_fen) == (True, [], 360000, 360000)
    assert st.other_rows == {"standard-csv": 2, "rcc-gbk-csv": 1, "abc-xlsx": 0}[layout]
    event = AuditEvent.objects.get(action="batch.import_statement")
    assert event.data["statement"] == st.pk and event.data["agrees"] is True
    # the same file again: the statement kept, no second event
    assert pay.import_statement(personas.finance, batch, data).pk == st.pk
    assert AuditEvent.objects.filter(action="batch.import_statement").count() == 1


def _statement(*rows: str) -> bytes:
    return ("交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n" + "\n".join(rows) + "\n").encode()


def test_each_mismatch_is_named_and_kept(personas: Personas) -> None:
    batch = _returned(personas, "standard-csv", "standard-csv.csv")  # line 1 paid, 2 failed
    data = _statement(
        "2026-06-15,PB202604711-000001,6228480012345678901,3000.00,,代发",
        "2026-06-15,PB202604711-000002,6228480012345678901,3600.00,,代发",
        "2026-06-15,PB202604711-000009,6228480012345678901,10.00,,代发",
        "2026-06-15,PB202604711-00000X,6228480012345678901,1.00,,代发",
        "2026-06-15,PB209900001-000001,6228480012345678901,5.00,,其他批次")
    st = pay.import_statement(personas.finance, batch, data)
    assert not st.agrees
    assert (st.rows, st.other_rows, st.debit_fen, st.books_fen) == (4, 1, 661100, 360000)
    got = {(m["row"], m["reference"]): m["reason"] for m in st.mismatches}
    assert got == {
        (4, "PB202604711-000009"): "批次中没有此流水号（净支出 10.00 元）",
        (5, "PB202604711-00000X"): "批次中没有此流水号（净支出 1.00 元）",
        (2, "PB202604711-000001"): "对账单净支出 3000.00 元，账上已支付 3600.00 元",
        (3, "PB202604711-000002"): "账上为「支付失败」，对账单净支出 3600.00 元",
        (None, "合计"): "对账单本批次净支出 6611.00 元，账上已发放 3600.00 元",
    }
    # the reconciliation page lists them
    assert batch.cycle is not None
    causes = [v.cause for v in reconcile.reconcile(batch.cycle).variances]
    assert "银行对账单与账上不符：对账单净支出 3000.00 元，账上已支付 3600.00 元" in causes


def test_a_paid_line_missing_and_a_wrong_account_are_named(personas: Personas) -> None:
    batch = _returned(personas, "standard-csv", "standard-csv.csv")  # line 1 paid, 2 failed
    missing = pay.import_statement(personas.finance, batch, _statement(
        "2026-06-20,JX20260620,,,15.37,结息"))
    assert missing.mismatches == [
        {"row": None, "reference": "PB202604711-000001",
         "reason": "账上已支付 3600.00 元，对账单没有这笔支出"},
        {"row": None, "reference": "合计",
         "reason": "对账单本批次净支出 0.00 元，账上已发放 3600.00 元"}]
    wrong = pay.import_statement(personas.finance, batch, _statement(
        "2026-06-15,PB202604711-000001,6228480000000000000,3600.00,,代发"))
    assert wrong.mismatches == [{"row": 2, "reference": "PB202604711-000001",
                                 "reason": "对方账号与批次的收款账号不符"}]
    assert not wrong.agrees and BankStatement.objects.filter(batch=batch).count() == 2


def test_statement_rows_are_refused_whole_with_row_and_column() -> None:
    data = _statement(
        "2026-06-15,PB202604711-000001,6228480012345678901,,,代发",  # neither
        "2026-06-15,PB202604711-000001,6228480012345678901,-5.00,,代发",  # negative
        "2026-06-15,PB202604711-000001,6228480012345678901,3600,abc,代发",  # bad credit
        "2026-06-15,PB202604711-000001",  # short
        ",,,,,",  # blank: passed over
        "合计,,,1.00,x,")
    with pytest.raises(FileRejected) as info:
        bankfile.parse_statement(STD, data)
    assert [(e.row, e.column) for e in info.value.errors] == [
        (2, "借方金额"), (3, "借方金额"), (4, "贷方金额"), (5, "整行"), (7, "合计借方金额"),
        (7, "合计贷方金额")]
    assert "均为空" in info.value.errors[0].reason and "负数" in info.value.errors[1].reason
    assert "不符" in info.value.errors[4].reason


def test_a_statement_header_must_be_the_layouts() -> None:
    with pytest.raises(FileRejected) as info:
        bankfile.parse_statement(STD, "日期,金额\n".encode())
    assert info.value.errors[0].column == "表头" and "交易日期" in info.value.message
    with pytest.raises(FileRejected):
        bankfile.parse_statement(STD, b"")


def test_a_statement_stops_looking_after_enough_errors() -> None:
    bad = ["2026-06-15,R,,x,,"] * (MAX_ERRORS + 10)
    with pytest.raises(FileRejected) as info:
        bankfile.parse_statement(STD, _statement(*bad, "", ""))
    assert len(info.value.errors) == MAX_ERRORS


def test_a_layout_statement_without_account_or_credit() -> None:
    doc: dict[str, Any] = {
        "code": "t", "format": "csv", "columns": [{"field": "reference"}],
        "return_columns": [{"field": f} for f in ("reference", "account", "amount", "result")],
        "results": {"paid": ["成功"], "failed": ["失败"], "returned": ["退汇"]}}
    plain = bankfile.parse_layout(doc)
    assert plain.statement_columns == ()
    with pytest.raises(ActionError, match="未定义对账单格式"):
        bankfile.parse_statement(plain, b"x")
    with pytest.raises(bankfile.LayoutError, match="缺少 debit"):
        bankfile.parse_layout({**doc, "statement_columns": [{"field": "reference"}]})
    lay = bankfile.parse_layout({**doc, "statement_columns": [
        {"field": "reference", "header": "流水号"}, {"field": "debit", "header": "支出"}]})
    parsed = bankfile.parse_statement(lay, "流水号,支出\nA-1,3600\n合计,3600\n".encode())
    assert parsed.lines == [bankfile.StatementLine(2, "A-1", "", 360000, 0)]
    assert (parsed.debit_fen, parsed.credit_fen) == (360000, 0)
    parsed = bankfile.parse_statement(lay, "流水号,支出\nA-1,3600\n合计\n".encode())
    assert parsed.debit_fen == 360000  # a 合计 row that declares nothing


def test_statement_refusals_change_nothing(personas: Personas) -> None:
    batch = _returned(personas, "standard-csv", "standard-csv.csv")
    with pytest.raises(FileRejected):
        pay.import_statement(personas.finance, batch, _statement("x,y,z,abc,,"))
    with pytest.raises(Forbidden, match="财务人员"):
        pay.import_statement(personas.county, batch, _statement())
    with pytest.raises(Forbidden, match="管辖范围"):
        pay.import_statement(personas.finance_b, batch, _statement())
    assert not BankStatement.objects.exists()
    assert not AuditEvent.objects.filter(action="batch.import_statement").exists()


def test_a_statement_of_a_batch_not_sent_is_refused(personas: Personas) -> None:
    with time_machine.travel(WHEN, tick=False):
        batch = _exported(personas, "standard-csv")
    from huimin.payments.models import BatchState, PaymentBatch

    PaymentBatch.objects.filter(pk=batch.pk).update(state=BatchState.RELEASED)
    with pytest.raises(Conflict, match="尚未送银行"):
        pay.import_statement(personas.finance, batch, _statement())
    assert not BankStatement.objects.exists()


def test_statement_files_exist_for_every_layout() -> None:
    assert sorted(p.name for p in STATEMENTS.iterdir()) == sorted(
        n for *_, n in STATEMENT_FILES)


HEAD = "流水号,账号,金额,处理结果,失败原因\n"
LINE = "PB202604711-000001,6228480012345678901,3600,成功,\n"


def test_an_unreadable_control_row_is_refused_naming_it() -> None:
    for control in ("合计,x,3600,,\n", "合计,1,三千,,\n"):
        data = (HEAD + LINE + control).encode()
        assert bankfile.read_return_columns(STD, data) is None
        with pytest.raises(FileRejected) as info:
            bankfile.parse_return(STD, data)
        assert [(e.row, e.column) for e in info.value.errors] == [(3, "合计")]


def test_a_return_header_must_be_the_layouts_and_trailing_blank_rows_do_not_count() -> None:
    with pytest.raises(FileRejected) as info:
        bankfile.parse_return(STD, ("流水号,金额\n" + LINE).encode())
    assert info.value.errors[0].column == "表头"
    parsed = bankfile.parse_return(STD, (HEAD + LINE + ",,,,\n,,,,\n").encode())
    assert (len(parsed.lines), parsed.totals.count, parsed.problems) == (1, 1, [])


def test_a_return_stops_looking_after_enough_errors() -> None:
    bad = "PB202604711-000001,6228480012345678901,abc,成功,\n" * (MAX_ERRORS + 5)
    with pytest.raises(FileRejected) as info:
        bankfile.parse_return(STD, (HEAD + bad).encode())
    assert len(info.value.errors) == MAX_ERRORS


def test_the_column_wise_reader_leaves_unknown_words_and_missing_reasons_to_rows() -> None:
    for line in ("PB202604711-000001,6228480012345678901,3600,也许,\n",
                 "PB202604711-000001,6228480012345678901,3600,失败,\n"):
        assert bankfile.read_return_columns(STD, (HEAD + line + "合计,1,3600,,\n").encode()) \
            is None
