"""The authorization matrix: every URL pattern and API operation, every role, in and out of area.

A URL or API operation missing from the matrix fails ``test_matrix_covers_every_endpoint``.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from huimin.cases import actions as case_actions
from huimin.payments import actions as pay_actions
from huimin.programs.models import Program
from tests.conftest import PASSWORD, VILLAGE_A, Personas, make_family, make_personas
from tests.web.cases_helpers import PNG, matrix_world
from tests.web.feeds_helpers import feeds_world
from tests.web.identity_helpers import claim_world, identity_world
from tests.web.payments_helpers import PayWorld, payments_world

pytestmark = pytest.mark.django_db
ROLES = ["cadre_a", "cadre_b", "township", "county", "finance", "auditor"]
SH = ZoneInfo("Asia/Shanghai")


@dataclass
class World:
    person: Any
    submitted: Any  # a case waiting for the township
    batch: Any  # an exported batch
    cases: Any = None  # rural-reward cases at each review step (cases_helpers.CasesWorld)
    pay: PayWorld | None = None  # cycle, draft batch, failed line (payments_helpers)
    change: Any = None  # a register change request waiting for the township (identity)
    handover: Any = None  # the hand-over record of a person moved out of the county


def world_data(personas: Personas) -> Iterator[World]:
    """Everything the matrix asks about, built on 2026-06-15 through actions."""
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        from datetime import date

        program = Program.objects.get(code="childcare-subsidy")
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
        paid = case_actions.submit_application(
            personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
            applicant=fam.mother, bank_account=fam.account)
        case_actions.township_review(personas.township, paid, approve=True)
        case_actions.county_confirm(personas.county, paid, approve=True)
        pay = payments_world(personas, program, fam)
        batch = pay.batch
        fam2 = make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3), surname="郑")
        submitted = case_actions.submit_application(
            personas.cadre_a, program=program, subject=fam2.child, claim_year=2026,
            applicant=fam2.mother, bank_account=fam2.account)
        from huimin.registry import actions as registry_actions
        from huimin.registry import changes

        change = changes.submit_change(
            personas.cadre_a, kind="identity", person=fam.child, reason="户口簿姓名有误",
            values={"name": "林小玉"}, evidence=(PNG, "户口簿.png"))
        leaving = make_family(personas.cadre_a, VILLAGE_A, date(2023, 3, 3), surname="冯")
        registry_actions.move_person(personas.cadre_a, leaving.father, to_code="445222102201",
                                     moved_on=date(2026, 6, 1))
        yield World(fam.child, submitted, batch, cases=matrix_world(personas), pay=pay,
                    change=change, handover=leaving.father.handovers.get())


@pytest.fixture(scope="module")
def _shared(module_transaction: None, django_db_blocker: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Personas, World]]:
    """The personas and the world, built once for this module's few hundred tests (each in
    its own savepoint, see ``module_transaction``)."""
    from django.test import override_settings

    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("matrix") / "media"):
        with django_db_blocker.unblock():
            people = make_personas()
            built = world_data(people)
            shared = next(built)
        yield people, shared
        with django_db_blocker.unblock():
            built.close()


@pytest.fixture
def personas(_shared: tuple[Personas, World], db: None) -> Personas:
    return copy.deepcopy(_shared[0])


@pytest.fixture
def world(_shared: tuple[Personas, World], personas: Personas) -> World:
    return copy.deepcopy(_shared[1])


@pytest.fixture
def own_world(personas: Personas, settings: Any, tmp_path: Any) -> Iterator[World]:
    """The same world built inside one test's own transaction beside the root ``personas``,
    for other modules (``from tests.web.test_access_matrix import own_world as world``)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    yield from world_data(personas)


