"""A duplicate claim holds the payment back while it waits for the county's decision: at
freezing, and for what was frozen before the claim was found; 核实无重复 releases it, and the
decision is the county's alone, audited, with a reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict
from huimin.identity import actions, runs
from huimin.identity.models import PENDING, DuplicateClaim, PairStatus
from huimin.payments import actions as pay_actions
from huimin.payments import holds
from huimin.payments.actions import cycles
from huimin.payments.models import Entitlement, EntitlementStatus, HeldReason
from huimin.programs.models import Program
from tests.conftest import PASSWORD, Personas
from tests.web.payments_helpers import _approved

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c


def _program() -> Program:
    return Program.objects.get(code="childcare-subsidy")


def _claim_elsewhere(personas: Personas, person: Any, tmp_path: Path) -> DuplicateClaim:
    """The person's child claimed in 揭西县's neighbour 440524 too, per a national snapshot."""
    key = runs.person_key(person.id_hash)
    path = tmp_path / "national.parquet"
    pq.write_table(pa.table({"person_key": pa.array([key], pa.int64()),
                             "hukou_area_code": ["440524101001"]}), path)
    assert runs.run_claims(personas.county, path).new == 1
    return DuplicateClaim.objects.get(person=person)


def _entitlement(case_subject: Any) -> Entitlement:
    return Entitlement.objects.get(case__subject=case_subject)


def test_the_sql_of_freezing_names_the_same_pending_statuses_as_identity() -> None:
    assert "(" + ", ".join(f"'{s}'" for s in PENDING) + ")" == cycles.CLAIM_PENDING
    assert DuplicateClaim._meta.db_table == cycles.T_CLAIM


def test_freezing_holds_a_case_with_an_open_claim_and_the_decision_releases_it(
        personas: Personas, tmp_path: Path) -> None:
    fam = _approved(personas, _program(), date(2024, 2, 2), "郑")
    other = _approved(personas, _program(), date(2024, 3, 3), "钱")
    claim = _claim_elsewhere(personas, fam.child, tmp_path)
    cycle = pay_actions.build_cycle(personas.finance, program=_program(), claim_year=2026)
    held, paid = _entitlement(fam.child), _entitlement(other.child)
    assert (held.status, held.held_reason) == (EntitlementStatus.HELD, HeldReason.DUPLICATE)
    assert paid.status == EntitlementStatus.PAYABLE
    cycle.refresh_from_db()
    assert cycle.held_count == 1 and cycle.held_fen == held.amount_fen
    # finance cannot release it by hand while the claim is open
    with pytest.raises(Conflict, match="疑似重复申领尚未裁定"):
        holds.release_case(personas.finance, held.case, reason="已核实")
    held.refresh_from_db()
    assert held.status == EntitlementStatus.HELD
    # a batch leaves it out
    batch = pay_actions.create_batch(personas.finance, cycle)
    assert list(batch.lines.values_list("case_id", flat=True)) == [paid.case_id]
    # the county finds no duplicate: released, audited with the reason
    actions.decide_claim(personas.county, claim.pk, "not_duplicate", "与揭西县核实，系同名不同人")
    held.refresh_from_db()
    claim.refresh_from_db()
    assert held.status == EntitlementStatus.PAYABLE and held.held_reason == ""
    assert claim.status == PairStatus.DIFFERENT and claim.decided_by == personas.county
    event = AuditEvent.objects.get(action="identity.claim_decided", object_id=str(claim.pk))
    assert event.data["released"] == 1 and event.data["decision"] == "not_duplicate"
    assert AuditEvent.objects.filter(action="payment.release", case_id=held.case_id).exists()
    assert actions.open_duplicate_claim(held.case) is False


def test_a_claim_found_after_freezing_holds_what_waits_for_a_batch(
        personas: Personas, tmp_path: Path) -> None:
    fam = _approved(personas, _program(), date(2024, 2, 2), "郑")
    pay_actions.build_cycle(personas.finance, program=_program(), claim_year=2026)
    assert _entitlement(fam.child).status == EntitlementStatus.PAYABLE
    claim = _claim_elsewhere(personas, fam.child, tmp_path)
    ent = _entitlement(fam.child)
    assert (ent.status, ent.held_reason) == (EntitlementStatus.HELD, HeldReason.DUPLICATE)
    assert "同一人在两个县申领" in ent.held_note and "440524" in ent.held_note
    # 确属重复: the payment stays held, the claim is closed
    actions.decide_claim(personas.county, claim.pk, "duplicate", "揭西县已发放，本县终止")
    ent.refresh_from_db()
    assert ent.status == EntitlementStatus.HELD
    with pytest.raises(Conflict, match="已裁定（确属重复申领）"):
        actions.decide_claim(personas.county, claim.pk, "not_duplicate", "改判")


def test_a_decision_is_refused_without_a_reason_a_known_decision_or_the_county(
        personas: Personas, tmp_path: Path) -> None:
    fam = _approved(personas, _program(), date(2024, 2, 2), "郑")
    claim = _claim_elsewhere(personas, fam.child, tmp_path)
    with pytest.raises(ActionError, match="请填写理由"):
        actions.decide_claim(personas.county, claim.pk, "not_duplicate", "  ")
    with pytest.raises(ActionError, match="裁决应为"):
        actions.decide_claim(personas.county, claim.pk, "maybe", "看不准")
    with pytest.raises(PermissionDenied, match="仅限县级审批员"):
        actions.decide_claim(personas.township, claim.pk, "not_duplicate", "核实")
    with pytest.raises(Http404):
        actions.decide_claim(personas.county_b, claim.pk, "not_duplicate", "核实")
    claim.refresh_from_db()
    assert claim.status == PairStatus.OPEN and claim.decided_by is None
    assert not AuditEvent.objects.filter(action="identity.claim_decided").exists()
    # 需实地核查 keeps it open: still holding
    actions.decide_claim(personas.county, claim.pk, "field_check", "请村里核对出生证明")
    claim.refresh_from_db()
    assert claim.status == PairStatus.FIELD_CHECK and claim.status in PENDING


def test_the_queue_shows_claims_and_only_the_county_may_decide(
        personas: Personas, tmp_path: Path) -> None:
    fam = _approved(personas, _program(), date(2024, 2, 2), "郑")
    claim = _claim_elsewhere(personas, fam.child, tmp_path)
    county = _client(personas.county)
    from huimin.front.tiles import collect

    tiles = {t.key: t for t in collect(personas.county)}
    assert tiles["identity.claims"].count == 1 and tiles["identity.claims"].url.endswith("#claims")
    assert "identity.claims" not in {t.key for t in collect(personas.township)}
    assert collect(personas.finance) == [t for t in collect(personas.finance)
                                         if not t.key.startswith("identity.")]
    html = county.get(reverse("identity:queue")).content.decode()
    assert fam.child.id_masked in html and "同一人在两个县申领" in html
    assert reverse("identity:decide_claim", args=[claim.pk]) in html
    township_html = _client(personas.township).get(reverse("identity:queue")).content.decode()
    assert fam.child.id_masked in township_html
    assert reverse("identity:decide_claim", args=[claim.pk]) not in township_html
    url = reverse("identity:decide_claim", args=[claim.pk])
    assert _client(personas.township).post(url, {"decision": "not_duplicate",
                                                 "reason": "核实"}).status_code == 403
    assert _client(personas.county_b).post(url, {"decision": "not_duplicate",
                                                 "reason": "核实"}).status_code == 404
    refused = county.post(url, {"decision": "not_duplicate", "reason": ""}, follow=True)
    assert "未保存" in refused.content.decode() and "请填写理由" in refused.content.decode()
    claim.refresh_from_db()
    assert claim.status == PairStatus.OPEN
    done = county.post(url, {"decision": "not_duplicate", "reason": "系同名不同人"}, follow=True)
    assert "已裁定：核实无重复" in done.content.decode()
    claim.refresh_from_db()
    assert claim.status == PairStatus.DIFFERENT


def test_a_claim_is_cleared_when_the_data_it_was_matched_on_changes(
        personas: Personas, tmp_path: Path) -> None:
    from huimin.registry import actions as registry_actions

    fam = _approved(personas, _program(), date(2024, 2, 2), "郑")
    claim = _claim_elsewhere(personas, fam.child, tmp_path)
    assert actions.clear_stale(personas.county, [fam.child]) == 0  # nothing changed yet
    registry_actions.correct_identity(personas.township, fam.child, name="郑大宝", via="test")
    claim.refresh_from_db()
    assert claim.status == PairStatus.CLEARED
    assert AuditEvent.objects.filter(action="identity.claim_cleared", object_id=str(claim.pk))
    assert not Entitlement.objects.filter(case__subject=fam.child).exists()
    # no longer open: the next cycle pays
    pay_actions.build_cycle(personas.finance, program=_program(), claim_year=2026)
    assert _entitlement(fam.child).status == EntitlementStatus.PAYABLE
