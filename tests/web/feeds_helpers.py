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


def older_family(actor: Any, village: str, *, father_born: date, mother_born: date,
                 child_born: date, surname: str = "陈") -> Any:
    """A couple with one child (the couple programs), built through the registry actions."""
    from huimin.registry import actions
    from huimin.registry.models import Area, Household
    from tests.conftest import ID_SEQ, Family, new_id

    area = Area.objects.get(code=village)
    hh = Household.objects.create(number=f"{village}-{next(ID_SEQ):05d}", area=area,
                                  hukou_type="rural")

    def person(name: str, sex: str, born: date) -> Any:
        return actions.create_person(actor, name=name, id_number=new_id(born, sex), sex=sex,
                                     birth_date=born, area=area, hukou_type="rural",
                                     household=hh)

    father = person(surname + "大伯", "M", father_born)
    mother = person("黄秀兰", "F", mother_born)
    child = person(surname + "小军", "M", child_born)
    actions.link_parent(father, child, "father")
    actions.link_parent(mother, child, "mother")
    account = actions.add_bank_account(actor, mother, bank_name="惠来农商银行",
                                       account=f"62310000{next(ID_SEQ):011d}")
    return Family(father, mother, child, account)


def apply_for(personas: Any, code: str, subject: Any, year: int = 2026,
              **facts: Any) -> Any:
    program = Program.objects.get(code=code)
    return case_actions.submit_application(personas.cadre_a, program=program, subject=subject,
                                           claim_year=year, facts=facts)


def pay(personas: Any, program_code: str = "childcare-subsidy", year: int = 2026) -> Any:
    """Build the county's cycle, a batch, release, export and a bank return paying all."""
    from huimin.payments import actions as pay_actions

    program = Program.objects.get(code=program_code)
    cycle = pay_actions.build_cycle(personas.finance, program=program, claim_year=year)
    batch = pay_actions.create_batch(personas.finance, cycle)
    pay_actions.release_batch(personas.county, batch)
    pay_actions.export_batch(personas.finance, batch)
    pay_actions.import_return(personas.finance, batch, pay_actions.sample_return(batch))
    return batch


def feeds_world(w: Any) -> Any:
    """For the authorization matrix: a death file of the submitted case's child, loaded by
    the county; an offer (a newborn of the same mother); a token. Built once per world."""
    cached = getattr(w, "_feeds", None)
    if cached is not None:
        return cached
    from types import SimpleNamespace

    from huimin.accounts.models import User
    from huimin.registry.models import Area
    from huimin.verification import tokens
    from huimin.verification.models import Effect
    from tests.conftest import new_id

    county = User.objects.get(username="county")
    child = w.submitted.subject
    mother = w.submitted.applicant
    death = load(county, death_file([["MX1", child.id_number, child.name, "2026-03-05", "",
                                      ""]]))
    number = new_id(date(2026, 4, 1), "F")
    load(county, csv_bytes(BIRTH, [["MB1", number, "郑小花", "女", "2026-04-01",
                                    mother.id_number, "", "", "N1"]]), kind="birth")
    offer = Effect.objects.get(kind="offer", person=mother)
    token, _ = tokens.issue_token(county, label="民政", source="civil_affairs",
                                  area=Area.objects.get(code="445224000000"))
    w._feeds = SimpleNamespace(file=death.file, offer=offer, token=token)
    return w._feeds


def balanced(cycle: Any) -> None:
    """The ledger agrees with the detail, the bank and the cases (帐帐、帐实、帐票相符)."""
    from huimin.payments import reconcile

    cycle.refresh_from_db()
    report = reconcile.reconcile(cycle)
    assert report.all_ok, [v.cause for v in report.variances]
