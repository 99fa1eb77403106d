"""Refusals no other test reaches: each asserts the refusal and that nothing changed.

Payments (``huimin.payments.actions``): correcting a failed line (to a third party's account,
to a closed account, without a note, twice, a line that did not fail), a bank return with a
duplicate reference or for a batch not yet exported, a re-export after the lines were
altered, the three guards of ``mark_overpaid``. Cases (``huimin.cases.actions``): an objection
upheld after the case was frozen for payment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cases.models import Case, Decision, NoticeEntry, Objection
from huimin.errors import ActionError, Conflict, FileRejected
from huimin.payments import actions as pay
from huimin.payments.models import (
    BankReturn,
    BatchState,
    Entitlement,
    JournalEntry,
    LineCorrection,
    LineStatus,
    PaymentBatch,
    PaymentLine,
    Recovery,
)
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from tests.conftest import VILLAGE_A, Family, Personas, make_family
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int) -> Any:
    return time_machine.travel(datetime(y, m, d, 10, 0, tzinfo=SH), tick=False)


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with at(2026, 6, 15):
        yield


def snapshot() -> dict[str, Any]:
    """Everything a refused payment or case action could have touched."""
    return {
        "events": list(AuditEvent.objects.order_by("id").values_list("id", "action")),
        "journal": JournalEntry.objects.count(),
        "corrections": LineCorrection.objects.count(),
        "recoveries": Recovery.objects.count(),
        "returns": BankReturn.objects.count(),
        "lines": list(PaymentLine.objects.order_by("id").values_list(
            "id", "status", "bank_reason", "settled_by_id", "payee_name")),
        "batches": list(PaymentBatch.objects.order_by("id").values_list(
            "id", "state", "file_sha256", "return_sha256", "exported_at", "returned_at")),
        "entitlements": list(Entitlement.objects.order_by("id").values_list(
            "id", "bank_account_id", "status")),
        "cases": list(Case.objects.order_by("id").values_list(
            "id", "state", "version", "level", "awaiting_role", "pending_posting")),
        "decisions": Decision.objects.count(),
        "objections": list(Objection.objects.order_by("id").values_list("id", "status",
                                                                         "finding")),
        "entries": list(NoticeEntry.objects.order_by("id").values_list("id", "withdrawn_at")),
    }


def approved(personas: Personas, fam: Family) -> Case:
    case = case_actions.submit_application(
        personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, case, approve=True)
    return case_actions.county_confirm(personas.county, case, approve=True)


@dataclass
class Paid:
    fams: list[Family]
    batch: PaymentBatch


def exported(personas: Personas, n: int = 2) -> Paid:
    fams = [make_family(personas.cadre_a, VILLAGE_A, date(2024, 1 + i, 5), surname="林郑何"[i])
            for i in range(n)]
    for fam in fams:
        approved(personas, fam)
    cycle = pay.build_cycle(personas.finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    batch.refresh_from_db()
    return Paid(fams, batch)


def refused(exc: type[Exception], match: str, call: Any) -> Exception:
    before = snapshot()
    with pytest.raises(exc, match=match) as info:
        call()
    assert snapshot() == before
    return info.value


# -- correcting a failed line -----------------------------------------------------------------

@pytest.fixture
def failed(personas: Personas) -> Any:
    w = exported(personas)
    first, second = w.batch.lines.order_by("seq")
    pay.import_return(personas.finance, w.batch,
                      pay.sample_return(w.batch, {first.reference: "账户已销户"}))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (LineStatus.FAILED, LineStatus.PAID)
    fam = next(f for f in w.fams if f.child.pk == first.case.subject_id)
    return w, first, second, fam


def test_correction_to_a_third_partys_account_is_refused(personas: Personas,
                                                         failed: Any) -> None:
    """The father is neither the applicant (the mother) nor the subject (the child)."""
    _w, line, _paid, fam = failed
    other = registry_actions.add_bank_account(personas.cadre_a, fam.father,
                                              bank_name="惠来农商银行",
                                              account="6231000000000000888")
    refused(ActionError, "收款账户须属于申请人或补贴对象",
            lambda: pay.correct_line(personas.finance, line, bank_account=other, note="已核实"))
    # nor to an account of another family's mother
    stranger = make_family(personas.cadre_a, VILLAGE_A, date(2025, 2, 2), surname="钱")
    refused(ActionError, "收款账户须属于申请人或补贴对象",
            lambda: pay.correct_line(personas.finance, line, bank_account=stranger.account,
                                     note="已核实"))


def test_correction_to_a_closed_account_is_refused(personas: Personas, failed: Any) -> None:
    _w, line, _paid, fam = failed
    closed = registry_actions.add_bank_account(personas.cadre_a, fam.mother,
                                               bank_name="惠来农商银行",
                                               account="6231000000000000999")
    type(closed).objects.filter(pk=closed.pk).update(active=False)
    closed.refresh_from_db()
    refused(ActionError, "所选账户已停用",
            lambda: pay.correct_line(personas.finance, line, bank_account=closed,
                                     note="已核实"))


def test_correction_needs_a_note_a_failed_line_and_happens_once(personas: Personas,
                                                                failed: Any) -> None:
    _w, line, paid, fam = failed
    new = registry_actions.add_bank_account(personas.cadre_a, fam.mother,
                                            bank_name="惠来农商银行",
                                            account="6231000000000000777")
    refused(ActionError, "请填写核实说明",
            lambda: pay.correct_line(personas.finance, line, bank_account=new, note="  "))
    refused(Conflict, "无须更正",
            lambda: pay.correct_line(personas.finance, paid, bank_account=new, note="已核实"))
    pay.correct_line(personas.finance, line, bank_account=new, note="已核实，账户已更换")
    refused(Conflict, "已更正过",
            lambda: pay.correct_line(personas.finance, line, bank_account=new, note="再次"))


def test_recheck_needs_a_note(personas: Personas, failed: Any) -> None:
    w, *_ = failed
    refused(ActionError, "请填写核实说明",
            lambda: pay.recheck_batch(personas.finance, w.batch, note=""))


# -- bank returns -----------------------------------------------------------------------------

def test_return_with_a_duplicate_reference_is_refused_whole(personas: Personas) -> None:
    """The first line sent twice and the second left out: the duplicate is named, nothing
    is imported."""
    w = exported(personas)
    good = pay.sample_return(w.batch).decode().split("\r\n")
    first, second = w.batch.lines.order_by("seq")
    [row_1] = [i for i, text in enumerate(good) if first.reference in text]
    [row_2] = [i for i, text in enumerate(good) if second.reference in text]
    doubled = list(good)
    doubled[row_2] = good[row_1]
    exc = refused(FileRejected, "整个文件未导入", lambda: pay.import_return(
        personas.finance, w.batch, "\r\n".join(doubled).encode()))
    assert isinstance(exc, FileRejected)
    duplicates = [e for e in exc.errors if e.column == "流水号"]
    assert [(e.row, e.reason) for e in duplicates] == [
        (row_2 + 1, f"{first.reference} 在文件中重复")]


def test_return_before_export_is_refused(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    approved(personas, fam)
    cycle = pay.build_cycle(personas.finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    refused(Conflict, "尚未导出银行文件",
            lambda: pay.import_return(personas.finance, batch, b"anything"))


# -- re-export --------------------------------------------------------------------------------

def test_re_export_after_the_lines_were_altered_is_refused(personas: Personas) -> None:
    """The bank file is fixed at the first export; a payee name altered in the table
    afterwards makes the repeat differ, and the repeat is refused rather than sent."""
    w = exported(personas)
    first = pay.export_batch(personas.finance, w.batch)  # a repeat: the same bytes
    assert first == pay.export_batch(personas.finance, w.batch)
    line = w.batch.lines.order_by("seq").first()
    assert line is not None
    PaymentLine.objects.filter(pk=line.pk).update(payee_name="张三")
    refused(Conflict, "批次内容与首次导出的文件不一致",
            lambda: pay.export_batch(personas.finance, w.batch))
    w.batch.refresh_from_db()
    assert w.batch.state == BatchState.EXPORTED


def test_re_export_with_altered_amounts_is_refused_by_the_control_totals(
        personas: Personas) -> None:
    w = exported(personas)
    line = w.batch.lines.order_by("seq").first()
    assert line is not None
    PaymentLine.objects.filter(pk=line.pk).update(amount_fen=line.amount_fen + 1)
    refused(Conflict, "批次明细与控制数不符|批次内容与首次导出的文件不一致",
            lambda: pay.export_batch(personas.finance, w.batch))


# -- mark_overpaid ----------------------------------------------------------------------------

def test_mark_overpaid_guards(personas: Personas, failed: Any) -> None:
    """A reason is required; only a paid line; only once."""
    _w, failed_line, paid, _fam = failed
    refused(ActionError, "请填写应追回的原因",
            lambda: pay.mark_overpaid(personas.finance, paid, reason=" "))
    refused(Conflict, "未支付，不能登记追回",
            lambda: pay.mark_overpaid(personas.finance, failed_line, reason="已死亡"))
    over = pay.mark_overpaid(personas.finance, paid, reason="2026-03-01 已死亡")
    assert over.amount_fen == paid.amount_fen
    refused(Conflict, "已登记应追回",
            lambda: pay.mark_overpaid(personas.finance, paid, reason="再次登记"))


# -- cases ------------------------------------------------------------------------------------

def test_objection_upheld_after_the_case_was_frozen_for_payment(personas: Personas) -> None:
    """The county's announcement runs while finance freezes the approved case into a cycle:
    an objection upheld then cannot send the case back (it goes by the correction
    procedure); the objection stays open, the case and its entitlement untouched."""
    program = Program.objects.get(code="rural-reward")

    def publish(actor: Any) -> Any:
        return case_actions.publish_notice(actor, program=program,
                                           start_on=case_actions.local_today(),
                                           objection_info="村委会")

    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    case_actions.decide(personas.cadre_a, case, "approve")
    publish(personas.cadre_a)
    with at(2026, 6, 22):
        case_actions.decide(personas.township, case, "approve")
        publish(personas.township)
    with at(2026, 6, 29):
        case = case_actions.decide(personas.county, case, "approve")
        publish(personas.county)
        objection = case_actions.record_objection(personas.county, case, content="已在外县享受")
        cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
        assert Entitlement.objects.filter(case=case, cycle=cycle).exists()
        refused(Conflict, "已纳入发放或已进入下一环节，不能退回重审",
                lambda: case_actions.resolve_objection(personas.county, objection,
                                                       upheld=True, finding="经查已在外县享受"))
    objection.refresh_from_db()
    case.refresh_from_db()
    assert objection.status == "open" and case.state == "approved"
