"""Whose data each list shows: every list, search, summary, export and API list, as every role.

The data lie in two villages of one township (惠城镇), a village of a second township (隆江镇)
and a village of a second county (揭西县). Each test asks every persona for a list and compares
the exact set of objects returned (ids parsed from links, API JSON and XLSX cells) with the set
of objects in the persona's villages, written down here by hand: nothing from outside the area,
nothing missing inside it.

The Django admin is covered at the end, in the spirit of the access matrix.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cases.models import Case, Notice
from huimin.payments import actions as pay_actions
from huimin.programs.models import Program
from huimin.registry.models import Household, Person
from tests.conftest import (
    PASSWORD,
    VILLAGE_A,
    VILLAGE_B,
    VILLAGE_C,
    Personas,
    make_family,
)
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SH)

VILLAGE_A2 = "445224100001"  # 惠城镇祚通社区居委会: a second village of township A
HUILAI = "445224"
JIEXI = "445222"

ROLES = ["cadre_a", "cadre_b", "township", "township_b", "county", "finance", "auditor",
         "admin", "cadre_c", "township_c", "county_b", "finance_b", "auditor_b"]
#: the villages whose people and cases each persona is responsible for
HUILAI_READERS = ["county", "finance", "auditor", "admin"]
JIEXI_ALL = ["cadre_c", "township_c", "county_b", "finance_b", "auditor_b"]
VILLAGES: dict[str, frozenset[str]] = {
    "cadre_a": frozenset({VILLAGE_A}),
    "cadre_b": frozenset({VILLAGE_B}),
    "township": frozenset({VILLAGE_A, VILLAGE_A2}),
    "township_b": frozenset({VILLAGE_B}),
    **dict.fromkeys(HUILAI_READERS, frozenset({VILLAGE_A, VILLAGE_A2, VILLAGE_B})),
    **dict.fromkeys(JIEXI_ALL, frozenset({VILLAGE_C})),
}
#: the counties whose payment books each persona may read (payments are county-level)
COUNTIES: dict[str, frozenset[str]] = {
    **dict.fromkeys(HUILAI_READERS, frozenset({HUILAI})),
    **dict.fromkeys(["county_b", "finance_b", "auditor_b"], frozenset({JIEXI})),
}


@dataclass
class ScopeWorld:
    persons: dict[str, list[Any]] = field(default_factory=dict)  # by village code
    cases: dict[str, list[Any]] = field(default_factory=dict)
    households: dict[str, list[Any]] = field(default_factory=dict)
    notices: dict[str, list[Any]] = field(default_factory=dict)
    cycles: dict[str, Any] = field(default_factory=dict)  # by county (6 digits)
    batches: dict[str, Any] = field(default_factory=dict)
    named: dict[str, Any] = field(default_factory=dict)  # cases by what the test calls them


def _childcare(actor: Any, village: str, born: date, surname: str, world: ScopeWorld,
               *, township: Any = None, county: Any = None) -> Any:
    fam = make_family(actor, village, born, surname=surname)
    world.persons.setdefault(village, []).extend([fam.father, fam.mother, fam.child])
    world.households.setdefault(village, []).append(fam.child.household)
    case = case_actions.submit_application(
        actor, program=Program.objects.get(code="childcare-subsidy"), subject=fam.child,
        claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    if township is not None:
        case = case_actions.township_review(township, case, approve=True)
    if county is not None:
        case = case_actions.county_confirm(county, case, approve=True)
    world.cases.setdefault(village, []).append(case)
    return case


def _couple(actor: Any, village: str, surname: str, world: ScopeWorld) -> Any:
    couple = make_rural_couple(actor, village, surname=surname)
    members = list(couple.household.members.all())
    world.persons.setdefault(village, []).extend(members)
    world.households.setdefault(village, []).append(couple.household)
    return couple


def _rural(actor: Any, person: Any, village: str, world: ScopeWorld, **kw: Any) -> Any:
    case = apply_rural(actor, person, **kw)
    world.cases.setdefault(village, []).append(case)
    return case


def _notice(actor: Any, village: str, world: ScopeWorld) -> Any:
    notice = case_actions.publish_notice(
        actor, program=Program.objects.get(code="rural-reward"),
        start_on=case_actions.local_today(), objection_info="村委会")
    world.notices.setdefault(village, []).append(notice)
    return notice


def _pay(finance: Any, approver: Any, county: str, world: ScopeWorld, *, paid: bool) -> None:
    cycle = pay_actions.build_cycle(finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026)
    batch = pay_actions.create_batch(finance, cycle)
    pay_actions.release_batch(approver, batch)
    pay_actions.export_batch(finance, batch)
    if paid:
        batch.refresh_from_db()
        pay_actions.import_return(finance, batch, pay_actions.sample_return(batch))
    world.cycles[county] = cycle
    world.batches[county] = batch


def build_world(p: Personas) -> ScopeWorld:
    w = ScopeWorld()
    n = w.named
    # 惠城镇四香村 (village A): a case at each step
    n["paid"] = _childcare(p.cadre_a, VILLAGE_A, date(2024, 2, 2), "林", w,
                           township=p.township, county=p.county)
    _pay(p.finance, p.county, HUILAI, w, paid=True)
    n["submitted_a"] = _childcare(p.cadre_a, VILLAGE_A, date(2024, 3, 3), "郑", w)
    n["township_approved"] = _childcare(p.cadre_a, VILLAGE_A, date(2024, 4, 4), "何", w,
                                        township=p.township)
    one = _couple(p.cadre_a, VILLAGE_A, "李", w)
    n["village_approved"] = case_actions.decide(
        p.cadre_a, _rural(p.cadre_a, one.husband, VILLAGE_A, w), "approve")
    _notice(p.cadre_a, VILLAGE_A, w)
    two = _couple(p.cadre_a, VILLAGE_A, "周", w)
    n["returned"] = case_actions.decide(
        p.cadre_a, _rural(p.cadre_a, two.husband, VILLAGE_A, w), "return", comment="请补交户口簿")
    n["rejected"] = _rural(p.cadre_a, two.wife, VILLAGE_A, w, confirmed=False,
                           record_rejected=True)
    # 惠城镇祚通社区 (village A2, same township): entered by the township
    n["submitted_a2"] = _childcare(p.township, VILLAGE_A2, date(2024, 5, 5), "吴", w)
    n["approved_a2"] = _childcare(p.township, VILLAGE_A2, date(2025, 1, 6), "许", w,
                                  township=p.township, county=p.county)
    # 隆江镇竹湖村 (village B, a second township)
    n["submitted_b"] = _childcare(p.cadre_b, VILLAGE_B, date(2024, 6, 6), "黄", w)
    three = _couple(p.cadre_b, VILLAGE_B, "蔡", w)
    n["village_approved_b"] = case_actions.decide(
        p.cadre_b, _rural(p.cadre_b, three.husband, VILLAGE_B, w), "approve")
    _notice(p.cadre_b, VILLAGE_B, w)
    # 揭西县龙潭镇菜仔园村 (village C, a second county), with its own payment books
    n["approved_c"] = _childcare(p.cadre_c, VILLAGE_C, date(2024, 7, 7), "曾", w,
                                 township=p.township_c, county=p.county_b)
    _pay(p.finance_b, p.county_b, JIEXI, w, paid=False)
    n["submitted_c"] = _childcare(p.cadre_c, VILLAGE_C, date(2024, 8, 8), "彭", w)
    four = _couple(p.cadre_c, VILLAGE_C, "杨", w)
    n["village_approved_c"] = case_actions.decide(
        p.cadre_c, _rural(p.cadre_c, four.husband, VILLAGE_C, w), "approve")
    _notice(p.cadre_c, VILLAGE_C, w)
    for cases in w.cases.values():
        for c in cases:
            c.refresh_from_db()
    return w


@pytest.fixture
def scope(personas: Personas, settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    personas.admin.is_staff = personas.admin.is_superuser = True  # as huimin.demo makes it
    personas.admin.save()
    with time_machine.travel(NOW, tick=False):
        world = build_world(personas)
        yield world


def _in(role: str, by_village: dict[str, list[Any]]) -> set[int]:
    return {o.pk for v in VILLAGES[role] for o in by_village.get(v, [])}


def _client(role: str, personas: Personas) -> Client:
    client = Client()
    assert client.login(username=getattr(personas, role).username, password=PASSWORD)
    return client


def _ids(pattern: str, html: str) -> set[int]:
    return {int(m) for m in re.findall(pattern, html)}


def _check(personas: Personas, get: Callable[[Client, str], set[int]],
           expected: Callable[[str], set[int]], roles: Iterable[str] = ROLES) -> None:
    """Ask each role; collect every mismatch so that one run names them all."""
    wrong = []
    for role in roles:
        got = get(_client(role, personas), role)
        want = expected(role)
        if got != want:
            wrong.append(f"{role}: extra {sorted(got - want)}, missing {sorted(want - got)}")
    assert not wrong, "\n".join(wrong)


def _html(client: Client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.content.decode()


def _json(client: Client, url: str) -> Any:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.content[:200])
    return resp.json()


def test_the_world_has_data_in_every_area(scope: ScopeWorld) -> None:
    """The sets below are not empty for any persona: the lists have something to leak."""
    for role in ROLES:
        assert _in(role, scope.persons) and _in(role, scope.cases), role
    assert Person.objects.filter(area__code__startswith=JIEXI).count() == len(
        scope.persons[VILLAGE_C])
    assert Case.objects.count() == sum(len(c) for c in scope.cases.values())
    assert Notice.objects.count() == 3


# -- registry ---------------------------------------------------------------------------------

def test_person_list(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas,
           lambda c, r: _ids(r'href="/registry/persons/(\d+)/"', _html(c, "/registry/persons/")),
           lambda r: _in(r, scope.persons))


def test_person_search_by_name(personas: Personas, scope: ScopeWorld) -> None:
    """Every family's mother is called 陈秀英: a search by name finds only the user's own."""
    def mothers(role: str) -> set[int]:
        return {p.pk for v in VILLAGES[role] for p in scope.persons.get(v, [])
                if p.name == "陈秀英"}

    _check(personas,
           lambda c, r: _ids(r'href="/registry/persons/(\d+)/"',
                             _html(c, "/registry/persons/?q=陈秀英")),
           mothers)
    _check(personas, lambda c, r: {p["id"] for p in _json(c, "/api/persons?q=陈秀英&limit=200")},
           mothers)


def test_api_person_list(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: {p["id"] for p in _json(c, "/api/persons?limit=200")},
           lambda r: _in(r, scope.persons))


def test_household_page(personas: Personas, scope: ScopeWorld) -> None:
    """Each household in the user's area lists exactly its members and their cases; the others
    are 404."""
    households = [h for hs in scope.households.values() for h in hs]
    for role in ROLES:
        client = _client(role, personas)
        mine = _in(role, scope.households)
        for hh in households:
            resp = client.get(f"/registry/households/{hh.pk}/")
            if hh.pk not in mine:
                assert resp.status_code == 404, (role, hh.number)
                continue
            html = resp.content.decode()
            members = set(Household.objects.get(pk=hh.pk).members.values_list("pk", flat=True))
            assert _ids(r'href="/registry/persons/(\d+)/"', html) == members, (role, hh.number)
            cases = set(Case.objects.filter(subject__household=hh).values_list("pk", flat=True))
            assert _ids(r'href="/cases/(\d+)/"', html) == cases, (role, hh.number)


# -- cases ------------------------------------------------------------------------------------

def test_case_list(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: _ids(r'href="/cases/(\d+)/"', _html(c, "/cases/")),
           lambda r: _in(r, scope.cases))


def test_case_list_filtered_by_state(personas: Personas, scope: ScopeWorld) -> None:
    def submitted(role: str) -> set[int]:
        return {c.pk for v in VILLAGES[role] for c in scope.cases.get(v, [])
                if c.state == "submitted"}

    _check(personas,
           lambda c, r: _ids(r'href="/cases/(\d+)/"', _html(c, "/cases/?state=submitted")),
           submitted)
    _check(personas,
           lambda c, r: {x["id"] for x in _json(c, "/api/cases?state=submitted&limit=200")},
           submitted)


def test_api_case_list(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: {x["id"] for x in _json(c, "/api/cases?limit=200")},
           lambda r: _in(r, scope.cases))


#: what waits for each role in the world above (today 2026-06-15: the notices still run)
WAITING: dict[str, list[str]] = {
    "cadre_a": ["returned"],  # back with the village for correction
    "township": ["submitted_a", "submitted_a2"],
    "township_b": ["submitted_b"],
    "township_c": ["submitted_c"],
    "county": ["township_approved"],
    "finance": ["approved_a2"],
}


def _waiting(scope: ScopeWorld) -> Callable[[str], set[int]]:
    return lambda role: {scope.named[k].pk for k in WAITING.get(role, [])}


def _worklist_table(html: str) -> str:
    start = html.find('data-testid="worklist"')
    return html[start: html.find("</table>", start)] if start >= 0 else ""


def test_worklist_home(personas: Personas, scope: ScopeWorld) -> None:
    with time_machine.travel(NOW, tick=False):
        _check(personas,
               lambda c, r: _ids(r'href="/cases/(\d+)/"', _worklist_table(_html(c, "/"))),
               _waiting(scope))


def test_api_worklist(personas: Personas, scope: ScopeWorld) -> None:
    with time_machine.travel(NOW, tick=False):
        _check(personas, lambda c, r: {x["case"]["id"] for x in _json(c, "/api/worklist")},
               _waiting(scope))


def test_home_counts_by_state(personas: Personas, scope: ScopeWorld) -> None:
    """The 工作台's counts by state are the user's own cases."""
    def counts(client: Client, role: str) -> set[Any]:
        html = _html(client, "/")
        return {(s, int(n)) for s, n in re.findall(r'data-state="(\w+)">(\d+)<', html)
                if int(n)}

    def expected(role: str) -> set[Any]:
        out: dict[str, int] = {}
        for v in VILLAGES[role]:
            for c in scope.cases.get(v, []):
                out[c.state] = out.get(c.state, 0) + 1
        return set(out.items())

    with time_machine.travel(NOW, tick=False):
        _check(personas, counts, expected)  # type: ignore[arg-type]


# -- notices ----------------------------------------------------------------------------------

def test_notice_list(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: _ids(r'href="/notices/(\d+)/"', _html(c, "/notices/")),
           lambda r: _in(r, scope.notices))
    _check(personas, lambda c, r: {x["id"] for x in _json(c, "/api/notices?limit=200")},
           lambda r: _in(r, scope.notices))


# -- payments ---------------------------------------------------------------------------------

def _books(scope: ScopeWorld, kind: str) -> Callable[[str], set[int]]:
    by_county = scope.cycles if kind == "cycle" else scope.batches
    return lambda role: {by_county[c].pk for c in COUNTIES.get(role, frozenset())}


def test_payment_list_page(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: _ids(r'href="/payments/cycles/(\d+)/"',
                                       _html(c, "/payments/")), _books(scope, "cycle"))
    _check(personas, lambda c, r: _ids(r'href="/payments/(\d+)/"', _html(c, "/payments/")),
           _books(scope, "batch"))


def test_api_cycles_and_batches(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: {x["id"] for x in _json(c, "/api/cycles")},
           _books(scope, "cycle"))
    _check(personas, lambda c, r: {x["id"] for x in _json(c, "/api/batches")},
           _books(scope, "batch"))


def test_cycle_and_batch_pages_are_the_countys_own(personas: Personas,
                                                   scope: ScopeWorld) -> None:
    """A cycle's page and a batch's page (and their lines) for a reader of that county; 404
    for the other county's readers."""
    for county in (HUILAI, JIEXI):
        cycle, batch = scope.cycles[county], scope.batches[county]
        lines = set(batch.lines.values_list("case_id", flat=True))
        assert lines == {c.pk for c in Case.objects.filter(area__code__startswith=county,
                                                           payment_lines__batch=batch)}
        for role, counties in COUNTIES.items():
            client = _client(role, personas)
            resp = client.get(f"/payments/{batch.pk}/")
            cyc = client.get(f"/payments/cycles/{cycle.pk}/")
            if county in counties:
                assert resp.status_code == cyc.status_code == 200, role
                assert _ids(r'href="/cases/(\d+)/"', resp.content.decode()) == lines, role
            else:
                assert resp.status_code == cyc.status_code == 404, role


