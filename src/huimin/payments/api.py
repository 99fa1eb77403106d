"""API: payment cycles, batches, bank files, returns, corrections and reconciliation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from huimin.accounts.access import batches_for, get_batch_for_user, require_role
from huimin.api_params import ClaimYear, Code, Day, Id, Page, keyset_page, line, note
from huimin.errors import ActionError, Conflict
from huimin.lib.sheets import read_upload
from huimin.payments import actions as pay_actions
from huimin.payments import bankfile, reconcile
from huimin.payments.access import (
    APPROVER,
    FINANCE,
    cycles_for,
    get_cycle_for_user,
    get_line_for_user,
)
from huimin.payments.models import BatchState, CycleState, PaymentBatch, PaymentCycle
from huimin.programs.models import Program
from huimin.registry.models import BankAccount

router = Router(tags=["payments"])


class CycleIn(Schema):
    program: Code = "childcare-subsidy"
    claim_year: ClaimYear
    period: Annotated[str, line(20)] = ""
    cut_off: Day | None = None


class CycleOut(Schema):
    id: int
    number: str
    program: str
    claim_year: int
    period: str
    cut_off: date
    state: CycleState
    payable_count: int
    payable_fen: int
    held_count: int
    held_fen: int
    rule_versions: list[str]


def _cycle(c: PaymentCycle) -> CycleOut:
    return CycleOut(id=c.pk, number=c.number, program=c.program.code, claim_year=c.claim_year,
                    period=c.period, cut_off=c.cut_off, state=CycleState(c.state),
                    payable_count=c.payable_count, payable_fen=c.payable_fen,
                    held_count=c.held_count, held_fen=c.held_fen,
                    rule_versions=list(c.rule_versions))


@router.get("/cycles", response=list[CycleOut])
def list_cycles(request: HttpRequest, response: HttpResponse,
                page: Query[Page]) -> list[CycleOut]:
    """Cycles in the caller's areas, newest claim year first (``after``: the next page)."""
    qs = cycles_for(request.user).order_by("-claim_year", "-id")
    return [_cycle(c) for c in keyset_page(request, response, qs, page)]


@router.post("/cycles", response={201: CycleOut})
def build_cycle(request: HttpRequest, payload: CycleIn) -> Status[CycleOut]:
    require_role(request.user, FINANCE)
    program = Program.objects.filter(code=payload.program).first()
    if program is None:
        raise ActionError(f"program：未知项目 {payload.program}")
    cycle = pay_actions.build_cycle(request.user, program=program,
                                    claim_year=payload.claim_year, period=payload.period,
                                    cut_off=payload.cut_off)
    return Status(201, _cycle(cycle))


@router.get("/cycles/{cycle_id}", response=CycleOut)
def get_cycle(request: HttpRequest, cycle_id: Id) -> CycleOut:
    return _cycle(get_cycle_for_user(request.user, cycle_id))


class VarianceOut(Schema):
    check: str
    item: str
    expected_fen: int | None
    actual_fen: int | None
    cause: str


class BalanceOut(Schema):
    account: str
    label: str
    ledger_fen: int
    detail_fen: int
    events_fen: int


class ReconciliationOut(Schema):
    cycle: int
    ok: dict[str, bool]
    balances: list[BalanceOut]
    variances: list[VarianceOut]
    unlisted: int


@router.get("/cycles/{cycle_id}/reconciliation", response=ReconciliationOut)
def reconciliation(request: HttpRequest, cycle_id: Id) -> dict[str, Any]:
    cycle = get_cycle_for_user(request.user, cycle_id)
    report = reconcile.reconcile(cycle)
    return {"cycle": cycle.pk, "ok": {c: report.ok(c) for c in reconcile.CHECKS},
            "balances": [b.__dict__ for b in report.balances],
            "variances": [v.__dict__ for v in report.variances], "unlisted": report.more}


class BatchIn(Schema):
    cycle_id: Id
    layout: Code = bankfile.DEFAULT_LAYOUT


