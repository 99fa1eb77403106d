"""Shared data for the feed tests: families with cases, built through actions, and files."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from huimin.cases import actions as case_actions
from huimin.programs.models import Program
from huimin.verification import ingest

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SH)


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


DEATH = ["event_id", "id_number", "name", "death_date", "source_org", "certificate_no"]
MOVE = ["event_id", "id_number", "name", "moved_on", "to_code"]
BIRTH = ["event_id", "child_id_number", "child_name", "sex", "birth_date", "mother_id_number",
         "father_id_number", "household_number", "certificate_no"]
DISABILITY = ["event_id", "id_number", "name", "certificate_no", "grade", "issued_on"]


def death_file(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return csv_bytes(DEATH, rows, encoding)


def childcare_case(personas: Any, fam: Any, year: int = 2026, *, approve: bool = True) -> Any:
    program = Program.objects.get(code="childcare-subsidy")
    case = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=year,
        applicant=fam.mother, bank_account=fam.account)
    if approve:
        case = case_actions.township_review(personas.township, case, approve=True)
        case = case_actions.county_confirm(personas.county, case, approve=True)
    return case


def load(actor: Any, data: bytes, kind: str = "death", name: str = "f.csv",
         source: str = "") -> ingest.Summary:
    return ingest.ingest_file(actor, data, name, kind=kind, source=source, via="cli")


def today() -> date:
    return NOW.date()
