"""Hypothesis against the HTML forms: random POSTs to the main forms, as the role that uses
them, through the Django test client.

No answer may be a server error, and a refused submission (a re-rendered form with its
errors, or a redirect with an error message) leaves the database as it was: the same number
of rows in every table of the project, the same cases in the same states, and no new audit
event other than reads. Each example runs in a savepoint rolled back afterwards, so the
examples of a test all start from the world the test built. The suite's second pass
(bin/test) runs this on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.apps import apps
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cases import bulk
from huimin.cases.models import Case, Objection
from huimin.payments import actions as pay
from huimin.payments import bankfile
from huimin.payments.holds import hold_case
from huimin.programs.models import DocumentType, Program
from huimin.registry import importer
from huimin.verification import formats
from tests.conftest import COUNTY, VILLAGE_A, VILLAGE_B, Family, Personas, make_family, new_id
from tests.web import changes_helpers, feeds_helpers, payments_helpers
from tests.web.cases_helpers import apply_rural, make_rural_couple

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
# HUIMIN_FUZZ_EXAMPLES: more examples for a longer search by hand (CI runs the default)
FUZZ = hsettings(max_examples=int(os.environ.get("HUIMIN_FUZZ_EXAMPLES", "25")), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])
# reads are logged even when the form is refused (the page shows the person again)
READS = (Q(action__endswith=".view") | Q(action__endswith="_view") | Q(action__endswith=".list")
         | Q(action__endswith=".search") | Q(action__startswith="login"))
MODELS = [m for m in apps.get_models()
          if m.__module__.startswith("huimin.") and m is not AuditEvent]


def frozen() -> Any:
    """The day every example is sent on: 2026-06-17, 10:00 in Shanghai."""
    return time_machine.travel(datetime(2026, 6, 17, 10, 0, tzinfo=SH), tick=False)


# -- values -------------------------------------------------------------------------------

# any text a browser can send, and often the characters that break things: NUL (which
# PostgreSQL refuses in text and JSON), line breaks, tabs, bidirectional overrides
SHARP = "\x00\n\r\t\u2028\u202e\ufeff =+-'\"\\%_林a1"
junk = st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
                 st.text(st.sampled_from(SHARP), min_size=1, max_size=8))
digits = st.text("0123456789", min_size=0, max_size=22)
dates = st.one_of(st.dates(date(1890, 1, 1), date(2100, 12, 31)).map(str),
                  st.sampled_from(["2026-02-30", "2026-6-1", "0000-00-00", "9999-12-31",
                                   "２０２６-０１-０１", "2026-01-01T00:00", ""]),
                  junk)
ints = st.one_of(st.integers(-2**70, 2**70).map(str), st.sampled_from(["", "1e3", "0x10",
                                                                         "１", " 7 ", "-0"]))


def one_of_or_junk(*values: Any) -> Any:
    return st.one_of(st.sampled_from([str(v) for v in values]), junk)


def form(**fields: Any) -> Any:
    """A dict strategy: each field left out or one of its values."""
    return st.fixed_dictionaries({}, optional=fields)


DROP = object()


@st.composite
def mutated(draw: Any, base: dict[str, Any], alts: dict[str, Any]) -> dict[str, Any]:
    """A form that would be accepted (``base``) with up to three fields changed to one of
    their other values (``alts``; random text when none is given) or left out."""
    keys = sorted(set(base) | set(alts))
    out = dict(base)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        value = draw(st.one_of(alts.get(key, junk), st.just(DROP)))
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def encode(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


def workbook(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append([cell.translate(NO_CONTROLS) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


NAMES = st.sampled_from(["right", "right", "right", ".csv", ".xlsx", "", ".txt"])


def file_name(stem: str, body: bytes, how: str) -> str:
    """The name of an upload: its content's extension (``right``), or another."""
    if how == "right":
        how = ".xlsx" if body[:2] == b"PK" else ".csv"
    return stem + how


# what openpyxl cannot write into a cell
NO_CONTROLS = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}