def _xlsx_summary(data: bytes) -> dict[str, Any]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row}


def test_reconciliation_export(personas: Personas, scope: ScopeWorld) -> None:
    """The reconciliation workbook of a cycle is that county's cycle with its own cases (the
    number, area, payable count and amount); the other county's readers get 404."""
    for county, name, cases in ((HUILAI, "惠来县", [scope.named["paid"]]),
                                (JIEXI, "揭西县", [scope.named["approved_c"]])):
        cycle = scope.cycles[county]
        for role in ROLES:
            resp = _client(role, personas).get(f"/payments/cycles/{cycle.pk}/reconcile.xlsx")
            api = _client(role, personas).get(f"/api/cycles/{cycle.pk}/reconciliation")
            if county in COUNTIES.get(role, frozenset()):
                assert resp.status_code == api.status_code == 200, role
                sheet = _xlsx_summary(resp.content)
                assert (sheet["发放周期"], sheet["区域"], sheet["应发人数"]) == (
                    cycle.number, name, len(cases)), role
                assert sheet["应发金额（元）"] == _yuan(sum(c.amount_fen for c in cases),
                                                      sep=""), role
            else:
                assert resp.status_code == api.status_code == 404, (role, resp.status_code)


# -- 统计 -------------------------------------------------------------------------------------

