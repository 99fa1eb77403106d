"""The recoveries page (追回管理): finance officers record, auditors read, by area."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from huimin.accounts.access import require_role, user_can
from huimin.audit.events import actor_area_code, record, record_reads
from huimin.cases.actions import local_today
from huimin.errors import ActionError
from huimin.lib.money import InvalidAmount, yuan_to_fen
from huimin.payments import bankfile
from huimin.payments import recoveries as rec_actions
from huimin.payments.models import (
    Entitlement,
    MovementStatus,
    RecoveryMovement,
    RecoveryState,
)

SHOWN = 500
STATES = {"open": "追回中", "closed": "已结清", "all": "全部"}


def _state(request: HttpRequest) -> str:
    state = request.GET.get("state", "open")
    return state if state in STATES else "open"


def _listed(request: HttpRequest, state: str) -> Any:
    qs = rec_actions.recoveries_for(request.user).select_related("case__subject__area")
    if state != "all":
        qs = qs.filter(state=state)
    return qs.order_by("-id")


@login_required
@require_GET
def recovery_list(request: HttpRequest) -> HttpResponse:
    require_role(request.user, rec_actions.READERS)
    state = _state(request)
    recs = list(_listed(request, state)[:SHOWN])
    record_reads(request.user, "recovery.list", [r.case.subject for r in recs], state=state)
    every = rec_actions.recoveries_for(request.user)
    return render(request, "payments/recoveries.html", {
        "rows": [(r, rec_actions.row(r)) for r in recs], "state": state, "states": STATES,
        "state_label": "" if state == "all" else STATES[state],
        "shown": SHOWN, "open_count": every.filter(state=RecoveryState.OPEN).count(),
        "open_balance": int(every.filter(state=RecoveryState.OPEN).aggregate(
            s=Sum(F("amount_fen") - F("settled_fen")))["s"] or 0),
        "can_export": bool(recs),
    })


def _form_context(request: HttpRequest, rec: Any) -> dict[str, Any]:
    user = request.user
    can_record = user_can(user, rec_actions.RECORD_ROLES) and rec.state == RecoveryState.OPEN
    pending = [mv for mv in rec.movements.all() if mv.status == MovementStatus.REQUESTED]
    return {
        "rec": rec, "r": rec_actions.row(rec), "movements": list(rec.movements.all()),
        "can_record": can_record,
        "targets": rec_actions.offset_targets(rec) if can_record else [],
        "pending": pending,
        "can_approve": [mv for mv in pending if user_can(user, rec_actions.APPROVE_ROLES)
                        and mv.requested_by_id != user.pk],
        "today": local_today().isoformat(),
    }


@login_required
@require_GET
def recovery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rec = rec_actions.get_recovery_for_user(request.user, pk)
    record(request.user, "recovery.view", rec, person_id=rec.case.subject_id,
           area_code=rec.cycle.area.code, recovery=rec.pk)
    return render(request, "payments/recovery.html", _form_context(request, rec))


def _amount(request: HttpRequest) -> int:
    text = request.POST.get("amount", "").strip()
    try:
        return yuan_to_fen(text)
    except InvalidAmount:
        raise ActionError(f"金额：「{text[:20]}」不是有效的金额（元，最多两位小数）") from None


def _date(request: HttpRequest) -> date:
    text = request.POST.get("date", "").strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ActionError(f"日期：「{text[:20]}」应为有效日期 YYYY-MM-DD") from None


def _post(request: HttpRequest, pk: int, roles: Any, act: Any, done: str) -> HttpResponse:
    rec = rec_actions.get_recovery_for_user(request.user, pk, roles=roles)
    try:
        act(rec)
    except ActionError as exc:
        messages.error(request, exc.message)
        rec = rec_actions.get_recovery_for_user(request.user, pk, roles=roles)
        return render(request, "payments/recovery.html",
                      {**_form_context(request, rec), "posted": request.POST}, status=400)
    messages.success(request, done)
    return redirect("payments:recovery", pk)


@login_required
@require_POST
def recovery_repay(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, rec_actions.RECORD_ROLES, lambda rec: rec_actions.record_repayment(
        request.user, rec, amount_fen=_amount(request), on_date=_date(request),
        receipt=request.POST.get("receipt", ""), note=request.POST.get("note", "")),
        "退缴已登记")


@login_required
@require_POST
def recovery_offset(request: HttpRequest, pk: int) -> HttpResponse:
    def act(rec: Any) -> Any:
        chosen = request.POST.get("entitlement", "")
        ent = next((e for e in rec_actions.offset_targets(rec) if str(e.pk) == chosen), None)
        if ent is None:
            raise ActionError("抵扣的应发：请选择同一户尚未纳入批次的应发")
        return rec_actions.record_offset(
            request.user, rec, amount_fen=_amount(request), on_date=_date(request),
            entitlement=Entitlement.objects.get(pk=ent.pk), note=request.POST.get("note", ""))

    return _post(request, pk, rec_actions.RECORD_ROLES, act, "抵扣已登记：该笔应发将少发相应金额")


@login_required
@require_POST
def recovery_write_off(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, rec_actions.RECORD_ROLES, lambda rec: rec_actions.request_write_off(
        request.user, rec, amount_fen=_amount(request), on_date=_date(request),
        note=request.POST.get("note", "")), "核销申请已提交，须由另一人审批")


@login_required
@require_POST
def recovery_approve(request: HttpRequest, pk: int, mv: int) -> HttpResponse:
    def act(rec: Any) -> Any:
        movement = RecoveryMovement.objects.filter(recovery=rec, pk=mv).first()
        if movement is None:
            raise ActionError("该核销申请不存在")
        return rec_actions.approve_write_off(request.user, movement)

    return _post(request, pk, rec_actions.APPROVE_ROLES, act, "核销已审批")


@login_required
@require_POST
def recovery_decline(request: HttpRequest, pk: int, mv: int) -> HttpResponse:
    def act(rec: Any) -> Any:
        movement = RecoveryMovement.objects.filter(recovery=rec, pk=mv).first()
        if movement is None:
            raise ActionError("该核销申请不存在")
        return rec_actions.decline_write_off(request.user, movement,
                                             reason=request.POST.get("reason", ""))

    return _post(request, pk, rec_actions.APPROVE_ROLES, act, "核销申请已驳回，余额继续追回")


@login_required
@require_POST
def recovery_export(request: HttpRequest) -> HttpResponse:
    """The recoveries listed (by state) as a workbook; a POST, and audited."""
    require_role(request.user, rec_actions.READERS)
    state = request.POST.get("state", "all")
    state = state if state in STATES else "all"
    recs = list(_listed(request, state))
    data = rec_actions.to_xlsx(recs)
    record(request.user, "recovery.export", request.user, area_code=actor_area_code(request.user),
           state=state, rows=len(recs), size=len(data),
           recoveries=[r.pk for r in recs][:1000])
    resp = HttpResponse(data, content_type=bankfile.XLSX_TYPE)
    resp["Content-Disposition"] = (
        f'attachment; filename="recoveries-{local_today().isoformat()}.xlsx"')
    return resp