@st.composite
def damaged(draw: Any, rows: list[list[str]], cells: list[str]) -> bytes:
    """A file that would be accepted (``rows``, the header first) with a few cells, rows or
    bytes damaged, in another encoding, or random bytes instead."""
    rows = [list(r) for r in rows]
    cell = st.one_of(st.sampled_from(cells), junk, digits, ints)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["cell", "cell", "drop", "copy", "widen", "narrow"]))
        i = draw(st.integers(0, len(rows) - 1))
        if how == "cell" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(cell)
        elif how == "drop":
            del rows[i]
            if not rows:
                break
        elif how == "copy":
            rows.insert(i, list(rows[i]))
        elif how == "widen":
            rows[i].append(draw(cell))
        elif rows[i]:
            rows[i].pop()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gbk", "xlsx"]))
    data = workbook(rows) if encoding == "xlsx" else encode(rows, encoding)
    tail = draw(st.sampled_from(["whole", "whole", "cut", "byte", "random"]))
    if tail == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    elif tail == "byte" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=1)) + data[at + 1:]
    elif tail == "random":
        data = draw(st.binary(max_size=600))
    return data


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# -- the check --------------------------------------------------------------------------

def state() -> dict[str, Any]:
    out: dict[str, Any] = {m.__name__: m._default_manager.count() for m in MODELS}
    out["AuditEvent (writes)"] = AuditEvent.objects.exclude(READS).count()
    out["cases"] = sorted(Case.objects.values_list("id", "state", "version"))
    return out


def succeeded(resp: Any) -> bool:
    """A redirect, or a page (the imports show their summary), with a success or warning
    message and no error; or a statement kept with its mismatches (an error message that
    reports a completed import)."""
    if resp.status_code >= 400:
        return False
    queued = said(resp)
    if any(str(m).startswith("对账单已核对") for m in queued):
        return True
    return (any(m.level in (messages.SUCCESS, messages.WARNING) for m in queued)
            and not any(m.level >= messages.ERROR for m in queued))


def post(client: Client, url: str, data: dict[str, Any]) -> Any:
    """One example: the POST, in a savepoint rolled back afterwards; a refusal must leave
    every table as it was."""
    with transaction.atomic():
        before = state()
        resp = client.post(url, data)
        assert resp.status_code < 500, resp.content.decode()[:2000]
        if not succeeded(resp):
            assert state() == before, (resp.status_code, _said(resp))
        transaction.set_rollback(True)
    client.cookies.pop("messages", None)
    return resp


def said(resp: Any) -> list[Any]:
    """The messages of this request: those a redirect carries and those its page showed
    (the messages of earlier examples went with their cookie and their rolled-back
    session)."""
    return list(messages.get_messages(resp.wsgi_request))


def _said(resp: Any) -> list[str]:
    out = [str(m) for m in said(resp)]
    ctx = getattr(resp, "context", None)
    if ctx is not None:
        out += [str(e) for e in (ctx.get("errors") or [])]
        out += [str(ctx.get("rejected") or "")]
    return out


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- registry ---------------------------------------------------------------------------

def test_person_registration(personas: Personas, family_a: Family) -> None:
    fam = family_a
    mother = new_id(date(1991, 1, 2), "F")
    child = new_id(date(2025, 3, 4), "M")
    client = login(personas.cadre_a)
    new = {"name": "蔡思琪", "id_number": mother, "sex": "女", "birth_date": "1991-01-02",
           "area_code": VILLAGE_A, "hukou_type": "农业", "household": "", "new_household": "1",
           "death_date": "", "father_id": "", "mother_id": "", "bank_name": "农村商业银行",
           "account": "6230000011112223"}
    born = {**new, "name": "林乐乐", "id_number": child, "sex": "男", "birth_date": "2025-03-04",
            "household": fam.mother.household.number, "new_household": "0",
            "father_id": fam.father.id_number, "mother_id": fam.mother.id_number,
            "bank_name": "", "account": ""}
    alts = {"name": one_of_or_junk("林" * 60, " ", "A\x00B"),
            "id_number": one_of_or_junk(mother.lower(), fam.mother.id_number, mother[:17],
                                        "1" * 18, child),
            "sex": one_of_or_junk("男", "女", "M", "F"), "birth_date": dates,
            "area_code": one_of_or_junk(VILLAGE_A, VILLAGE_B, COUNTY, "44522410020"),
            "hukou_type": one_of_or_junk("农业", "非农业", "rural"),
            "household": one_of_or_junk(fam.mother.household.number, "445224100201-9"),
            "new_household": one_of_or_junk("1", "0"), "death_date": dates,
            "father_id": one_of_or_junk(fam.father.id_number, fam.mother.id_number, mother),
            "mother_id": one_of_or_junk(fam.mother.id_number, fam.child.id_number, mother),
            "bank_name": one_of_or_junk("农村商业银行", "银" * 200),
            "account": st.one_of(digits, junk)}

    @FUZZ
    @given(st.one_of(mutated(new, alts), mutated(born, alts)))
    def example(data: dict[str, str]) -> None:
        post(client, reverse("registry:person_new"), data)

    with frozen():
        example()


