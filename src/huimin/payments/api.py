"""API: payment cycles, batches, bank files, returns, corrections and reconciliation."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from huimin.accounts.access import batches_for, get_batch_for_user, require_role
from huimin.errors import ActionError
from huimin.payments import actions as pay_actions
from huimin.payments import bankfile, reconcile
from huimin.payments.access import (
    APPROVER,
    FINANCE,
    cycles_for,
    get_cycle_for_user,
    get_line_for_user,
)
from huimin.payments.models import PaymentBatch, PaymentCycle
from huimin.programs.models import Program
from huimin.registry.models import BankAccount

router = Router(tags=["payments"])


class CycleIn(Schema):
    program: str = "childcare-subsidy"
    claim_year: int
    period: str = ""
    cut_off: date | None = None


class CycleOut(Schema):
    id: int
    number: str
    program: str
    claim_year: int
    period: str
    cut_off: date
    state: str
    payable_count: int
    payable_fen: int
    held_count: int
    held_fen: int
    rule_versions: list[str]


def _cycle(c: PaymentCycle) -> CycleOut:
    return CycleOut(id=c.pk, number=c.number, program=c.program.code, claim_year=c.claim_year,
                    period=c.period, cut_off=c.cut_off, state=c.state,
                    payable_count=c.payable_count, payable_fen=c.payable_fen,
                    held_count=c.held_count, held_fen=c.held_fen,
                    rule_versions=list(c.rule_versions))


@router.get("/cycles", response=list[CycleOut])
def list_cycles(request: HttpRequest) -> list[CycleOut]:
    return [_cycle(c) for c in cycles_for(request.user)[:200]]


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
def get_cycle(request: HttpRequest, cycle_id: int) -> CycleOut:
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
def reconciliation(request: HttpRequest, cycle_id: int) -> dict[str, Any]:
    cycle = get_cycle_for_user(request.user, cycle_id)
    report = reconcile.reconcile(cycle)
    return {"cycle": cycle.pk, "ok": {c: report.ok(c) for c in reconcile.CHECKS},
            "balances": [b.__dict__ for b in report.balances],
            "variances": [v.__dict__ for v in report.variances], "unlisted": report.more}


class BatchIn(Schema):
    cycle_id: int
    layout: str = bankfile.DEFAULT_LAYOUT


class BatchOut(Schema):
    id: int
    number: str
    cycle_id: int | None
    program: str
    claim_year: int
    layout: str
    state: str
    line_count: int
    total_fen: int
    file_sha256: str
    body_checksum: str


def _batch(b: PaymentBatch) -> BatchOut:
    return BatchOut(id=b.pk, number=b.number, cycle_id=b.cycle_id, program=b.program.code,
                    claim_year=b.claim_year, layout=b.layout, state=b.state,
                    line_count=b.line_count, total_fen=b.total_fen, file_sha256=b.file_sha256,
                    body_checksum=b.body_checksum)


@router.get("/batches", response=list[BatchOut])
def list_batches(request: HttpRequest) -> list[BatchOut]:
    return [_batch(b) for b in batches_for(request.user)[:200]]


@router.post("/batches", response={201: BatchOut})
def create_batch(request: HttpRequest, payload: BatchIn) -> Status[BatchOut]:
    cycle = get_cycle_for_user(request.user, payload.cycle_id, roles=FINANCE)
    batch = pay_actions.create_batch(request.user, cycle, layout=payload.layout)
    return Status(201, _batch(batch))


@router.get("/batches/{batch_id}", response=BatchOut)
def get_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    return _batch(get_batch_for_user(request.user, batch_id))


@router.post("/batches/{batch_id}/release", response=BatchOut)
def release_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=APPROVER)
    return _batch(pay_actions.release_batch(request.user, batch))


@router.get("/batches/{batch_id}/bank-file")
def bank_file(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=FINANCE)
    data = pay_actions.export_batch(request.user, batch)
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
def bank_return(request: HttpRequest, batch_id: int, file: File[UploadedFile]
                ) -> dict[str, int]:
    batch = get_batch_for_user(request.user, batch_id, write=True, roles=FINANCE)
    return pay_actions.import_return(request.user, batch, file.read())


class CorrectIn(Schema):
    bank_account_id: int
    note: str


class CorrectOut(Schema):
    line: str
    account: str
    note: str


@router.post("/lines/{line_id}/correct", response=CorrectOut)
def correct_line(request: HttpRequest, line_id: int, payload: CorrectIn) -> CorrectOut:
    line = get_line_for_user(request.user, line_id, roles=FINANCE)
    account = BankAccount.objects.filter(
        Q(person_id=line.case.subject_id) | Q(person_id=line.case.applicant_id),
        pk=payload.bank_account_id).first()
    if account is None:
        raise ActionError("bank_account_id：须为申请人或补贴对象的收款账户")
    fix = pay_actions.correct_line(request.user, line, bank_account=account, note=payload.note)
    return CorrectOut(line=line.reference, account=account.account_masked, note=fix.note)