def _summary_rows(html: str) -> dict[str, list[str]]:
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        if len(cells) == 7:
            rows[cells[0]] = cells[1:]
    return rows


def test_summary_page_shows_own_townships(personas: Personas, scope: ScopeWorld) -> None:
    names = {VILLAGE_A: "惠城镇", VILLAGE_A2: "惠城镇", VILLAGE_B: "隆江镇", VILLAGE_C: "龙潭镇"}

    def townships(client: Client, role: str) -> set[Any]:
        return {(name, int(cells[0]))
                for name, cells in _summary_rows(_html(client, "/reports/")).items()}

    def expected(role: str) -> set[Any]:
        out: dict[str, int] = {}
        for v in VILLAGES[role]:
            out[names[v]] = out.get(names[v], 0) + len(scope.cases.get(v, []))
        return set(out.items())

    _check(personas, townships, expected)  # type: ignore[arg-type]


def _yuan(fen: int, sep: str = ",") -> str:
    text = f"{fen // 100:,}.{fen % 100:02d}"
    return text.replace(",", sep)


def test_summary_counts_every_review_state_as_waiting(personas: Personas,
                                                      scope: ScopeWorld) -> None:
    """审核中 is every case still under review: submitted, approved by the village or the
    township, and returned for correction (it comes back to the same review)."""
    n = scope.named
    states = {c.state for v in (VILLAGE_A, VILLAGE_A2) for c in scope.cases[v]}
    assert states == {"submitted", "village_approved", "township_approved", "returned",
                      "rejected", "approved", "paid"}
    rows = _summary_rows(_html(_client("county", personas), "/reports/"))
    approved_fen = n["paid"].amount_fen + n["approved_a2"].amount_fen
    assert approved_fen > 0
    # 案件, 审核中, 不予通过, 已发放, 核定金额, 已发放金额
    assert rows["惠城镇"] == ["8", "5", "1", "1", _yuan(approved_fen) + " 元",
                           _yuan(n["paid"].amount_fen) + " 元"]
    assert rows["隆江镇"] == ["2", "2", "0", "0", "0.00 元", "0.00 元"]
    assert "龙潭镇" not in rows


