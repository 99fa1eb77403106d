"""Every state change of a batch or payment line: atomic, audited."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import area_q
from huimin.accounts.models import Role
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.states import State, Transition, allowed
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden, RowError
from huimin.payments import bankfile
from huimin.payments.models import BatchState, LineStatus, PaymentBatch, PaymentLine
from huimin.programs.models import Program
from huimin.registry.crypto import box


def _require_finance(actor: Any) -> None:
    if getattr(actor, "role", None) != Role.FINANCE_OFFICER:
        raise Forbidden("只有财务人员可以办理发放")


def _move_case(actor: Any, case: Case, transition: str, **data: Any) -> AuditEvent:
    rule = allowed(case.state, transition)
    if rule is None:
        label = Transition(transition).label
        raise Conflict(f"案件 {case.number} 状态为「{case.state_label}」，不能{label}")
    old = case.state
    case.state = rule[0]
    case.version += 1
    action = {Transition.ADD_TO_BATCH: "case.add_to_batch", Transition.MARK_PAID: "case.paid",
              Transition.MARK_FAILED: "case.payment_failed"}[Transition(transition)]
    return event(actor, action, case, person_id=case.subject_id, case_id=case.pk,
                 area_code=case.area.code, old=old, new=case.state, **data)


@transaction.atomic
def create_batch(actor: Any, *, program: Program, claim_year: int) -> PaymentBatch:
    """Put every confirmed (or failed, to retry) case of the actor's area into a new batch."""
    _require_finance(actor)
    area = actor.areas.order_by("code").first()
    if area is None:
        raise Forbidden("您没有分配管辖区域")
    cases = list(
        Case.objects.select_for_update()
        .filter(area_q(actor, "area__code"), program=program, claim_year=claim_year,
                state__in=[State.APPROVED, State.PAYMENT_FAILED], eligible=True)
        .select_related("subject", "area", "bank_account", "applicant")
        .order_by("area__code", "id")
    )
    ready = [c for c in cases if c.bank_account is not None and c.bank_account.active]
    if not ready:
        raise ActionError(f"{claim_year} 年度{program.name}没有待发放且有有效收款账户的案件")
    batch = PaymentBatch.objects.create(program=program, area=area, claim_year=claim_year,
                                        created_by=actor)
    lines: list[PaymentLine] = []
    events: list[AuditEvent] = []
    for seq, case in enumerate(ready, start=1):
        acct = case.bank_account
        assert acct is not None
        payee = case.applicant.name if case.applicant and acct.person_id == case.applicant_id \
            else case.subject.name
        lines.append(PaymentLine(
            batch=batch, case=case, seq=seq, payee_name=payee, bank_name=acct.bank_name,
            account_sealed=acct.account_sealed, account_masked=acct.account_masked,
            amount_fen=case.amount_fen,
        ))
        events.append(_move_case(actor, case, Transition.ADD_TO_BATCH, batch=batch.pk))
    PaymentLine.objects.bulk_create(lines, batch_size=1000)
    Case.objects.bulk_update(ready, ["state", "version"], batch_size=1000)
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    batch.line_count = len(lines)
    batch.total_fen = sum(line.amount_fen for line in lines)
    batch.save(update_fields=["line_count", "total_fen"])
    record(actor, "batch.create", batch, area_code=area.code, lines=batch.line_count,
           total_fen=batch.total_fen, held_back=[c.pk for c in cases if c not in ready])
    return batch


def render_bank_file(batch: PaymentBatch) -> bytes:
    b = box()
    purpose = f"{batch.claim_year}年度{batch.program.name}"
    lines = (
        bankfile.ExportLine(line.reference, line.payee_name, b.unseal(line.account_sealed),
                            line.bank_name, line.amount_fen, purpose)
        for line in batch.lines.select_related("batch").order_by("seq")
    )
    return bankfile.render_export(lines)


