"""API: payment batches, bank files and returns."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from huimin.accounts.access import batches_for, get_batch_for_user
from huimin.accounts.models import Role
from huimin.errors import ActionError
from huimin.payments import actions as pay_actions
from huimin.programs.models import Program

router = Router(tags=["payments"])


class BatchIn(Schema):
    program: str = "childcare-subsidy"
    claim_year: int


class BatchOut(Schema):
    id: int
    number: str
    program: str
    claim_year: int
    state: str
    line_count: int
    total_fen: int
    file_sha256: str


def _batch(b: object) -> BatchOut:
    from huimin.payments.models import PaymentBatch

    assert isinstance(b, PaymentBatch)
    return BatchOut(id=b.pk, number=b.number, program=b.program.code, claim_year=b.claim_year,
                    state=b.state, line_count=b.line_count, total_fen=b.total_fen,
                    file_sha256=b.file_sha256)


@router.get("/batches", response=list[BatchOut])
def list_batches(request: HttpRequest) -> list[BatchOut]:
    return [_batch(b) for b in batches_for(request.user)[:200]]


@router.post("/batches", response={201: BatchOut})
def create_batch(request: HttpRequest, payload: BatchIn) -> Status[BatchOut]:
    if getattr(request.user, "role", None) != Role.FINANCE_OFFICER:
        raise PermissionDenied("只有财务人员可以办理发放")
    try:
        program = Program.objects.get(code=payload.program)
    except Program.DoesNotExist:
        raise ActionError(f"program：未知项目 {payload.program}") from None
    batch = pay_actions.create_batch(request.user, program=program,
                                     claim_year=payload.claim_year)
    return Status(201, _batch(batch))


@router.get("/batches/{batch_id}", response=BatchOut)
def get_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    return _batch(get_batch_for_user(request.user, batch_id))


@router.get("/batches/{batch_id}/bank-file")
def bank_file(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, batch_id, write=True,
                               roles=[Role.FINANCE_OFFICER])
    data = pay_actions.export_batch(request.user, batch)
    resp = HttpResponse(data, content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{batch.number}.csv"'
    return resp


class ReturnOut(Schema):
    paid: int
    failed: int
    unchanged: int


@router.post("/batches/{batch_id}/return", response=ReturnOut)
def bank_return(request: HttpRequest, batch_id: int, file: File[UploadedFile]
                ) -> dict[str, int]:
    batch = get_batch_for_user(request.user, batch_id, write=True,
                               roles=[Role.FINANCE_OFFICER])
    return pay_actions.import_return(request.user, batch, file.read())