# -- audit log --------------------------------------------------------------------------------

def _audit_rows(client: Client) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    url = "/audit/"
    while True:
        html = _html(client, url)
        for tr in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
            cells = [re.sub(r"<[^>]+>", "", c).strip()
                     for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
            if len(cells) == 8:
                out.append((cells[3], cells[6]))
        nxt = re.search(r'<a href="\?([^"]*)" data-testid="next">', html)
        if nxt is None:
            return out
        url = "/audit/?" + nxt.group(1).replace("&amp;", "&")


def test_audit_log_is_the_auditors_county(personas: Personas, scope: ScopeWorld) -> None:
    """The auditor of each county reads exactly the events of that county."""
    for role, county in (("auditor", HUILAI), ("auditor_b", JIEXI)):
        want = sorted((f"{e.object_type}#{e.object_id}", e.area_code)
                      for e in AuditEvent.objects.filter(area_code__startswith=county))
        got = sorted(_audit_rows(_client(role, personas)))
        assert want and got == want, role
        assert {a[:6] for _, a in got} == {county}
    for role in ROLES:
        if role not in ("auditor", "auditor_b"):
            assert _client(role, personas).get("/audit/").status_code == 403, role


# -- search, filters and exports (huimin.listing) --------------------------------------------

def _sheet(data: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)][1:]


