"""Review chains as program data: levels, postings, objections, deadlines, decisions, 复核."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import Case, Decision, Notice, ObjectionStatus
from huimin.cases.worklist import deadline, waiting
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.programs.models import Program
from tests.conftest import VILLAGE_A, VILLAGE_B, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
RURAL = "rural-reward"


def at(y: int, m: int, d: int, h: int = 10) -> time_machine.travel:
    return time_machine.travel(datetime(y, m, d, h, 0, tzinfo=SH), tick=False)


def publish(actor, start: date | None = None) -> Notice:  # type: ignore[no-untyped-def]
    return actions.publish_notice(actor, program=Program.objects.get(code=RURAL),
                                  start_on=start or actions.local_today(),
                                  objection_info="村委会办公室，电话 0663-6612345")


def test_rural_reward_walks_its_chain_with_postings(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        # the chain comes from the program document, kept with the case
        assert [lv["level"] for lv in case.review_chain] == ["village", "township", "county"]
        assert case.eligible and case.amount_fen == 96000
        assert (case.state, case.level, case.awaiting_role) == ("submitted", "village",
                                                                "village_cadre")
        assert case.due_on == date(2026, 7, 14)  # 20 working days; 端午 2026-06-19 is off
        assert list(waiting(personas.cadre_a, date(2026, 6, 15))) == [case]
        case = actions.decide(personas.cadre_a, case, "approve", comment="村民代表评议通过")
        assert (case.state, case.level, case.pending_posting) == ("village_approved",
                                                                  "township", "village")
        # the township cannot act before the village posting has run its course
        with pytest.raises(ActionError, match="尚未公示"):
            actions.decide(personas.township, case, "approve")
        notice = publish(personas.cadre_a)
        assert (notice.start_on, notice.end_on) == (date(2026, 6, 15), date(2026, 6, 21))
        assert notice.entries.count() == 1
    with at(2026, 6, 21):
        with pytest.raises(ActionError, match="公示期至 2026-06-21 结束"):
            actions.decide(personas.township, case, "approve")
        assert list(waiting(personas.township, date(2026, 6, 21))) == []
    case.refresh_from_db()
    assert case.state == "village_approved"
    with at(2026, 6, 22):
        assert list(waiting(personas.township, date(2026, 6, 22))) == [case]
        case = actions.decide(personas.township, case, "approve")
        assert (case.state, case.level) == ("township_approved", "county")
        township_notice = publish(personas.township)
        assert township_notice.area.code == "445224100000"
    with at(2026, 6, 29):
        case = actions.decide(personas.county, case, "approve", comment="同意")
        assert case.state == "approved" and case.awaiting_role == ""
        announcement = publish(personas.county)
        assert announcement.is_announcement
    levels = list(Decision.objects.filter(case=case).values_list("level", "outcome"))
    assert levels == [("village", "submitted"), ("village", "approved"),
                      ("township", "approved"), ("county", "approved")]


def test_acting_out_of_turn_or_out_of_area_changes_nothing(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        with pytest.raises(Forbidden, match="应由村级专干办理"):
            actions.decide(personas.township, case, "approve")
        with pytest.raises(Forbidden, match="应由村级专干办理"):
            actions.decide(personas.county, case, "reject", reason_codes=["facts_untrue"])
        with pytest.raises(Forbidden, match="不在您的管辖范围"):
            actions.decide(personas.cadre_b, case, "approve")
    case.refresh_from_db()
    assert (case.state, case.version) == ("submitted", 1)
    assert not AuditEvent.objects.filter(case_id=case.pk).exclude(action="case.submit").exists()


def test_upheld_objection_sends_the_case_back_one_level(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        actions.decide(personas.cadre_a, case, "approve")
        publish(personas.cadre_a)
    with at(2026, 6, 17):
        objection = actions.record_objection(
            personas.cadre_a, case, content="其子女户籍情况与申报不符", objector="")
        case.refresh_from_db()
    with at(2026, 6, 22):  # posting over, but the objection is open
        with pytest.raises(ActionError, match="尚未核实的公示异议"):
            actions.decide(personas.township, case, "approve")
        with pytest.raises(Forbidden, match="村级专干核实"):
            actions.resolve_objection(personas.township, objection, upheld=True, finding="x")
        actions.resolve_objection(personas.cadre_a, objection, upheld=True,
                                  finding="经入户核实，其另有一子在外地落户")
    case.refresh_from_db()
    objection.refresh_from_db()
    assert objection.status == ObjectionStatus.UPHELD
    assert (case.state, case.level, case.awaiting_role) == ("submitted", "village",
                                                            "village_cadre")
    entry = case.notice_entries.get()
    assert entry.withdrawn_at is not None and "另有一子" in entry.withdrawn_reason
    last = case.decisions.order_by("-id").first()
    assert last is not None and last.outcome == "objection_upheld"
    assert last.level == "village" and "另有一子" in last.comment
    ev = AuditEvent.objects.get(action="case.send_back", case_id=case.pk)
    assert (ev.data["old"], ev.data["new"]) == ("village_approved", "submitted")


def test_dismissed_objection_lets_the_case_go_on(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        actions.decide(personas.cadre_a, case, "approve")
        publish(personas.cadre_a)
        objection = actions.record_objection(personas.township, case, content="年龄可能不够")
    with at(2026, 6, 22):
        actions.resolve_objection(personas.cadre_a, objection, upheld=False,
                                  finding="核对身份证，已满 60 周岁")
        case = actions.decide(personas.township, case, "approve")
    assert case.state == "township_approved"


def test_objection_only_while_posted(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        with pytest.raises(ActionError, match="不在公示期内"):
            actions.record_objection(personas.cadre_a, case, content="有异议")
        actions.decide(personas.cadre_a, case, "approve")
        publish(personas.cadre_a)
    with at(2026, 6, 23), pytest.raises(ActionError, match="不在公示期内"):
        actions.record_objection(personas.cadre_a, case, content="有异议")
    assert not case.objections.exists()


def test_childcare_never_produces_a_notice(personas: Personas, family_a) -> None:  # type: ignore[no-untyped-def]
    with at(2026, 6, 15):
        program = Program.objects.get(code="childcare-subsidy")
        case = actions.submit_application(
            personas.cadre_a, program=program, subject=family_a.child, claim_year=2026,
            applicant=family_a.mother, bank_account=family_a.account)
        case = actions.decide(personas.township, case, "township_approve")
        assert case.pending_posting == ""
        with pytest.raises(ActionError, match="不公示"):
            actions.publish_notice(personas.township, program=program,
                                   start_on=date(2026, 6, 15), objection_info="乡镇")
        # no posting wait: the county acts the same day
        case = actions.decide(personas.county, case, "county_approve")
    assert case.state == "approved"
    assert not Notice.objects.exists()


def test_reject_needs_reason_and_return_needs_comment(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        with pytest.raises(ActionError, match="须选择理由"):
            actions.decide(personas.cadre_a, case, "reject", comment="不行")
        with pytest.raises(ActionError, match="未知的理由代码"):
            actions.decide(personas.cadre_a, case, "reject", reason_codes=["because"])
        with pytest.raises(ActionError, match="补正的内容"):
            actions.decide(personas.cadre_a, case, "return")
        case = actions.decide(personas.cadre_a, case, "return", comment="请补交结婚证")
        assert (case.state, case.awaiting_role) == ("returned", "village_cadre")
        case = actions.resubmit(personas.cadre_a, case, comment="已补交")
        assert (case.state, case.level) == ("submitted", "village")
        case = actions.decide(personas.cadre_a, case, "reject",
                              reason_codes=["facts_untrue"], comment="子女数与户籍不符")
    assert case.state == "rejected"
    outcomes = list(case.decisions.values_list("outcome", flat=True))
    assert outcomes == ["submitted", "returned", "resubmitted", "rejected"]


def test_review_request_reopens_at_the_rejecting_level(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        actions.decide(personas.cadre_a, case, "approve")
        publish(personas.cadre_a)
    with at(2026, 6, 22):
        case = actions.decide(personas.township, case, "reject",
                              reason_codes=["facts_untrue"], comment="待核")
        with pytest.raises(ActionError, match="复核的理由"):
            actions.request_review(personas.cadre_a, case, comment=" ")
        case = actions.request_review(personas.cadre_a, case,
                                      comment="申请人提供了户籍证明")
    assert (case.state, case.level, case.awaiting_role) == ("village_approved", "township",
                                                            "township_reviewer")
    assert case.ready_on == date(2026, 6, 22)
    outcomes = list(case.decisions.values_list("outcome", flat=True))
    assert outcomes[-2:] == ["rejected", "review_requested"]
    with at(2026, 6, 23):
        case = actions.decide(personas.township, case, "approve")
    assert case.state == "township_approved"


def test_ineligible_is_recorded_as_rejected_with_failing_criteria(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A, husband_born=date(1970, 1, 1))
        ent = actions.preview(Program.objects.get(code=RURAL), couple.husband, 2026,
                              {"policy_status_confirmed": True})
        assert not ent.eligible
        assert [c.code for c in ent.failing] == ["aged_60"]
        case = apply_rural(personas.cadre_a, couple.husband, record_rejected=True)
    assert case.state == "rejected" and not case.eligible and case.amount_fen == 0
    rejection = case.decisions.get(outcome="rejected")
    assert rejection.reason_codes == ["not_eligible"] and "年满 60 周岁" in rejection.comment
    with at(2026, 6, 16):
        case = actions.request_review(personas.cadre_a, case, comment="请复核")
        assert case.state == "submitted" and not case.eligible
        with pytest.raises(ActionError, match="不能审核通过"):
            actions.decide(personas.cadre_a, case, "approve")


def test_duplicate_points_to_the_existing_case(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        first = apply_rural(personas.cadre_a, couple.husband)
        with pytest.raises(actions.Duplicate) as exc:
            apply_rural(personas.cadre_a, couple.husband)
        assert exc.value.existing == first and first.number in exc.value.message
        second = apply_rural(personas.cadre_a, couple.wife)  # each spouse separately
    assert Case.objects.filter(subject=couple.husband).count() == 1
    assert second.eligible and second.amount_fen == 96000


def test_stale_version_is_a_conflict_showing_the_current_state(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        actions.decide(personas.cadre_a, case, "approve", expected_version=1)
        with pytest.raises(Conflict, match="当前状态：待乡镇审核"):
            actions.decide(personas.cadre_a, case, "reject", reason_codes=["other"],
                           comment="x", expected_version=1)


def test_deadline_warnings_count_official_working_days(personas: Personas) -> None:
    with at(2026, 9, 21):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
    # 20 working days from 2026-09-21 skip 中秋 (09-25 Friday) and 国庆 (10-01..10-07) and
    # count the make-up Saturday 10-10: Monday–Friday alone would give 10-19
    assert case.due_on == date(2026, 10, 26)
    assert deadline(case, date(2026, 9, 22)).status == ""
    near = deadline(case, case.due_on)
    assert near.status == "warning" and near.text == "还剩 0 个工作日到期"
    late = deadline(case, date(2026, 12, 1))
    assert late.status == "overdue" and "已逾期" in late.text


def test_worklist_is_oldest_first_and_per_role(personas: Personas) -> None:
    with at(2026, 6, 15, 9):
        older = apply_rural(personas.cadre_a, make_rural_couple(personas.cadre_a,
                                                                VILLAGE_A).husband)
    with at(2026, 6, 16, 9):
        newer = apply_rural(personas.cadre_a, make_rural_couple(personas.cadre_a, VILLAGE_A,
                                                                surname="周").husband)
        make_rural_couple(personas.cadre_b, VILLAGE_B, surname="黄")
    assert list(waiting(personas.cadre_a, date(2026, 6, 16))) == [older, newer]
    assert list(waiting(personas.cadre_b, date(2026, 6, 16))) == []
    assert list(waiting(personas.township, date(2026, 6, 16))) == []


def test_special_assistance_child_died_both_parents_paid(personas: Personas) -> None:
    """programs.md §5: rural woman 52, husband 55, only child died → 170 × 12 each."""
    program = Program.objects.get(code="special-assistance")
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A, husband_born=date(1971, 3, 1),
                                   wife_born=date(1974, 2, 1), child_died=date(2015, 4, 1))
        cases = [actions.submit_application(
            personas.cadre_a, program=program, subject=p, claim_year=2026,
            facts={"policy_status_confirmed": True}) for p in (couple.husband, couple.wife)]
    assert [(c.eligible, c.amount_fen) for c in cases] == [(True, 204000), (True, 204000)]
    assert [lv["level"] for lv in cases[0].review_chain] == ["village", "township", "county"]


def test_upheld_objection_to_the_county_announcement(personas: Personas) -> None:
    with at(2026, 6, 15):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        actions.decide(personas.cadre_a, case, "approve")
        publish(personas.cadre_a)
    with at(2026, 6, 22):
        actions.decide(personas.township, case, "approve")
        publish(personas.township)
    with at(2026, 6, 29):
        case = actions.decide(personas.county, case, "approve")
        publish(personas.county)
        objection = actions.record_objection(personas.county, case, content="已在外县享受")
        actions.resolve_objection(personas.county, objection, upheld=True,
                                  finding="经查已在外县享受同类待遇")
    case.refresh_from_db()
    assert (case.state, case.level, case.awaiting_role) == ("township_approved", "county",
                                                            "county_approver")