def _file(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def _whatif_proposal() -> io.BytesIO:
    import huimin.rules

    shipped = Path(huimin.rules.__file__).parent / "programs" / "childcare-subsidy.yaml"
    text = shipped.read_text(encoding="utf-8").replace("monthly_rate_yuan: 300",
                                                       "monthly_rate_yuan: 350")
    return _file(text.encode(), "proposal.yaml")


@dataclass
class Spec:
    method: str
    url: Callable[[World], str]
    expected: dict[str, int]
    data: Callable[[World], dict[str, Any]] | None = None
    json: bool = False


ALL_OK = dict.fromkeys(ROLES, 200)
PAY_OUTSIDERS = {"cadre_a": 404, "cadre_b": 404, "township": 404}  # payments are county-level


def only(ok: int, roles: list[str], outsider: dict[str, int] | None = None,
         other: int = 403) -> dict[str, int]:
    out = {r: (ok if r in roles else other) for r in ROLES}
    out.update(outsider or {})
    return out


VIEWS: dict[str, Spec] = {
    "home": Spec("GET", lambda w: reverse("home"), ALL_OK),
    # every user's own account pages (nobody has a TOTP device yet: verify sends to enrol)
    "password_change": Spec("GET", lambda w: reverse("password_change"), ALL_OK),
    "password_change_done": Spec("GET", lambda w: reverse("password_change_done"), ALL_OK),
    "totp_enrol": Spec("GET", lambda w: reverse("totp_enrol"), ALL_OK),
    "totp_verify": Spec("GET", lambda w: reverse("totp_verify"), dict.fromkeys(ROLES, 302)),
    "registry:persons": Spec("GET", lambda w: reverse("registry:persons"), ALL_OK),
    "registry:person": Spec("GET", lambda w: reverse("registry:person", args=[w.person.pk]),
                            {**ALL_OK, "cadre_b": 404}),
    "registry:import": Spec(
        "POST", lambda w: reverse("registry:import"),
        only(400, ["cadre_a", "cadre_b", "township"]),
        data=lambda w: {"file": _file("户号\n".encode(), "x.csv")}),
    "registry:person_new": Spec("GET", lambda w: reverse("registry:person_new"),
                                only(200, ["cadre_a", "cadre_b", "township"])),
    "registry:template": Spec("GET", lambda w: reverse("registry:template", args=["xlsx"]),
                              ALL_OK),
    "cases:list": Spec("GET", lambda w: reverse("cases:list"), ALL_OK),
    "cases:new": Spec("GET", lambda w: reverse("cases:new"),
                      only(200, ["cadre_a", "cadre_b", "township"])),
    "cases:detail": Spec("GET", lambda w: reverse("cases:detail", args=[w.submitted.pk]),
                         {**ALL_OK, "cadre_b": 404}),
    "cases:act": Spec("POST", lambda w: reverse("cases:act", args=[w.submitted.pk]),
                      only(302, ["township"], {"cadre_b": 404}),
                      data=lambda w: {"transition": "township_approve"}),
    # a case no longer suspended: the county approver is let in and told so (302 back)
    "cases:resume": Spec("POST", lambda w: reverse("cases:resume", args=[w.submitted.pk]),
                         only(302, ["county"], {"cadre_b": 404}),
                         data=lambda w: {"reason": "经核实未迁出"}),
    "cases:stop": Spec("POST", lambda w: reverse("cases:stop", args=[w.submitted.pk]),
                       only(302, ["county"], {"cadre_b": 404}),
                       data=lambda w: {"stopped_on": "2026-06-01", "reason": "已迁出本县"}),
    "cases:bulk": Spec("GET", lambda w: reverse("cases:bulk"),
                       only(200, ["cadre_a", "cadre_b", "township"])),
    "cases:bulk_template": Spec("GET", lambda w: reverse("cases:bulk_template"), ALL_OK),
    "cases:upload": Spec(
        "POST", lambda w: reverse("cases:upload", args=[w.cases.posted.pk]),
        only(302, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"doc_type": w.cases.document.doc_type_id,
                        "file": _file(PNG, "scan.png")}),
    "cases:document": Spec(
        "GET", lambda w: reverse("cases:document", args=[w.cases.posted.pk,
                                                         w.cases.document.pk]),
        {**ALL_OK, "cadre_b": 404}),
    "cases:objection": Spec(
        "POST", lambda w: reverse("cases:objection", args=[w.cases.posted.pk]),
        only(302, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"content": "年龄有疑问"}),
    "cases:objection_resolve": Spec(
        "POST", lambda w: reverse("cases:objection_resolve", args=[w.cases.objection.pk]),
        only(302, ["cadre_a"], {"cadre_b": 404}),
        data=lambda w: {"upheld": "0", "finding": "经核实不成立"}),
    "cases:letter": Spec("GET", lambda w: reverse("cases:letter", args=[w.cases.rejected.pk]),
                         {**ALL_OK, "cadre_b": 404}),
    "notices:list": Spec("GET", lambda w: reverse("notices:list"), ALL_OK),
    "notices:new": Spec("GET", lambda w: reverse("notices:new"),
                        only(200, ["cadre_a", "cadre_b", "township", "county"])),
    "notices:detail": Spec("GET", lambda w: reverse("notices:detail", args=[w.cases.notice.pk]),
                           {**ALL_OK, "cadre_b": 404}),
    "notices:pdf": Spec("GET", lambda w: reverse("notices:pdf", args=[w.cases.notice.pk]),
                        {**ALL_OK, "cadre_b": 404}),
    "registry:household": Spec(
        "GET", lambda w: reverse("registry:household", args=[w.cases.household.pk]),
        {**ALL_OK, "cadre_b": 404}),
    "registry:household_pdf": Spec(
        "GET", lambda w: reverse("registry:household_pdf", args=[w.cases.household.pk]),
        {**ALL_OK, "cadre_b": 404}),
    "audit:search": Spec("GET", lambda w: reverse("audit:search") + "?user=cadre_a",
                         only(200, ["auditor"])),
    "payments:list": Spec("GET", lambda w: reverse("payments:list"), ALL_OK),
    "payments:cycle_new": Spec("POST", lambda w: reverse("payments:cycle_new"),
                               only(302, ["finance"]),
                               data=lambda w: {"program": "childcare-subsidy",
                                               "claim_year": "2026"}),
    "payments:cycle": Spec("GET", lambda w: reverse("payments:cycle", args=[w.pay.cycle.pk]),
                           {**ALL_OK, **PAY_OUTSIDERS}),
    "payments:reconcile": Spec(
        "GET", lambda w: reverse("payments:reconcile", args=[w.pay.cycle.pk]),
        {**ALL_OK, **PAY_OUTSIDERS}),
    "payments:reconcile_xlsx": Spec(
        "GET", lambda w: reverse("payments:reconcile_xlsx", args=[w.pay.cycle.pk]),
        {**ALL_OK, **PAY_OUTSIDERS}),
    "payments:new": Spec("POST", lambda w: reverse("payments:new"),
                         only(302, ["finance"], PAY_OUTSIDERS),
                         data=lambda w: {"cycle": w.pay.cycle.pk}),
    "payments:release": Spec(
        "POST", lambda w: reverse("payments:release", args=[w.pay.draft.pk]),
        only(302, ["county"], PAY_OUTSIDERS)),
    "payments:correct": Spec(
        "POST", lambda w: reverse("payments:correct", args=[w.pay.failed_line.pk]),
        only(302, ["finance"], PAY_OUTSIDERS),
        data=lambda w: {"bank_account": w.pay.new_account.pk, "note": "已核实"}),
    "payments:detail": Spec("GET", lambda w: reverse("payments:detail", args=[w.batch.pk]),
                            {**ALL_OK, "cadre_a": 404, "cadre_b": 404, "township": 404}),
    # the world's batch is exported already: export again says so on the batch page
    "payments:export": Spec("POST", lambda w: reverse("payments:export", args=[w.batch.pk]),
                            only(302, ["finance"], {"cadre_a": 404, "cadre_b": 404,
                                                    "township": 404})),
    "payments:download": Spec("GET", lambda w: reverse("payments:download", args=[w.batch.pk]),
                              only(200, ["finance"], {"cadre_a": 404, "cadre_b": 404,
                                                      "township": 404})),
    "payments:return": Spec(
        "POST", lambda w: reverse("payments:return", args=[w.batch.pk]),
        only(302, ["finance"], {"cadre_a": 404, "cadre_b": 404, "township": 404}),
        data=lambda w: {"file": _file(pay_actions.sample_return(w.batch), "r.csv")}),
    # recoveries (追回管理): finance records, the county approver and auditors read
    "payments:recoveries": Spec("GET", lambda w: reverse("payments:recoveries"),
                                only(200, ["county", "finance", "auditor"])),
    "payments:recovery": Spec(
        "GET", lambda w: reverse("payments:recovery", args=[w.pay.recovery.pk]),
        only(200, ["county", "finance", "auditor"])),
    "payments:recovery_repay": Spec(
        "POST", lambda w: reverse("payments:recovery_repay", args=[w.pay.recovery.pk]),
        only(302, ["finance"]),
        data=lambda w: {"amount": "10", "date": "2026-06-15", "receipt": "BK1"}),
    # no later entitlement of the household to offset against: refused with the reason
    "payments:recovery_offset": Spec(
        "POST", lambda w: reverse("payments:recovery_offset", args=[w.pay.recovery.pk]),
        only(400, ["finance"]), data=lambda w: {"amount": "10", "date": "2026-06-15"}),
    "payments:recovery_write_off": Spec(
        "POST", lambda w: reverse("payments:recovery_write_off", args=[w.pay.recovery.pk]),
        only(400, ["finance"]),  # one request is waiting already
        data=lambda w: {"amount": "10", "date": "2026-06-15", "note": "无力退缴"}),
    "payments:recovery_approve": Spec(
        "POST", lambda w: reverse("payments:recovery_approve",
                                  args=[w.pay.recovery.pk, w.pay.write_off.pk]),
        only(302, ["county"], {"finance": 400})),  # finance asked for it
    "payments:recovery_decline": Spec(
        "POST", lambda w: reverse("payments:recovery_decline",
                                  args=[w.pay.recovery.pk, w.pay.write_off.pk]),
        only(302, ["county"], {"finance": 400}),  # finance asked for it
        data=lambda w: {"reason": "应继续追回"}),
    "payments:recoveries_export": Spec("POST", lambda w: reverse("payments:recoveries_export"),
                                       only(200, ["county", "finance", "auditor"])),
    "reports:summary": Spec("GET", lambda w: reverse("reports:summary"), ALL_OK),
    # register change requests
    "registry:person_change_new": Spec(
        "GET", lambda w: reverse("registry:person_change_new", args=[w.person.pk]),
        only(200, ["cadre_a", "township", "county"], {"cadre_b": 404})),
    "registry:household_change_new": Spec(
        "GET", lambda w: reverse("registry:household_change_new", args=[w.cases.household.pk]),
        only(200, ["cadre_a", "township", "county"], {"cadre_b": 404})),
    "registry:changes": Spec("GET", lambda w: reverse("registry:changes") + "?status=all",
                             ALL_OK),
    # 批量确认: the submitter (cadre_a) may not decide its own request, 403 naming it
    "registry:changes_preview": Spec(
        "POST", lambda w: reverse("registry:changes_preview"),
        only(200, ["township", "county"], {"cadre_b": 404}),
        data=lambda w: {"change": w.change.pk}),
    "registry:changes_confirm": Spec(
        "POST", lambda w: reverse("registry:changes_confirm"),
        only(302, ["township", "county"], {"cadre_b": 404}),
        data=lambda w: {"change": w.change.pk}),
    "registry:change": Spec("GET", lambda w: reverse("registry:change", args=[w.change.pk]),
                            {**ALL_OK, "cadre_b": 404}),
    "registry:change_confirm": Spec(
        "POST", lambda w: reverse("registry:change_confirm", args=[w.change.pk]),
        only(302, ["township", "county"], {"cadre_b": 404})),
    "registry:change_reject": Spec(
        "POST", lambda w: reverse("registry:change_reject", args=[w.change.pk]),
        only(302, ["township", "county"], {"cadre_b": 404}), data=lambda w: {"reason": "不符"}),
    "registry:change_evidence": Spec(
        "GET", lambda w: reverse("registry:change_evidence", args=[w.change.pk]),
        {**ALL_OK, "cadre_b": 404}),
    "registry:handover_import": Spec("GET", lambda w: reverse("registry:handover_import"),
                                     only(200, ["cadre_a", "cadre_b", "township"])),
    "registry:handover": Spec(
        "GET", lambda w: reverse("registry:handover", args=[w.handover.pk, "json"]),
        only(200, ["cadre_a", "township", "county"], {"cadre_b": 404})),
    "programs:whatif_document": Spec(
        "GET", lambda w: reverse("programs:whatif_document") + "?program=childcare-subsidy",
        only(200, ["county", "finance", "auditor"])),
    "programs:whatif": Spec("POST", lambda w: reverse("programs:whatif"),
                            only(200, ["county", "finance", "auditor"]),
                            data=lambda w: {"program": "childcare-subsidy", "years": "2026",
                                            "proposal": _whatif_proposal()}),
    # civil-data feeds (huimin.verification)
    "feeds:index": Spec("GET", lambda w: reverse("feeds:index"), ALL_OK),
    "feeds:file": Spec("GET", lambda w: reverse("feeds:file", args=[feeds_world(w).file.pk]),
                       {**ALL_OK, "cadre_b": 404}),
    "feeds:exceptions": Spec("GET", lambda w: reverse("feeds:exceptions"), ALL_OK),
    "feeds:template": Spec("GET", lambda w: reverse("feeds:template", args=["death", "xlsx"]),
                           ALL_OK),
    "feeds:effects": Spec("GET", lambda w: reverse("feeds:effects"), ALL_OK),
    "feeds:preview": Spec("POST", lambda w: reverse("feeds:preview"), only(200, ["county"]),
                          data=lambda w: {"effect": feeds_world(w).offer.pk}),
    "feeds:confirm": Spec("POST", lambda w: reverse("feeds:confirm"), only(302, ["county"]),
                          data=lambda w: {"effect": feeds_world(w).offer.pk}),
    "feeds:dismiss": Spec(
        "POST", lambda w: reverse("feeds:dismiss", args=[feeds_world(w).offer.pk]),
        only(302, ["county"], {"cadre_b": 404}), data=lambda w: {"note": "已联系"}),
    "feeds:offers": Spec("GET", lambda w: reverse("feeds:offers"), ALL_OK),
    "feeds:tokens": Spec("GET", lambda w: reverse("feeds:tokens"), only(200, ["county"])),
    "feeds:token_revoke": Spec(
        "POST", lambda w: reverse("feeds:token_revoke", args=[feeds_world(w).token.pk]),
        only(302, ["county"])),
    # lists (huimin.listing): exports are POSTs; the full numbers only for the roles named
    "registry:households": Spec("GET", lambda w: reverse("registry:households"), ALL_OK),
    "registry:persons_export": Spec("POST", lambda w: reverse("registry:persons_export"),
                                    only(200, ["county"]), data=lambda w: {"unmasked": "1"}),
    "registry:households_export": Spec("POST", lambda w: reverse("registry:households_export"),
                                       ALL_OK),
    "cases:export": Spec("POST", lambda w: reverse("cases:export"),
                         only(200, ["county", "finance"]), data=lambda w: {"unmasked": "1"}),
    "notices:export": Spec("POST", lambda w: reverse("notices:export"), ALL_OK),
    "payments:cycles": Spec("GET", lambda w: reverse("payments:cycles"), ALL_OK),
    "payments:cycles_export": Spec("POST", lambda w: reverse("payments:cycles_export"), ALL_OK),
    "payments:batches_export": Spec("POST", lambda w: reverse("payments:batches_export"),
                                    ALL_OK),
    "audit:export": Spec("POST", lambda w: reverse("audit:export"), only(200, ["auditor"]),
                         data=lambda w: {"user": "cadre_a"}),
    # the front (huimin.front): a village's or township's payment lines, read only
    "front:area_payments": Spec("GET", lambda w: reverse("front:area_payments"),
                                only(200, ["cadre_a", "cadre_b", "township"])),
    # bank files (bankfiles): another layout or cancel a batch not yet exported, a bank
    # statement of an exported one, the printable roster (finance and the county approver)
    "payments:relayout": Spec(
        "POST", lambda w: reverse("payments:relayout", args=[w.pay.draft.pk]),
        only(302, ["finance"], PAY_OUTSIDERS),
        data=lambda w: {"layout": "abc-xlsx", "note": "改用农行格式"}),
    "payments:cancel": Spec(
        "POST", lambda w: reverse("payments:cancel", args=[w.pay.draft.pk]),
        only(302, ["county", "finance"], PAY_OUTSIDERS), data=lambda w: {"reason": "建错了"}),
    "payments:statement": Spec(
        "POST", lambda w: reverse("payments:statement", args=[w.batch.pk]),
        only(302, ["finance"], PAY_OUTSIDERS),
        data=lambda w: {"file": _file("交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
                                      .encode(), "st.csv")}),
    "payments:roster": Spec("GET", lambda w: reverse("payments:roster", args=[w.batch.pk]),
                            only(200, ["county", "finance"], PAY_OUTSIDERS)),
    # identity resolution (duplicate persons)
    "identity:queue": Spec("GET", lambda w: reverse("identity:queue"),
                           only(200, ["township", "county"])),
    "identity:pair": Spec("GET", lambda w: reverse("identity:pair",
                                                   args=[identity_world(w).pk]),
                          only(200, ["township", "county"])),
    "identity:decide": Spec("POST", lambda w: reverse("identity:decide"),
                            only(302, ["township", "county"]),
                            data=lambda w: {"pair": str(identity_world(w).pk),
                                            f"decision_{identity_world(w).pk}": "different",
                                            "reason": "核对户口簿：双胞胎"}),
    "identity:decide_claim": Spec(
        "POST", lambda w: reverse("identity:decide_claim", args=[claim_world(w).pk]),
        only(302, ["county"]), data=lambda w: {"decision": "field_check",
                                               "reason": "请村里核对出生证明"}),
    # the user manual: no personal data, every signed-in role reads every manual
    "help:page": Spec("GET", lambda w: reverse("help:page"), ALL_OK),
    "help:role": Spec("GET", lambda w: reverse("help:role", args=["finance_officer"]), ALL_OK),
    "help:image": Spec("GET", lambda w: reverse("help:image", args=["auditor-audit.png"]),
                       ALL_OK),
}

NOT_IN_AREA = {"cadre_a": 404, "cadre_b": 404, "township": 404}
API: dict[tuple[str, str], Spec] = {
    ("GET", "/api/persons"): Spec("GET", lambda w: "/api/persons", ALL_OK),
    ("POST", "/api/persons/search"): Spec(
        "POST", lambda w: "/api/persons/search", ALL_OK,
        data=lambda w: {"id_number": w.person.id_number}, json=True),
    ("GET", "/api/persons/{person_id}"): Spec(
        "GET", lambda w: f"/api/persons/{w.person.pk}", {**ALL_OK, "cadre_b": 404}),
    ("GET", "/api/cases"): Spec("GET", lambda w: "/api/cases", ALL_OK),
    ("POST", "/api/cases"): Spec(
        "POST", lambda w: "/api/cases",
        only(409, ["cadre_a", "township"], {"cadre_b": 404}),
        data=lambda w: {"subject_id": w.submitted.subject_id,
                        "applicant_id": w.submitted.applicant_id, "claim_year": 2026},
        json=True),
    ("GET", "/api/cases/{case_id}"): Spec(
        "GET", lambda w: f"/api/cases/{w.submitted.pk}", {**ALL_OK, "cadre_b": 404}),
    ("POST", "/api/cases/{case_id}/township-review"): Spec(
        "POST", lambda w: f"/api/cases/{w.submitted.pk}/township-review",
        only(200, ["township"], {"cadre_b": 404}), data=lambda w: {"approve": True}, json=True),
    ("POST", "/api/cases/{case_id}/county-confirm"): Spec(
        "POST", lambda w: f"/api/cases/{w.submitted.pk}/county-confirm",
        only(409, ["county"], {"cadre_b": 404}), data=lambda w: {"approve": True}, json=True),
    ("POST", "/api/cases/{case_id}/decide"): Spec(
        "POST", lambda w: f"/api/cases/{w.cases.fresh.pk}/decide",
        only(200, ["cadre_a"], {"cadre_b": 404}), data=lambda w: {"action": "approve"},
        json=True),
    ("POST", "/api/cases/{case_id}/resubmit"): Spec(
        "POST", lambda w: f"/api/cases/{w.cases.returned.pk}/resubmit",
        only(200, ["cadre_a", "township"], {"cadre_b": 404}),
        data=lambda w: {"comment": "已补交"}, json=True),
    ("POST", "/api/cases/{case_id}/review-request"): Spec(
        "POST", lambda w: f"/api/cases/{w.cases.rejected.pk}/review-request",
        only(200, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"comment": "申请人补充了证明"}, json=True),
    ("POST", "/api/cases/{case_id}/resume"): Spec(
        "POST", lambda w: f"/api/cases/{w.submitted.pk}/resume",
        only(409, ["county"], {"cadre_b": 404}), data=lambda w: {"reason": "经核实未迁出"},
        json=True),
    ("POST", "/api/cases/{case_id}/stop"): Spec(
        "POST", lambda w: f"/api/cases/{w.submitted.pk}/stop",
        only(409, ["county"], {"cadre_b": 404}),
        data=lambda w: {"stopped_on": "2026-06-01", "reason": "已迁出本县"}, json=True),
    ("GET", "/api/cases/{case_id}/documents"): Spec(
        "GET", lambda w: f"/api/cases/{w.cases.posted.pk}/documents",
        {**ALL_OK, "cadre_b": 404}),
    ("POST", "/api/cases/{case_id}/documents"): Spec(
        "POST", lambda w: f"/api/cases/{w.cases.posted.pk}/documents",
        only(201, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"doc_type": "id_card", "file": _file(PNG, "id.png")}),
    ("POST", "/api/cases/{case_id}/objections"): Spec(
        "POST", lambda w: f"/api/cases/{w.cases.posted.pk}/objections",
        only(201, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"content": "年龄有疑问"}, json=True),
    ("POST", "/api/objections/{objection_id}/resolve"): Spec(
        "POST", lambda w: f"/api/objections/{w.cases.objection.pk}/resolve",
        only(200, ["cadre_a"], {"cadre_b": 404}),
        data=lambda w: {"upheld": False, "finding": "经核实不成立"}, json=True),
    ("GET", "/api/worklist"): Spec("GET", lambda w: "/api/worklist", ALL_OK),
    ("GET", "/api/notices"): Spec("GET", lambda w: "/api/notices", ALL_OK),
    ("POST", "/api/notices"): Spec(
        "POST", lambda w: "/api/notices",
        only(400, ["cadre_b", "township", "county"], {"cadre_a": 201}),
        data=lambda w: {"program": "rural-reward", "start_on": "2026-06-15",
                        "objection_info": "村委会"}, json=True),
    ("GET", "/api/notices/{notice_id}"): Spec(
        "GET", lambda w: f"/api/notices/{w.cases.notice.pk}", {**ALL_OK, "cadre_b": 404}),
    ("GET", "/api/batches"): Spec("GET", lambda w: "/api/batches", ALL_OK),
    ("GET", "/api/cycles"): Spec("GET", lambda w: "/api/cycles", ALL_OK),
    ("POST", "/api/cycles"): Spec("POST", lambda w: "/api/cycles", only(201, ["finance"]),
                                  data=lambda w: {"claim_year": 2026}, json=True),
    ("GET", "/api/cycles/{cycle_id}"): Spec(
        "GET", lambda w: f"/api/cycles/{w.pay.cycle.pk}", {**ALL_OK, **NOT_IN_AREA}),
    ("GET", "/api/cycles/{cycle_id}/reconciliation"): Spec(
        "GET", lambda w: f"/api/cycles/{w.pay.cycle.pk}/reconciliation",
        {**ALL_OK, **NOT_IN_AREA}),
    ("POST", "/api/batches"): Spec("POST", lambda w: "/api/batches",
                                   only(400, ["finance"], NOT_IN_AREA),
                                   data=lambda w: {"cycle_id": w.pay.cycle.pk}, json=True),
    ("POST", "/api/batches/{batch_id}/release"): Spec(
        "POST", lambda w: f"/api/batches/{w.pay.draft.pk}/release",
        only(200, ["county"], NOT_IN_AREA)),
    ("POST", "/api/lines/{line_id}/correct"): Spec(
        "POST", lambda w: f"/api/lines/{w.pay.failed_line.pk}/correct",
        only(200, ["finance"], NOT_IN_AREA),
        data=lambda w: {"bank_account_id": w.pay.new_account.pk, "note": "已核实"}, json=True),
    ("GET", "/api/batches/{batch_id}"): Spec(
        "GET", lambda w: f"/api/batches/{w.batch.pk}", {**ALL_OK, **NOT_IN_AREA}),
    ("GET", "/api/batches/{batch_id}/bank-file"): Spec(
        "GET", lambda w: f"/api/batches/{w.batch.pk}/bank-file", only(200, ["finance"],
                                                                       NOT_IN_AREA)),
    ("POST", "/api/batches/{batch_id}/export"): Spec(  # exported already: 409 for finance
        "POST", lambda w: f"/api/batches/{w.batch.pk}/export", only(409, ["finance"],
                                                                     NOT_IN_AREA)),
    ("POST", "/api/batches/{batch_id}/return"): Spec(
        "POST", lambda w: f"/api/batches/{w.batch.pk}/return",
        only(200, ["finance"], NOT_IN_AREA),
        data=lambda w: {"file": _file(pay_actions.sample_return(w.batch), "r.csv")}),
    # feeds: the source systems' endpoint takes a feed token, never a login
    ("POST", "/api/feeds/events"): Spec(
        "POST", lambda w: "/api/feeds/events", dict.fromkeys(ROLES, 401),
        data=lambda w: {"kind": "death", "events": [{"event_id": "1"}]}, json=True),
    ("GET", "/api/feeds/files"): Spec("GET", lambda w: "/api/feeds/files", ALL_OK),
    ("GET", "/api/feeds/effects"): Spec("GET", lambda w: "/api/feeds/effects", ALL_OK),
    ("POST", "/api/feeds/effects/{effect_id}/confirm"): Spec(
        "POST", lambda w: f"/api/feeds/effects/{feeds_world(w).offer.pk}/confirm",
        only(200, ["county"], {"cadre_b": 404}), data=lambda w: {"note": ""}, json=True),
    ("POST", "/api/feeds/effects/{effect_id}/dismiss"): Spec(
        "POST", lambda w: f"/api/feeds/effects/{feeds_world(w).offer.pk}/dismiss",
        only(200, ["county"], {"cadre_b": 404}), data=lambda w: {"note": "已联系"},
        json=True),
    ("POST", "/api/registry/changes"): Spec(
        "POST", lambda w: "/api/registry/changes",
        only(201, ["cadre_a", "township", "county"], {"cadre_b": 404}),
        data=lambda w: {"kind": "death", "person_id": w.person.pk, "reason": "卫健局通报",
                        "values": {"death_date": "2026-06-01", "source": "卫健局"}},
        json=True),
    ("GET", "/api/registry/changes"): Spec("GET", lambda w: "/api/registry/changes", ALL_OK),
    ("POST", "/api/registry/changes/confirm"): Spec(
        "POST", lambda w: "/api/registry/changes/confirm",
        only(200, ["township", "county"], {"cadre_b": 404}),
        data=lambda w: {"ids": [w.change.pk], "preview": False}, json=True),
    ("GET", "/api/registry/changes/{change_id}"): Spec(
        "GET", lambda w: f"/api/registry/changes/{w.change.pk}", {**ALL_OK, "cadre_b": 404}),
    ("POST", "/api/registry/changes/{change_id}/confirm"): Spec(
        "POST", lambda w: f"/api/registry/changes/{w.change.pk}/confirm",
        only(200, ["township", "county"], {"cadre_b": 404})),
    ("POST", "/api/registry/changes/{change_id}/reject"): Spec(
        "POST", lambda w: f"/api/registry/changes/{w.change.pk}/reject",
        only(200, ["township", "county"], {"cadre_b": 404}),
        data=lambda w: {"reason": "不符"}, json=True),
    ("GET", "/api/registry/handovers/{handover_id}"): Spec(
        "GET", lambda w: f"/api/registry/handovers/{w.handover.pk}",
        only(200, ["cadre_a", "township", "county"], {"cadre_b": 404})),
    ("POST", "/api/registry/handovers/import"): Spec(  # not a record: 400 for who may import
        "POST", lambda w: "/api/registry/handovers/import",
        only(400, ["cadre_a", "cadre_b", "township"]),
        data=lambda w: {"file": _file(b"not a record", "r.json")}),
    # recoveries (追回): finance records (a repayment with its receipt), county and audit read
    ("GET", "/api/recoveries"): Spec("GET", lambda w: "/api/recoveries",
                                     only(200, ["county", "finance", "auditor"])),
    ("POST", "/api/recoveries/{recovery_id}/movements"): Spec(
        "POST", lambda w: f"/api/recoveries/{w.pay.recovery.pk}/movements",
        only(201, ["finance"]),
        data=lambda w: {"method": "repayment", "amount_fen": 1000, "on_date": "2026-06-15",
                        "receipt": "BK1"}, json=True),
}
IGNORED_NAMESPACES = {"admin", "api"}
IGNORED_NAMES = {"login", "logout"}


def _names(patterns: list[Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace in IGNORED_NAMESPACES:
                continue
            ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
            out |= _names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name and p.name not in IGNORED_NAMES:
            out.add(prefix + p.name)
    return out


def test_matrix_covers_every_endpoint() -> None:
    from huimin.api import api

    assert _names(get_resolver().url_patterns) == set(VIEWS)
    schema = api.get_openapi_schema()
    operations = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}
    assert operations == set(API)


def _call(client: Client, spec: Spec, world: World) -> Any:
    url = spec.url(world)
    data = spec.data(world) if spec.data else {}
    if spec.method == "GET":
        return client.get(url)
    if spec.json:
        return client.post(url, data, content_type="application/json")
    return client.post(url, data)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_access(name: str, role: str, personas: Personas, world: World) -> None:
    spec = VIEWS[name]
    client = Client()
    client.login(username=getattr(personas, role).username, password=PASSWORD)
    with time_machine.travel(datetime(2026, 6, 15, 11, 0, tzinfo=SH), tick=False):
        resp = _call(client, spec, world)
    assert resp.status_code == spec.expected[role], resp.content[:300]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(API), ids=lambda k: f"{k[0]} {k[1]}")
def test_api_access(key: tuple[str, str], role: str, personas: Personas, world: World) -> None:
    spec = API[key]
    client = Client()
    client.login(username=getattr(personas, role).username, password=PASSWORD)
    with time_machine.travel(datetime(2026, 6, 15, 11, 0, tzinfo=SH), tick=False):
        resp = _call(client, spec, world)
    assert resp.status_code == spec.expected[role], resp.content[:300]


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_anonymous_is_sent_to_login(name: str, world: World) -> None:
    resp = _call(Client(), VIEWS[name], world)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")


@pytest.mark.parametrize("key", sorted(API), ids=lambda k: f"{k[0]} {k[1]}")
def test_anonymous_api_is_401(key: tuple[str, str], world: World) -> None:
    assert _call(Client(), API[key], world).status_code == 401


def test_person_view_is_logged(personas: Personas, world: World) -> None:
    from huimin.audit.models import AuditEvent

    client = Client()
    client.login(username="auditor", password=PASSWORD)
    client.get(reverse("registry:person", args=[world.person.pk]))
    client.get(f"/api/persons/{world.person.pk}")
    views = AuditEvent.objects.filter(action="person.view", person_id=world.person.pk)
    assert views.count() == 2
    assert set(views.values_list("actor__username", flat=True)) == {"auditor"}


def test_lists_show_only_own_area(personas: Personas, world: World) -> None:
    client = Client()
    client.login(username="cadre_b", password=PASSWORD)
    assert client.get("/api/cases").json() == []
    assert client.get("/api/persons").json() == []
    client.login(username="cadre_a", password=PASSWORD)
    from huimin.cases.models import Case

    in_area = Case.objects.filter(area__code=VILLAGE_A).count()
    assert in_area >= 2 and len(client.get("/api/cases").json()) == in_area