class BatchOut(Schema):
    id: int
    number: str
    cycle_id: int | None
    program: str
    claim_year: int
    layout: str
    state: BatchState
    line_count: int
    total_fen: int
    file_sha256: str
    body_checksum: str


def _batch(b: PaymentBatch) -> BatchOut:
    return BatchOut(id=b.pk, number=b.number, cycle_id=b.cycle_id, program=b.program.code,
                    claim_year=b.claim_year, layout=b.layout, state=BatchState(b.state),
                    line_count=b.line_count, total_fen=b.total_fen, file_sha256=b.file_sha256,
                    body_checksum=b.body_checksum)


@router.get("/batches", response=list[BatchOut])
def list_batches(request: HttpRequest, response: HttpResponse,
                 page: Query[Page]) -> list[BatchOut]:
    """Batches in the caller's areas, newest first (``after``: the next page)."""
    qs = batches_for(request.user).order_by("-created_at", "-id")
    return [_batch(b) for b in keyset_page(request, response, qs, page)]


@router.post("/batches", response={201: BatchOut})
def create_batch(request: HttpRequest, payload: BatchIn) -> Status[BatchOut]:
    cycle = get_cycle_for_user(request.user, payload.cycle_id, roles=FINANCE)
    batch = pay_actions.create_batch(request.user, cycle, layout=payload.layout)
    return Status(201, _batch(batch))


@router.get("/batches/{batch_id}", response=BatchOut)
def get_batch(request: HttpRequest, batch_id: Id) -> BatchOut:
    return _batch(get_batch_for_user(request.user, batch_id))


@router.post("/batches/{batch_id}/release", response=BatchOut)
def release_batch(request: HttpRequest, batch_id: Id) -> BatchOut:
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=APPROVER)
    return _batch(pay_actions.release_batch(request.user, batch))


@router.post("/batches/{batch_id}/export", response=BatchOut)
def export_batch(request: HttpRequest, batch_id: Id) -> BatchOut:
    """Export a released batch (it moves to exported); fetch the file with GET bank-file."""
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=FINANCE)
    if batch.state != BatchState.RELEASED:
        raise Conflict(f"批次 {batch.number} 当前状态为「{batch.state_label}」，"
                       "只能导出已放行的批次")
    pay_actions.export_batch(request.user, batch)
    batch.refresh_from_db()
    return _batch(batch)


@router.get("/batches/{batch_id}/bank-file",
            openapi_extra={"responses": {200: {
                "description": "银行文件（与导出时逐字节相同；每次下载记入审计日志）",
                "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml"
                            ".sheet": {"schema": {"type": "string", "format": "binary"}}}}}})
def bank_file(request: HttpRequest, batch_id: Id,
              confirm_returned: bool = False) -> HttpResponse:
    """Download an exported batch's bank file; reads only (each download is logged). A batch
    already returned (已回盘) answers 409 naming the return's day unless
    ``confirm_returned=true``: the bank must not be sent it again."""
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=FINANCE)
    data = pay_actions.download_bank_file(request.user, batch,
                                          confirm_returned=confirm_returned)
    layout = bankfile.get_layout(batch.layout)
    resp = HttpResponse(data, content_type=layout.content_type)
    resp["Content-Disposition"] = f'attachment; filename="{batch.number}.{layout.extension}"'
    return resp


class ReturnOut(Schema):
    paid: int
    failed: int
    returned: int
    unchanged: int


@router.post("/batches/{batch_id}/return", response=ReturnOut)
def bank_return(request: HttpRequest, batch_id: Id, file: File[UploadedFile]
                ) -> dict[str, int]:
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=FINANCE)
    return pay_actions.import_return(request.user, batch,
                                    read_upload(file, bankfile.RETURN_MAX_BYTES))


class CorrectIn(Schema):
    bank_account_id: Id
    note: Annotated[str, note(200)]


class CorrectOut(Schema):
    line: str
    account: str
    note: str


