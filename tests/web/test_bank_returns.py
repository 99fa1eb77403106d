"""Bank returns written as the bank writes them, one per shipped layout (tests/data/returns/).

The files were not made by the project's writer: each is literal rows in the bank's columns,
encoding and result words, ending in the control row ``合计, count, total, SHA256:…``. The test
checks that control row against the documented definition (layouts/README.md: SHA-256 of the
header and detail rows, cells joined by U+001F, each row ended by a newline, UTF-8) computed
here with hashlib, then imports the file into a batch numbered as the file says.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.db import connection

from huimin.cases import actions as case_actions
from huimin.errors import FileRejected
from huimin.payments import actions as pay
from huimin.payments.models import BankReturn, LineStatus, PaymentBatch
from huimin.programs.models import Program
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
RETURNS = Path(__file__).resolve().parent.parent / "data" / "returns"
BATCH_ID = 4711  # the files answer batch PB202604711
#: layout, file, encoding, the second line's outcome and the bank's reason for it
FILES = [
    ("standard-csv", "standard-csv.csv", "utf-8", LineStatus.FAILED, "账户已冻结"),
    ("rcc-gbk-csv", "rcc-gbk-csv.csv", "gbk", LineStatus.FAILED, "收款人姓名与账户户名不一致"),
    ("abc-xlsx", "abc-xlsx.xlsx", None, LineStatus.RETURNED, "收款账户已销户，资金退回"),
]


def rows_of(path: Path, encoding: str | None) -> list[list[str]]:
    if encoding is None:
        book = openpyxl.load_workbook(path, read_only=True)
        return [["" if v is None else str(v) for v in row]
                for row in book["代付明细"].iter_rows(values_only=True)]
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding))))


def documented_checksum(rows: list[list[str]]) -> str:
    text = "".join("\x1f".join(row) + "\n" for row in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_every_shipped_layout_has_a_hand_written_return() -> None:
    from huimin.payments import bankfile

    assert sorted(bankfile.layouts()) == sorted(code for code, *_ in FILES)


@pytest.mark.parametrize("layout, name, encoding, outcome, reason", FILES,
                         ids=[f[0] for f in FILES])
def test_control_row_follows_the_documented_definition(layout: str, name: str,
                                                       encoding: str | None, outcome: str,
                                                       reason: str) -> None:
    rows = rows_of(RETURNS / name, encoding)
    *body, control = rows
    assert control[0] == "合计"
    assert int(control[1]) == len(body) - 1  # the header is not a line
    total = sum(int(r[2].replace(".", "")) for r in body[1:])
    assert control[2] == f"{total // 100}.{total % 100:02d}"
    assert control[3] == "SHA256:" + documented_checksum(body)


def _next_batch_id(pk: int) -> None:
    """Number the next batch as the bank's file expects (PB2026 + 04711)."""
    table = PaymentBatch._meta.db_table
    assert not PaymentBatch.objects.filter(pk__gte=pk).exists()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                        [table, pk])
        else:
            cur.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                        [table, pk - 1])


def _exported(personas: Personas, layout: str) -> Any:
    program = Program.objects.get(code="childcare-subsidy")
    for i, surname in enumerate(("林", "郑")):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2 + i, 2), surname=surname)
        assert fam.account.account_masked.endswith("8901")
        case = case_actions.submit_application(
            personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
            applicant=fam.mother, bank_account=fam.account)
        case_actions.township_review(personas.township, case, approve=True)
        case_actions.county_confirm(personas.county, case, approve=True)
    cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
    _next_batch_id(BATCH_ID)
    batch = pay.create_batch(personas.finance, cycle, layout=layout)
    assert batch.number == "PB202604711"
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    batch.refresh_from_db()
    return batch


@pytest.mark.parametrize("layout, name, encoding, outcome, reason", FILES,
                         ids=[f[0] for f in FILES])
def test_hand_written_return_is_imported(personas: Personas, layout: str, name: str,
                                         encoding: str | None, outcome: str,
                                         reason: str) -> None:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        batch = _exported(personas, layout)
        data = (RETURNS / name).read_bytes()
        counts = pay.import_return(personas.finance, batch, data)
    assert counts == {"paid": 1, "failed": int(outcome == LineStatus.FAILED),
                      "returned": int(outcome == LineStatus.RETURNED), "unchanged": 0}
    first, second = batch.lines.order_by("seq")
    assert (first.status, first.bank_reason) == (LineStatus.PAID, "")
    assert (second.status, second.bank_reason) == (outcome, reason)
    assert first.case.state == "paid"
    assert second.case.state == "payment_failed"
    ret = BankReturn.objects.get(batch=batch)
    assert ret.sha256 == hashlib.sha256(data).hexdigest()
    assert (ret.line_count, ret.total_fen, ret.paid_count, ret.paid_fen) == (2, 720000, 1,
                                                                             360000)


def test_a_changed_byte_breaks_the_documented_checksum(personas: Personas) -> None:
    """The same standard return with one amount altered (and the control total adjusted):
    the checksum no longer fits the rows, and the file is refused whole."""
    text = (RETURNS / "standard-csv.csv").read_text(encoding="utf-8")
    altered = text.replace("3600.00,失败", "3600.01,失败").replace("7200.00", "7200.01")
    rows = list(csv.reader(io.StringIO(altered)))
    assert rows[-1][3] != "SHA256:" + documented_checksum(rows[:-1])
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        batch = _exported(personas, "standard-csv")
        with pytest.raises(FileRejected) as info:
            pay.import_return(personas.finance, batch, altered.encode("utf-8"))
    assert {(e.row, e.column) for e in info.value.errors} >= {(3, "金额"), (4, "校验码")}
    assert not BankReturn.objects.filter(batch=batch).exists()
    assert set(batch.lines.values_list("status", flat=True)) == {LineStatus.PENDING}