PERSON_KINDS = ["identity", "death", "move", "parent_link", "parent_unlink", "account_add",
                "account_replace", "account_deactivate"]
HOUSEHOLD_KINDS = ["split", "merge", "head", "member_add", "member_remove"]


def test_person_change_requests(personas: Personas, family_a: Family,
                                family_b: Family) -> None:
    fam = family_a
    client = login(personas.cadre_a)
    link = fam.child.parent_links.first()
    assert link is not None
    card = {"account_kind": "card", "bank_name": "惠来农商银行", "account": "6230000011112223",
            "verified_how": "本人持卡到场核对"}
    bases = [
        (fam.child, {"kind": "identity", "name": "林小雨"}),
        (fam.child, {"kind": "identity", "sex": "女",
                     "id_number": new_id(fam.child.birth_date, "F")}),
        (fam.father, {"kind": "death", "death_date": "2026-06-01", "source": "民政",
                      "certificate": "粤2026001"}),
        (fam.mother, {"kind": "move", "to_code": VILLAGE_B, "moved_on": "2026-06-01"}),
        (fam.child, {"kind": "move", "to_code": "445224100202", "moved_on": "2026-06-01",
                     "whole_household": "1"}),
        (family_b.child, {"kind": "parent_link", "parent_id_number": fam.father.id_number,
                          "relation": "guardian"}),
        (fam.child, {"kind": "parent_unlink", "link": str(link.pk)}),
        (fam.father, {"kind": "account_add", **card}),
        (fam.mother, {"kind": "account_replace", "account_id": str(fam.account.pk), **card}),
        (fam.mother, {"kind": "account_deactivate", "account_id": str(fam.account.pk)}),
    ]
    alts = {"kind": st.sampled_from([*PERSON_KINDS, "", "merge", "x"]),
            "name": one_of_or_junk("林小宝", "", "林" * 60), "birth_date": dates,
            "sex": one_of_or_junk("男", "女", "M", "F", ""),
            "id_number": one_of_or_junk(fam.child.id_number, fam.mother.id_number, ""),
            "death_date": dates, "source": one_of_or_junk("民政", "公安", "x" * 300),
            "to_code": one_of_or_junk(VILLAGE_A, VILLAGE_B, "445224", "445222102201"),
            "moved_on": dates, "whole_household": one_of_or_junk("1", "on", ""),
            "parent_id_number": one_of_or_junk(fam.father.id_number, fam.child.id_number,
                                               family_b.mother.id_number),
            "relation": one_of_or_junk("father", "mother", "guardian", "父亲", "监护人"),
            "link": ints, "account_id": ints,
            "account_kind": one_of_or_junk("card", "passbook", "银行卡", ""),
            "account": st.one_of(digits, junk), "reason": one_of_or_junk("户籍信息有误", ""),
            "applicant": junk}

    @FUZZ
    @given(st.sampled_from(range(len(bases))).flatmap(
        lambda i: st.tuples(st.just(bases[i][0]), mutated(
            {**bases[i][1], "reason": "群众申请，经核对户口簿", "applicant": "林建国"}, alts))),
        st.one_of(st.just(PNG), st.none(), st.binary(max_size=300)))
    def example(target: tuple[Any, dict[str, str]], evidence: bytes | None) -> None:
        person, data = target
        if evidence is not None:
            data = {**data, "evidence": SimpleUploadedFile("户口簿.png", evidence)}
        post(client, reverse("registry:person_change_new", args=[person.pk]), data)

    with frozen():
        example()