def _export(client: Client, name: str, data: dict[str, str] | None = None) -> bytes:
    resp = client.post(reverse(name), data or {})
    assert resp.status_code == 200, (name, resp.status_code, resp.content[:200])
    return resp.content


def test_person_export(personas: Personas, scope: ScopeWorld) -> None:
    """The person list's workbook: exactly the persona's persons (by name, masked number and
    household), masked."""
    by_mask = {(p.name, p.id_masked, p.household.number): p.pk
               for ps in scope.persons.values() for p in ps}
    assert len(by_mask) == sum(len(ps) for ps in scope.persons.values())
    _check(personas,
           lambda c, r: {by_mask[(row[0], row[1], row[6])]
                         for row in _sheet(_export(c, "registry:persons_export"))},
           lambda r: _in(r, scope.persons))


def test_household_list_and_export(personas: Personas, scope: ScopeWorld) -> None:
    _check(personas, lambda c, r: _ids(r'href="/registry/households/(\d+)/"',
                                       _html(c, "/registry/households/")),
           lambda r: _in(r, scope.households))
    numbers = {h.number: h.pk for hs in scope.households.values() for h in hs}
    _check(personas, lambda c, r: {numbers[row[0]] for row in
                                   _sheet(_export(c, "registry:households_export"))},
           lambda r: _in(r, scope.households))