@router.post("/lines/{line_id}/correct", response=CorrectOut)
def correct_line(request: HttpRequest, line_id: Id, payload: CorrectIn) -> CorrectOut:
    line = get_line_for_user(request.user, line_id, roles=FINANCE)
    account = BankAccount.objects.filter(
        Q(person_id=line.case.subject_id) | Q(person_id=line.case.applicant_id),
        pk=payload.bank_account_id).first()
    if account is None:
        raise ActionError("bank_account_id：须为申请人或补贴对象的收款账户")
    fix = pay_actions.correct_line(request.user, line, bank_account=account, note=payload.note)
    return CorrectOut(line=line.reference, account=account.account_masked, note=fix.note)


# Recoveries (追回): the same controls as ``huimin payments recoveries`` / ``record-recovery``


class RecoveryOut(Schema):
    id: int
    number: str
    case: str
    subject: str
    program: str
    cycle: str
    amount_fen: int
    recovered_fen: int
    written_off_fen: int
    balance_fen: int
    cause: str
    event_ref: str
    period_start: date
    period_end: date
    state: str
    pending_write_off: bool


#: a movement's note (named apart: the schema's own field is called ``note``)
MovementNote = Annotated[str, note(200)]


class MovementIn(Schema):
    """A repayment (退缴: ``receipt``, the bank's receipt number, is required) or an offset
    against a later entitlement of the same household (抵扣: ``entitlement_id``)."""

    method: Literal["repayment", "offset"]
    amount_fen: Annotated[int, Field(ge=1, le=10**12, description="金额（分）")]
    on_date: Day
    receipt: Annotated[str, line(60)] = ""
    entitlement_id: Id | None = None
    note: MovementNote = ""


class MovementOut(Schema):
    id: int
    recovery: RecoveryOut
    method: str
    amount_fen: int
    on_date: date
    receipt: str


def _recovery_out(rec: Any) -> RecoveryOut:
    from huimin.payments.recoveries import row

    r = row(rec)
    return RecoveryOut(**{k: r[k] for k in RecoveryOut.model_fields})


@router.get("/recoveries", response=list[RecoveryOut])
def list_recoveries(request: HttpRequest, response: HttpResponse,
                    page: Query[Page]) -> list[RecoveryOut]:
    from huimin.audit.events import record_reads
    from huimin.payments.recoveries import READERS, recoveries_for

    require_role(request.user, READERS)
    recs = keyset_page(request, response, recoveries_for(request.user).order_by("id"), page)
    record_reads(request.user, "recovery.list", [r.case.subject for r in recs], via="api")
    return [_recovery_out(r) for r in recs]


@router.post("/recoveries/{recovery_id}/movements", response={201: MovementOut})
def record_recovery(request: HttpRequest, recovery_id: Id,
                    payload: MovementIn) -> Status[MovementOut]:
    from huimin.payments import recoveries as rec_actions
    from huimin.payments.models import Entitlement

    rec = rec_actions.get_recovery_for_user(request.user, recovery_id,
                                            roles=rec_actions.RECORD_ROLES)
    if payload.method == "repayment":
        if not payload.receipt.strip():
            raise ActionError("receipt：退缴须填写银行回单号（如 2026061500123）")
        mv = rec_actions.record_repayment(request.user, rec, amount_fen=payload.amount_fen,
                                          on_date=payload.on_date, receipt=payload.receipt,
                                          note=payload.note)
    else:
        targets = rec_actions.offset_targets(rec)
        chosen = [e for e in targets if e.pk == payload.entitlement_id] \
            if payload.entitlement_id else targets
        if len(chosen) != 1:
            listed = "、".join(str(e.pk) for e in targets) or "无"
            raise ActionError("entitlement_id：须为同户尚未纳入批次的应发明细，"
                              f"可选 {listed}")
        mv = rec_actions.record_offset(request.user, rec, amount_fen=payload.amount_fen,
                                       on_date=payload.on_date,
                                       entitlement=Entitlement.objects.get(pk=chosen[0].pk),
                                       note=payload.note)
    fresh = rec_actions.recoveries_for(request.user).get(pk=rec.pk)
    return Status(201, MovementOut(id=mv.pk, recovery=_recovery_out(fresh), method=mv.method,
                                   amount_fen=mv.amount_fen, on_date=mv.on_date,
                                   receipt=mv.receipt))