def test_household_change_requests(personas: Personas, family_a: Family,
                                   family_b: Family) -> None:
    fam = family_a
    client = login(personas.cadre_a)
    household = fam.mother.household
    other = make_family(personas.cadre_a, VILLAGE_A, date(2022, 1, 5), surname="郑")
    stranger = new_id(date(1980, 1, 1), "M")
    members = [fam.father.pk, fam.mother.pk, fam.child.pk, family_b.child.pk, other.child.pk]
    bases = [{"kind": "split", "members": [str(fam.child.pk)], "address": "四香村新村路 3 号"},
             {"kind": "merge", "into": other.mother.household.number},
             {"kind": "head", "person": str(fam.mother.pk)},
             {"kind": "member_add", "id_number": other.child.id_number},
             {"kind": "member_remove", "person": str(fam.child.pk)}]
    member = st.one_of(st.sampled_from([str(m) for m in members]), ints)
    alts = {"kind": st.sampled_from([*HOUSEHOLD_KINDS, "", "identity"]),
            "members": st.lists(member, max_size=4), "address": junk,
            "into": one_of_or_junk(family_b.child.household.number, household.number, ""),
            "person": member,
            "id_number": one_of_or_junk(family_b.child.id_number, fam.child.id_number,
                                        stranger, "")}

    @FUZZ
    @given(st.sampled_from(bases).flatmap(lambda b: mutated(
        {**b, "reason": "群众申请，经核对户口簿", "applicant": "林建国"}, alts)))
    def example(data: dict[str, Any]) -> None:
        post(client, reverse("registry:household_change_new", args=[household.pk]),
             {**data, "evidence": SimpleUploadedFile("户口簿.png", PNG)})

    with frozen():
        example()


def test_register_import(personas: Personas, family_a: Family) -> None:
    fam = family_a
    client = login(personas.cadre_a)
    mother = new_id(date(1991, 1, 2), "F")
    number = f"{VILLAGE_A}-9001"
    rows = [list(importer.HEADER),
            [number, "蔡思琪", mother, "女", "1991-01-02", VILLAGE_A, "农业", "", "", "",
             "农村商业银行", "6230000011112223"],
            [number, "林乐乐", new_id(date(2025, 3, 4), "M"), "男", "2025-03-04", VILLAGE_A,
             "农业", "", fam.father.id_number, mother, "", ""]]
    cells = [number, fam.mother.household.number, f"{VILLAGE_B}-0001", fam.mother.id_number,
             mother, mother.lower(), "男", "女", "1991-01-02", "2026-06-18", "2025-02-29",
             VILLAGE_A, VILLAGE_B, COUNTY, "农业", "非农业", "=1+1", "4.45224E+17",
             "6230000011112222", ""]

    @FUZZ
    @given(damaged(rows, cells), NAMES)
    def example(body: bytes, name: str) -> None:
        post(client, reverse("registry:import"),
             {"file": SimpleUploadedFile(file_name("登记", body, name), body)})

    with frozen():
        example()