def test_case_export_and_filters(personas: Personas, scope: ScopeWorld) -> None:
    numbers = {c.number: c.pk for cs in scope.cases.values() for c in cs}
    _check(personas, lambda c, r: {numbers[row[0]] for row in
                                   _sheet(_export(c, "cases:export"))},
           lambda r: _in(r, scope.cases))

    def submitted(role: str) -> set[int]:
        return {c.pk for v in VILLAGES[role] for c in scope.cases.get(v, [])
                if c.state == "submitted"}

    _check(personas, lambda c, r: {numbers[row[0]] for row in
                                   _sheet(_export(c, "cases:export", {"state": "submitted"}))},
           submitted)


def test_case_search_by_number_finds_only_own(personas: Personas, scope: ScopeWorld) -> None:
    """Each case searched by its number, by every persona: found only by those whose area it
    is in."""
    for village, cases in scope.cases.items():
        case = cases[0]
        for role in ROLES:
            got = _ids(r'href="/cases/(\d+)/"',
                       _html(_client(role, personas), f"/cases/?q={case.number}"))
            assert got == ({case.pk} if village in VILLAGES[role] else set()), (role, village)


def test_person_search_by_last_four_finds_only_own(personas: Personas,
                                                   scope: ScopeWorld) -> None:
    """An outsider's search for the last four (or the whole number) of a person in another
    area returns nothing."""
    for village, persons in scope.persons.items():
        person = persons[0]
        number = person.id_number
        for role in ROLES:
            client = _client(role, personas)
            for value in (number[-4:], number):
                resp = client.post("/registry/persons/", {"id_number": value})
                got = _ids(r'href="/registry/persons/(\d+)/"', resp.content.decode())
                assert (person.pk in got) == (village in VILLAGES[role]), (role, village, value)
                assert got <= _in(role, scope.persons), role