@transaction.atomic
def export_batch(actor: Any, batch: PaymentBatch) -> bytes:
    """The bank file; the first export moves the batch on, a repeat gives the same bytes."""
    _require_finance(actor)
    locked = PaymentBatch.objects.select_for_update().select_related("program").get(pk=batch.pk)
    data = render_bank_file(locked)
    digest = hashlib.sha256(data).hexdigest()
    if locked.state == BatchState.DRAFT:
        locked.state = BatchState.EXPORTED
        locked.file_sha256 = digest
        locked.exported_at = timezone.now()
        locked.save(update_fields=["state", "file_sha256", "exported_at"])
        record(actor, "batch.export", locked, area_code=locked.area.code, sha256=digest)
    elif locked.file_sha256 and locked.file_sha256 != digest:
        raise Conflict("批次内容与首次导出的文件不一致，请联系管理员")
    return data


@transaction.atomic
def import_return(actor: Any, batch: PaymentBatch, data: bytes) -> dict[str, int]:
    """Apply a bank return. The whole file is checked first; a bad line refuses all of it.

    Re-importing the same file changes nothing.
    """
    _require_finance(actor)
    locked = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.state == BatchState.DRAFT:
        raise Conflict("批次尚未导出银行文件，不能导入回盘")
    parsed = bankfile.parse_return(data)
    lines = {
        line.reference: line
        for line in PaymentLine.objects.select_for_update()
        .filter(batch=locked).select_related("batch", "case", "case__area")
    }
    b = box()
    errors: list[RowError] = []
    seen: set[str] = set()
    for r in parsed:
        line = lines.get(r.reference)
        if line is None:
            errors.append(RowError(r.row, "流水号", f"{r.reference} 不属于批次 {locked.number}"))
            continue
        if r.reference in seen:
            errors.append(RowError(r.row, "流水号", f"{r.reference} 在文件中重复"))
            continue
        seen.add(r.reference)
        if r.amount_fen != line.amount_fen:
            errors.append(RowError(r.row, "金额", "与批次金额不符"))
        if r.account.replace(" ", "") != b.unseal(line.account_sealed):
            errors.append(RowError(r.row, "账号", "与批次账号不符"))
        new_status = LineStatus.PAID if r.paid else LineStatus.FAILED
        if line.status != LineStatus.PENDING and line.status != new_status:
            errors.append(RowError(
                r.row, "处理结果",
                f"该笔已记为「{LineStatus(line.status).label}」，不能改为「{new_status.label}」"))
    if errors:
        raise FileRejected(f"回盘文件有 {len(errors)} 处错误，整个文件未导入", errors)
    counts = {"paid": 0, "failed": 0, "unchanged": 0}
    events: list[AuditEvent] = []
    for r in parsed:
        line = lines[r.reference]
        new_status = LineStatus.PAID if r.paid else LineStatus.FAILED
        if line.status == new_status:
            counts["unchanged"] += 1
            continue
        line.status = new_status
        line.bank_reason = r.reason
        line.save(update_fields=["status", "bank_reason"])
        case = line.case
        events.append(_move_case(
            actor, case, Transition.MARK_PAID if r.paid else Transition.MARK_FAILED,
            batch=locked.pk, line=line.reference, bank_reason=r.reason))
        case.save(update_fields=["state", "version", "updated_at"])
        counts["paid" if r.paid else "failed"] += 1
    AuditEvent.objects.bulk_create(events)
    if counts["paid"] or counts["failed"]:
        digest = hashlib.sha256(data).hexdigest()
        if not PaymentLine.objects.filter(batch=locked, status=LineStatus.PENDING).exists():
            locked.state = BatchState.RETURNED
            locked.returned_at = timezone.now()
        locked.return_sha256 = digest
        locked.save(update_fields=["state", "returned_at", "return_sha256"])
        record(actor, "batch.import_return", locked, area_code=locked.area.code,
               sha256=digest, **counts)
    return counts


def sample_return(batch: PaymentBatch, failed_refs: dict[str, str] | None = None) -> bytes:
    """A return file as the bank would send it (for the demo and tests)."""
    import csv
    import io

    failed_refs = failed_refs or {}
    b = box()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(bankfile.RETURN_HEADER)
    for line in batch.lines.select_related("batch").order_by("seq"):
        reason = failed_refs.get(line.reference, "")
        from huimin.lib.money import fen_to_yuan

        w.writerow([line.reference, b.unseal(line.account_sealed), fen_to_yuan(line.amount_fen),
                    "失败" if reason else "成功", reason])
    return buf.getvalue().encode("utf-8")