def test_change_decisions(personas: Personas, family_a: Family, settings: Any,
                          tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    fam = family_a
    with frozen():
        pending = [
            changes_helpers.submit(personas.cadre_a, "identity", fam.child, {"name": "林小雨"}),
            changes_helpers.submit(personas.cadre_a, "move", fam.mother,
                                   {"to_code": VILLAGE_B, "moved_on": "2026-06-01"}),
            changes_helpers.submit(personas.cadre_a, "member_remove", fam.mother.household,
                                   {"person": str(fam.child.pk)})]
    ids = [str(r.pk) for r in pending]
    clients = {"township": login(personas.township), "cadre_a": login(personas.cadre_a)}
    chosen = st.lists(st.one_of(st.sampled_from(ids), ints), max_size=4)

    @FUZZ
    @given(st.sampled_from(sorted(clients)),
           st.sampled_from(["confirm", "reject", "preview", "bulk"]), st.sampled_from(pending),
           form(change=chosen, all=one_of_or_junk("1", "0"),
                reason=st.one_of(st.just("材料不全"), junk)))
    def example(who: str, what: str, req: Any, data: dict[str, Any]) -> None:
        url = {"confirm": reverse("registry:change_confirm", args=[req.pk]),
               "reject": reverse("registry:change_reject", args=[req.pk]),
               "preview": reverse("registry:changes_preview"),
               "bulk": reverse("registry:changes_confirm")}[what]
        post(clients[who], url, data)

    with frozen():
        example()


# -- cases ------------------------------------------------------------------------------

def test_bulk_intake(personas: Personas, family_a: Family) -> None:
    fam = family_a
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    client = login(personas.cadre_a)
    rows = [list(bulk.HEADER),
            ["childcare-subsidy", fam.child.id_number, fam.mother.id_number, "2026", "", ""],
            ["农村部分计划生育家庭奖励扶助", couple.husband.id_number, "", "2026", "是", ""]]
    cells = [fam.child.id_number, fam.mother.id_number, couple.wife.id_number, "rural-reward",
             "special-assistance", "2025", "2027", "99999", "是", "否", "1", "4", "5", ""]

    @FUZZ
    @given(damaged(rows, cells), NAMES)
    def example(body: bytes, name: str) -> None:
        post(client, reverse("cases:bulk"),
             {"file": SimpleUploadedFile(file_name("受理", body, name), body)})

    with frozen():
        example()


def test_case_document_upload(personas: Personas, family_a: Family, settings: Any,
                              tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    fam = family_a
    with frozen():
        case = case_actions.submit_application(
            personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
            subject=fam.child, claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    doc_types = list(DocumentType.objects.filter(program=case.program)
                     .values_list("pk", flat=True))
    client = login(personas.cadre_a)

    valid = st.sampled_from([str(d) for d in doc_types])

    @FUZZ
    @given(st.one_of(valid, valid, valid, ints),
           st.one_of(st.just(PNG), st.just(b"%PDF-1.4\n%%EOF\n"), st.binary(max_size=300)),
           st.sampled_from(["户口簿.png", "证明.pdf", "a.exe", "", "x" * 300 + ".png"]))
    def example(doc_type: str, body: bytes, name: str) -> None:
        post(client, reverse("cases:upload", args=[case.pk]),
             {"doc_type": doc_type, "file": SimpleUploadedFile(name or "f", body)})

    with frozen():
        example()


def test_case_application(personas: Personas, family_a: Family) -> None:
    fam = family_a
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    client = login(personas.cadre_a)
    childcare = {"program": "childcare-subsidy", "subject_id_number": fam.child.id_number,
                 "applicant_id_number": fam.mother.id_number, "claim_year": "2026",
                 "comment": ""}
    rural = {"program": "rural-reward", "subject_id_number": couple.husband.id_number,
             "claim_year": "2026", "policy_status_confirmed": "1"}
    people = [fam.child.id_number, fam.mother.id_number, couple.husband.id_number,
              couple.wife.id_number, fam.child.id_number.lower(), " " + fam.child.id_number]
    alts = {"program": one_of_or_junk(*Program.objects.values_list("code", flat=True)),
            "subject_id_number": one_of_or_junk(*people),
            "child_id_number": one_of_or_junk(*people),
            "applicant_id_number": one_of_or_junk(*people),
            "claim_year": st.one_of(st.sampled_from(["2026", "2025", "2027", "1999"]), ints),
            "policy_status_confirmed": one_of_or_junk("1", "on", "0"),
            "child_disability_grade": one_of_or_junk("1", "4", "5", "一级"),
            "record_rejected": one_of_or_junk("1", "0")}

    @FUZZ
    @given(st.one_of(mutated(childcare, alts), mutated(rural, alts)))
    def example(data: dict[str, str]) -> None:
        post(client, reverse("cases:new"), data)

    with frozen():
        example()


def _review_world(personas: Personas) -> tuple[Case, Case, Objection]:
    """A case waiting for the township and one on the village's notice with an objection."""
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        posted = apply_rural(personas.cadre_a, couple.husband)
        case_actions.decide(personas.cadre_a, posted, "approve")
        case_actions.publish_notice(personas.cadre_a,
                                    program=Program.objects.get(code="rural-reward"),
                                    start_on=case_actions.local_today(),
                                    objection_info="村委会办公室，电话 0663-6612345")
        objection = case_actions.record_objection(personas.cadre_a, posted,
                                                  content="其子女户籍情况与申报不符")
        other = make_rural_couple(personas.cadre_a, VILLAGE_A, husband_born=date(1963, 5, 1))
        fresh = apply_rural(personas.cadre_a, other.husband)
    posted.refresh_from_db()
    fresh.refresh_from_db()
    return fresh, posted, objection


TRANSITIONS = ["approve", "reject", "return", "resubmit", "send_back", "reopen",
               "township_approve", "county_reject", "mark_paid", ""]


def test_case_review_and_objections(personas: Personas) -> None:
    fresh, posted, objection = _review_world(personas)
    clients = {"cadre_a": login(personas.cadre_a), "township": login(personas.township)}
    cases = {"fresh": fresh, "posted": posted}
    base = {
        "approve": {"transition": "approve", "comment": "经入户核实"},
        "reject": {"transition": "reject", "reason_codes": ["other"], "comment": "不符合"},
        "return": {"transition": "return", "comment": "请补交户口簿"},
        "objection": {"content": "年龄可能不够", "objector": "村民", "contact": "13800000000"},
        "resolve": {"upheld": "0", "finding": "核对身份证，已满 60 周岁"},
    }
    alts = {"transition": st.sampled_from(TRANSITIONS), "comment": junk,
            "version": ints, "reason_codes": st.lists(one_of_or_junk("age", "other"), max_size=3),
            "override_reason": junk, "policy_status_confirmed": one_of_or_junk("1", ""),
            "content": junk, "objector": junk, "contact": junk,
            "upheld": one_of_or_junk("1", "0"), "finding": junk}

    @FUZZ
    @given(st.sampled_from(sorted(clients)), st.sampled_from(sorted(cases)),
           st.sampled_from(sorted(base)).flatmap(lambda k: st.tuples(st.just(k),
                                                                     mutated(base[k], alts))))
    def example(who: str, which: str, what: tuple[str, dict[str, Any]]) -> None:
        case = cases[which]
        form, data = what
        data = {"version": str(case.version), **data}
        url = (reverse("cases:objection", args=[case.pk]) if form == "objection" else
               reverse("cases:objection_resolve", args=[objection.pk]) if form == "resolve"
               else reverse("cases:act", args=[case.pk]))
        post(clients[who], url, data)

    with frozen():
        example()


def test_case_stop_and_resume(personas: Personas, family_a: Family) -> None:
    with frozen():
        made = feeds_helpers.childcare_case(personas, family_a)
        pay.build_cycle(personas.finance, program=Program.objects.get(code="childcare-subsidy"),
                        claim_year=2026)
        why = "父亲迁出本县，待迁入地确认"
        hold_case(personas.county, made, held_reason="suspended", reason=why,
                  from_date=date(2026, 6, 1))
        case = case_actions.suspend_case(personas.county, made, from_date=date(2026, 6, 1),
                                         reason=why)
    client = login(personas.county)
    base = {"version": str(case.version), "reason": "经核实，已迁回本村",
            "stopped_on": "2026-06-01"}
    alts = {"version": ints, "reason": junk, "stopped_on": dates}

    @FUZZ
    @given(st.sampled_from(["resume", "stop"]), mutated(base, alts))
    def example(what: str, data: dict[str, str]) -> None:
        post(client, reverse(f"cases:{what}", args=[case.pk]), data)

    with frozen():
        example()


# -- payments ---------------------------------------------------------------------------

def _approved(personas: Personas, born: date, surname: str) -> Case:
    fam = make_family(personas.cadre_a, VILLAGE_A, born, surname=surname)
    case = case_actions.submit_application(
        personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, case, approve=True)
    return case_actions.county_confirm(personas.county, case, approve=True)


def test_cycle_form(personas: Personas) -> None:
    with frozen():
        _approved(personas, date(2024, 2, 2), "林")
    client = login(personas.finance)
    base = {"program": "childcare-subsidy", "claim_year": "2026", "period": "", "cut_off": ""}
    alts = {"program": one_of_or_junk(*Program.objects.values_list("code", flat=True)),
            "claim_year": st.one_of(st.sampled_from(["2026", "2025", "1900", "9999"]), ints),
            "period": one_of_or_junk("", "2026", "2026-H1", "2026-06", "2026-Q2", "2026-13",
                                     "2025-Q1", "2026-H3"),
            "cut_off": st.one_of(st.sampled_from(["", "2026-06-17", "2026-06-30"]), dates)}

    @FUZZ
    @given(mutated(base, alts))
    def example(data: dict[str, str]) -> None:
        post(client, reverse("payments:cycle_new"), data)

    with frozen():
        example()


def test_batch_forms(personas: Personas) -> None:
    program = Program.objects.get(code="childcare-subsidy")
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        first = _approved(personas, date(2024, 2, 2), "林")
        world = payments_helpers.payments_world(personas, program, first)
    clients = {"finance": login(personas.finance), "county": login(personas.county)}
    layouts = [code for code, _ in bankfile.layout_choices()]
    batches = [world.draft, world.batch]
    forms = {
        "new": ({"cycle": str(world.cycle.pk), "layout": layouts[0]},
                lambda b: reverse("payments:new")),
        "release": ({}, lambda b: reverse("payments:release", args=[b.pk])),
        "relayout": ({"layout": layouts[-1], "note": "银行要求改用新格式"},
                     lambda b: reverse("payments:relayout", args=[b.pk])),
        "cancel": ({"reason": "名单有误，重新生成"},
                   lambda b: reverse("payments:cancel", args=[b.pk])),
        "correct": ({"bank_account": str(world.new_account.pk), "note": "已核对新卡"},
                    lambda b: reverse("payments:correct", args=[world.failed_line.pk])),
    }
    alts = {"cycle": ints, "layout": one_of_or_junk(*layouts), "note": junk, "reason": junk,
            "bank_account": st.one_of(
                st.sampled_from([str(world.new_account.pk),
                                 str(world.failed_line.bank_account_id)]), ints)}

    @FUZZ
    @given(st.sampled_from(sorted(clients)), st.sampled_from(range(len(batches))),
           st.sampled_from(sorted(forms)).flatmap(
               lambda k: st.tuples(st.just(k), mutated(forms[k][0], alts))))
    def example(who: str, which: int, what: tuple[str, dict[str, str]]) -> None:
        name, data = what
        post(clients[who], forms[name][1](batches[which]), data)

    with frozen():
        example()


def test_bank_return_and_statement_uploads(personas: Personas) -> None:
    with frozen():
        _approved(personas, date(2024, 2, 2), "林")
        _approved(personas, date(2024, 3, 2), "郑")
        cycle = pay.build_cycle(personas.finance,
                                program=Program.objects.get(code="childcare-subsidy"),
                                claim_year=2026)
        batch = pay.create_batch(personas.finance, cycle)
        pay.release_batch(personas.county, batch)
        pay.export_batch(personas.finance, batch)
    layout = bankfile.get_layout(batch.layout)
    lines = list(batch.lines.select_related("bank_account").order_by("seq"))
    values = [{"流水号": ln.reference, "账号": ln.bank_account.account_number,
               "对方账号": ln.bank_account.account_number,
               "金额": f"{ln.amount_fen / 100:.2f}", "借方金额": f"{ln.amount_fen / 100:,.2f}",
               "处理结果": "成功", "交易日期": "2026-06-16", "摘要": "代发育儿补贴"}
              for ln in lines]
    files = {}
    for what, columns in (("return", layout.return_columns),
                          ("statement", layout.statement_columns)):
        header = [c.header for c in columns]
        files[what] = [header, *[[v.get(h, "") for h in header] for v in values]]
    cells = [ln.reference for ln in lines] + [
        "成功", "失败", "退回", "账户已冻结", "合计", str(len(lines)), "3600.00", "3,600.00",
        "-3600.00", "0.001", "1e5", "2026-06-17", "2026-02-30", "SHA256:" + "0" * 64]
    client = login(personas.finance)

    @FUZZ
    @given(st.sampled_from(sorted(files)).flatmap(
        lambda w: st.tuples(st.just(w), damaged(files[w], cells))),
        NAMES)
    def example(upload: tuple[str, bytes], name: str) -> None:
        what, body = upload
        post(client, reverse(f"payments:{what}", args=[batch.pk]),
             {"file": SimpleUploadedFile(file_name("回盘", body, name), body)})

    with frozen():
        example()


def test_recovery_forms(personas: Personas) -> None:
    program = Program.objects.get(code="childcare-subsidy")
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        rec, request = payments_helpers._recovery(personas, program)
    clients = {"finance": login(personas.finance), "county": login(personas.county)}
    money = one_of_or_junk("100", "100.00", "0.01", "0", "-5", "300.001", "1e3", "３００",
                           "1,000.00", "9" * 30, "NaN", "inf")
    base = {"amount": "100.00", "date": "2026-06-17", "receipt": "财政票据 0001",
            "note": "本人到村委会退缴", "reason": "不符合核销条件"}
    alts = {"amount": money, "date": dates, "receipt": junk, "note": junk, "reason": junk,
            "entitlement": ints}
    forms = ["repay", "offset", "write_off", "approve", "decline"]

    @FUZZ
    @given(st.sampled_from(sorted(clients)), st.sampled_from(forms), mutated(base, alts),
           st.sampled_from([request.pk, 0]))
    def example(who: str, what: str, data: dict[str, str], movement: int) -> None:
        args = [rec.pk, movement] if what in ("approve", "decline") else [rec.pk]
        post(clients[who], reverse(f"payments:recovery_{what}", args=args), data)

    with frozen():
        example()


# -- verification -----------------------------------------------------------------------

def test_feed_file_upload(personas: Personas, family_a: Family) -> None:
    fam = family_a
    client = login(personas.township)
    rows = {
        "death": {"event_id": "E1", "id_number": fam.father.id_number, "name": fam.father.name,
                  "death_date": "2026-06-01", "source_org": "惠来县民政局殡葬管理所",
                  "certificate_no": "粤2026001"},
        "move": {"event_id": "M1", "id_number": fam.mother.id_number, "name": fam.mother.name,
                 "moved_on": "2026-06-01", "to_code": VILLAGE_B, "from_code": VILLAGE_A},
        "birth": {"event_id": "B1", "child_id_number": new_id(date(2026, 5, 1), "M"),
                  "child_name": "林小明", "sex": "男", "birth_date": "2026-05-01",
                  "mother_id_number": fam.mother.id_number,
                  "father_id_number": fam.father.id_number,
                  "household_number": fam.mother.household.number,
                  "certificate_no": "Q440000001"},
    }
    good = {kind: [formats.header(kind), [row.get(c, "") for c in formats.header(kind)]]
            for kind, row in rows.items()}
    cells = [fam.child.id_number, fam.mother.id_number, fam.mother.name, "2026-06-18",
             "1880-01-01", "E1", VILLAGE_A, "445222102201", "男", "女", "1", "5", ""]

    @FUZZ
    @given(st.sampled_from(sorted(good)).flatmap(
        lambda k: st.tuples(st.just(k), damaged(good[k], cells))),
        mutated({}, {"kind": one_of_or_junk(*formats.COLUMNS),
                     "source": one_of_or_junk(*[str(s) for v in formats.SOURCES.values()
                                                for s in v])}),
        NAMES)
    def example(upload: tuple[str, bytes], over: dict[str, str], name: str) -> None:
        kind, body = upload
        data = {"kind": kind, "source": str(formats.SOURCES[kind][0]), **over,
                "file": SimpleUploadedFile(file_name("f", body, name), body)}
        post(client, reverse("feeds:index"), data)

    with frozen():
        example()
