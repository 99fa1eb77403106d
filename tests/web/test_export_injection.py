"""Finding 3: a payee or bank named like a formula goes out as text in every bank layout and
export, and control characters in names are refused at entry."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from huimin.cases import actions as case_actions
from huimin.errors import ActionError, FileRejected
from huimin.payments import actions as pay
from huimin.payments import bankfile, reconcile
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from huimin.registry import importer
from huimin.registry.models import Area, BankAccount, Household, Person
from huimin.rules.whatif import WhatIfRow, export_excel
from tests.conftest import VILLAGE_A, Personas, new_id

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
PAYEE = '=HYPERLINK("http://x","y")'
BANK = "=cmd|' /C calc'!A0"


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def batch_paying(personas: Personas, layout: str) -> pay.PaymentBatch:
    """An exported batch of one line whose payee and bank are named like formulas."""
    actor = personas.cadre_a
    area = Area.objects.get(code=VILLAGE_A)
    hh = Household.objects.create(number=f"{VILLAGE_A}-7001", area=area, hukou_type="rural")

    def person(name: str, sex: str, born: date) -> Person:
        return registry_actions.create_person(
            actor, name=name, id_number=new_id(born, sex), sex=sex, birth_date=born, area=area,
            hukou_type="rural", household=hh)

    mother = person(PAYEE, "F", date(1992, 7, 8))
    child = person("+林小宝", "F", date(2024, 3, 3))
    registry_actions.link_parent(mother, child, "mother")
    account = registry_actions.add_bank_account(actor, mother, bank_name=BANK,
                                                account="6228480012345678901")
    program = Program.objects.get(code="childcare-subsidy")
    case = case_actions.submit_application(actor, program=program, subject=child,
                                           claim_year=2026, applicant=mother,
                                           bank_account=account)
    case_actions.township_review(personas.township, case, approve=True)
    case_actions.county_confirm(personas.county, case, approve=True)
    cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
    batch = pay.create_batch(personas.finance, cycle, layout=layout)
    pay.release_batch(personas.county, batch)
    return batch


@pytest.mark.parametrize("layout", sorted(bankfile.layouts()))
def test_a_formula_named_payee_goes_out_as_text(personas: Personas, layout: str) -> None:
    batch = batch_paying(personas, layout)
    spec = bankfile.get_layout(layout)
    data = pay.export_batch(personas.finance, batch)
    headers = [c.header for c in spec.columns]
    fields = [c.field for c in spec.columns]
    if spec.format == "xlsx":
        wb = load_workbook(io.BytesIO(data))  # formulas kept, not evaluated
        ws = wb[spec.sheet]
        rows = list(ws.iter_rows(min_row=1, max_row=2))
        assert [c.value for c in rows[0]] == headers
        line = rows[1]
        assert {c.data_type for c in line} == {"s"}  # every cell text, none a formula
        values = [c.value for c in line]
        assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    else:
        values = list(csv.reader(io.StringIO(data.decode(spec.encoding))))[1]
    cell = dict(zip(fields, values, strict=True))
    assert cell["payee_name"] == "'" + PAYEE
    if "bank_name" in cell:
        assert cell["bank_name"] == "'" + BANK
    assert cell["account"] == "6228480012345678901"  # numbers are never touched
    assert not cell["amount"].startswith("'")
    # the bank's return for it still reads back and settles the batch
    summary = pay.import_return(personas.finance, batch, pay.sample_return(batch))
    assert summary["paid"] == 1
    assert reconcile.reconcile(batch.cycle).all_ok


def test_the_reconciliation_workbook_has_no_formula(personas: Personas) -> None:
    batch = batch_paying(personas, "standard-csv")
    pay.export_batch(personas.finance, batch)
    wb = load_workbook(io.BytesIO(reconcile.to_xlsx(reconcile.reconcile(batch.cycle))))
    types = {c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if c.value is not None}
    assert "f" not in types and "s" in types


def test_the_what_if_workbook_writes_the_title_as_text(tmp_path: Path) -> None:
    out = tmp_path / "w.xlsx"
    export_excel([WhatIfRow("445224100", 2026, 1, 100, 2, 300)], out, "=HYPERLINK(\"x\")")
    ws = load_workbook(out).active
    assert ws is not None
    assert ws["A1"].data_type == "s" and ws["A1"].value == "'=HYPERLINK(\"x\")"
    assert ws["B3"].value == 2026 and ws["D3"].data_type == "n"


def test_a_name_with_a_newline_is_refused_at_entry(personas: Personas) -> None:
    area = Area.objects.get(code=VILLAGE_A)
    with pytest.raises(ActionError, match=r"姓名：.*U\+000A"):
        registry_actions.create_person(
            personas.cadre_a, name="张\n三", id_number=new_id(date(1990, 1, 1), "M"), sex="M",
            birth_date=date(1990, 1, 1), area=area, hukou_type="rural")
    assert not Person.objects.exists()
    row = [f"{VILLAGE_A}-7002", "李\r\n四", new_id(date(1990, 1, 1), "M"), "男", "1990-01-01",
           VILLAGE_A, "农业", "", "", "", "中国\t银行", "6228480012345678901"]
    with pytest.raises(FileRejected) as info:
        importer.import_registry(personas.cadre_a, importer.rows_to_csv([row]), "x.csv")
    columns = {e.column for e in info.value.errors}
    assert {"姓名", "开户银行"} <= columns
    assert not Person.objects.exists()


@pytest.mark.parametrize("bad", ["中国\n银行", "银行\x00", "\u202e行银国中", "中国\u2028银行"])
def test_a_bank_name_with_a_control_character_is_refused(personas: Personas, bad: str) -> None:
    area = Area.objects.get(code=VILLAGE_A)
    person = registry_actions.create_person(
        personas.cadre_a, name="张三", id_number=new_id(date(1990, 1, 1), "M"), sex="M",
        birth_date=date(1990, 1, 1), area=area, hukou_type="rural")
    with pytest.raises(ActionError, match=r"开户银行：.*控制字符"):
        registry_actions.add_bank_account(personas.cadre_a, person, bank_name=bad,
                                          account="6228480012345678901")
    assert not BankAccount.objects.exists()
