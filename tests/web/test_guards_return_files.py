"""A bank return that cannot be read is refused whole, naming the row and column, and nothing
changes (``huimin.payments.bankfile.parse_return`` through ``import_return``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.errors import FileRejected
from huimin.payments import actions as pay
from huimin.payments import bankfile
from huimin.payments.models import LineStatus, PaymentBatch
from tests.conftest import Personas
from tests.web import test_guards
from tests.web.test_payments import cycle_of, world

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def exported(personas: Personas, layout: str = "standard-csv") -> PaymentBatch:
    world(personas, 2)
    batch = pay.create_batch(personas.finance, cycle_of(personas), layout=layout)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    batch.refresh_from_db()
    return batch


def refused(personas: Personas, batch: PaymentBatch, data: bytes, message: str) -> Any:
    before = test_guards.snapshot()
    with pytest.raises(FileRejected, match=message) as info:
        pay.import_return(personas.finance, batch, data)
    assert test_guards.snapshot() == before
    return info.value


def rows(batch: PaymentBatch) -> list[str]:
    return pay.sample_return(batch).decode("utf-8").split("\r\n")


def test_unreadable_csv_returns_are_refused(personas: Personas) -> None:
    batch = exported(personas)
    good = rows(batch)
    assert good[-1] == "" and good[-2].startswith("合计,")
    refused(personas, batch, b"\xff\xfe\xfa\xfb not utf-8", "文件编码无法识别（此格式应为 UTF-8）")
    refused(personas, batch, "\r\n".join(["a,b,c,d,e", *good[1:]]).encode(), "回盘文件表头不符")
    *_, trailer, _end = good
    bad_count = trailer.replace("合计,2,", "合计,二,", 1)
    refused(personas, batch, "\r\n".join([*good[:-2], bad_count, ""]).encode(), "控制行无法识别")
    cells = trailer.split(",")
    bad_total = ",".join([cells[0], cells[1], "12.345", *cells[3:]])
    refused(personas, batch, "\r\n".join([*good[:-2], bad_total, ""]).encode(), "控制行无法识别")
    wrong_count = ",".join([cells[0], "3", *cells[2:]])
    exc = refused(personas, batch, "\r\n".join([*good[:-2], wrong_count, ""]).encode(),
                  "整个文件未导入")
    assert any(e.column == "笔数" and "控制行笔数 3 与明细 2 笔不符" in e.reason
               for e in exc.errors)
    first = good[1].split(",")
    first[2] = "1.005"
    exc = refused(personas, batch, "\r\n".join([good[0], ",".join(first), *good[2:]]).encode(),
                  "整个文件未导入")
    assert [(e.row, e.column) for e in exc.errors] == [(2, "金额")]


def test_blank_rows_after_the_control_row_are_ignored(personas: Personas) -> None:
    batch = exported(personas)
    data = pay.sample_return(batch) + b",,,,\r\n,,,,\r\n"
    pay.import_return(personas.finance, batch, data)
    assert set(batch.lines.values_list("status", flat=True)) == {LineStatus.PAID}


def test_an_xlsx_return_that_is_no_workbook_is_refused(personas: Personas,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    batch = exported(personas, "abc-xlsx")
    refused(personas, batch, b"just text, not a workbook", "不是有效的 XLSX 文件")
    good = pay.sample_return(batch)
    monkeypatch.setattr(bankfile, "RETURN_MAX_BYTES", len(good) - 1)
    refused(personas, batch, good, "文件超过 0 MB")


def test_workbook_cells_read_as_the_bank_wrote_them() -> None:
    assert bankfile._cell(None) == ""
    assert bankfile._cell(300.0) == "300"
    assert bankfile._cell(300.5) == "300.5"
    assert bankfile._cell(0.1) == "0.1"
    assert bankfile._cell("6228480012345678901") == "6228480012345678901"