def test_notice_cycle_batch_exports(personas: Personas, scope: ScopeWorld) -> None:
    notices = {n.number: n.pk for ns in scope.notices.values() for n in ns}
    _check(personas, lambda c, r: {notices[row[0]] for row in
                                   _sheet(_export(c, "notices:export"))},
           lambda r: _in(r, scope.notices))
    cycles = {c.number: c.pk for c in scope.cycles.values()}
    _check(personas, lambda c, r: {cycles[row[0]] for row in
                                   _sheet(_export(c, "payments:cycles_export"))},
           _books(scope, "cycle"))
    _check(personas, lambda c, r: _ids(r'href="/payments/cycles/(\d+)/"',
                                       _html(c, "/payments/cycles/")), _books(scope, "cycle"))
    batches = {b.number: b.pk for b in scope.batches.values()}
    _check(personas, lambda c, r: {batches[row[0]] for row in
                                   _sheet(_export(c, "payments:batches_export"))},
           _books(scope, "batch"))


def test_area_filter_outside_the_users_areas_returns_nothing(personas: Personas,
                                                             scope: ScopeWorld) -> None:
    for role in ROLES:
        client = _client(role, personas)
        for village in (VILLAGE_A, VILLAGE_B, VILLAGE_C):
            resp = client.get("/registry/persons/", {"area": village})
            got = _ids(r'href="/registry/persons/(\d+)/"', resp.content.decode())
            if village in VILLAGES[role] or (role == "township" and village == VILLAGE_A):
                assert resp.status_code == 200
                assert got == {p.pk for p in scope.persons[village]}, (role, village)
            else:
                assert resp.status_code == 400 and got == _in(role, scope.persons), role


# -- the Django admin -------------------------------------------------------------------------

def _admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    return urls


def test_django_admin_only_for_the_system_administrator(personas: Personas,
                                                        scope: ScopeWorld) -> None:
    """/admin/ and each registered model's list: the admin role (staff, as huimin.demo makes
    it) gets in; every other role is sent to the admin's login page."""
    urls = _admin_urls()
    assert len(urls) >= 4  # index, users, programs, audit events (and groups)
    for role in ROLES:
        client = _client(role, personas)
        for url in urls:
            resp = client.get(url)
            if role == "admin":
                assert resp.status_code == 200, (role, url)
            else:
                assert resp.status_code == 302, (role, url, resp.status_code)
                assert resp["Location"].startswith("/admin/login/"), (role, url)
    anonymous = Client()
    for url in urls:
        resp = anonymous.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")


def test_django_admin_refuses_staff_without_the_admin_role(personas: Personas,
                                                           scope: ScopeWorld) -> None:
    """A staff flag alone gives no model: a finance officer marked staff sees no changelist."""
    personas.finance.is_staff = True
    personas.finance.save()
    client = _client("finance", personas)
    for url in _admin_urls()[1:]:
        assert client.get(url).status_code == 403, url


def test_api_case_list_keyset_pages_give_every_case_in_scope_once(
        personas: Personas, scope: ScopeWorld) -> None:
    def pages(c: Client, role: str) -> set[int]:
        seen: list[int] = []
        after = 0
        while True:
            rows = _json(c, f"/api/cases?limit=2&after={after}")
            if not rows:
                return set(seen) if len(seen) == len(set(seen)) else set()
            seen.extend(x["id"] for x in rows)
            after = rows[-1]["id"]

    _check(personas, pages, lambda r: _in(r, scope.cases))


def test_api_case_list_bad_after_is_refused_in_chinese(personas: Personas) -> None:
    c = Client()
    c.force_login(personas.county)
    resp = c.get("/api/cases?after=abc")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "after"
