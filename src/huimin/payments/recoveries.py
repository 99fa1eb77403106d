"""Recoveries (追回): the actions (``payments.actions.recoveries``), who may see which, and
the ledger of recoveries as rows for the page, the CLI and the Excel export."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from huimin.accounts.access import area_q, require_role
from huimin.accounts.models import Role
from huimin.lib.cells import neutralize, string_cells
from huimin.lib.money import fen_to_yuan
from huimin.payments.actions.recoveries import (
    APPROVE_ROLES,
    OPEN_ROLES,
    RECORD_ROLES,
    approve_write_off,
    decline_write_off,
    mark_overpaid,
    offset_targets,
    open_recovery,
    paid_fen,
    record_offset,
    record_repayment,
    request_write_off,
    reverse_offsets,
)
from huimin.payments.models import MovementStatus, Recovery, RecoveryMethod, RecoveryMovement

#: who may read the recoveries (auditors read only)
READERS = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER, Role.AUDITOR, Role.ADMIN)

__all__ = [
    "APPROVE_ROLES", "OPEN_ROLES", "READERS", "RECORD_ROLES", "approve_write_off",
    "decline_write_off",
    "get_recovery_for_user", "mark_overpaid", "offset_targets", "open_recovery",
    "paid_fen", "record_offset", "record_repayment", "recoveries_for", "request_write_off",
    "reverse_offsets", "row", "to_xlsx",
]


def recoveries_for(user: Any) -> QuerySet[Recovery]:
    """The recoveries of the user's areas (by the area of the cycle that paid them)."""
    qs = (Recovery.objects.select_related("case", "case__subject", "case__program", "cycle",
                                          "cycle__area", "line", "line__batch")
          .prefetch_related("movements", "movements__entitlement__case",
                            "movements__requested_by", "movements__approved_by"))
    if not getattr(user, "is_authenticated", False) or user.role not in READERS:
        return qs.none()
    return qs.filter(area_q(user, "cycle__area__code"))


def get_recovery_for_user(user: Any, pk: object, *,
                          roles: Iterable[str] = READERS) -> Recovery:
    """Outsiders get 404, roles that may not read recoveries 403."""
    if getattr(user, "is_authenticated", False) and user.role not in READERS:
        require_role(user, roles)
    try:
        rec = (Recovery.objects.select_related("case", "case__subject", "cycle", "cycle__area",
                                               "line", "line__batch")
               .filter(area_q(user, "cycle__area__code")).get(pk=pk))  # type: ignore[misc]
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("记录不存在或不在您的管辖范围内") from None
    require_role(user, roles)
    return rec


def _sums(rec: Recovery) -> dict[str, int]:
    out = dict.fromkeys(RecoveryMethod.values, 0)
    for mv in rec.movements.all():
        if mv.status == MovementStatus.DONE:
            out[mv.method] += mv.amount_fen
    return out


def row(rec: Recovery) -> dict[str, Any]:
    """One recovery as the CLI's JSON prints it (amounts in yuan as strings)."""
    sums = _sums(rec)
    recovered = sums[RecoveryMethod.REPAYMENT] + sums[RecoveryMethod.OFFSET]
    return {
        "id": rec.pk, "number": rec.number, "case": rec.case.number,
        "subject": rec.case.subject.name, "program": rec.case.program.name,
        "line": rec.line.reference if rec.line else "", "cycle": rec.cycle.number,
        "amount_yuan": fen_to_yuan(rec.amount_fen), "recovered_yuan": fen_to_yuan(recovered),
        "written_off_yuan": fen_to_yuan(sums[RecoveryMethod.WRITE_OFF]),
        "balance_yuan": fen_to_yuan(rec.balance_fen), "cause": rec.cause,
        "amount_fen": rec.amount_fen, "recovered_fen": recovered,
        "written_off_fen": sums[RecoveryMethod.WRITE_OFF], "balance_fen": rec.balance_fen,
        "event_ref": rec.event_ref, "period_start": rec.period_start.isoformat(),
        "period_end": rec.period_end.isoformat(), "state": rec.state,
        "pending_write_off": any(mv.status == MovementStatus.REQUESTED
                                 for mv in rec.movements.all()),
    }


def to_xlsx(recs: Iterable[Recovery]) -> bytes:
    """The recoveries and their movements as a workbook; every str a string cell, user text
    through ``cells.neutralize``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "追回台账"
    bold = Font(bold=True)
    ws.append(string_cells(ws, [
        "编号", "案件", "补贴对象", "项目", "发放明细", "无资格期间起", "无资格期间止", "原因",
        "依据事件", "应追回（元）", "已追回（元）", "已核销（元）", "余额（元）", "状态"]))
    moves = wb.create_sheet("追回记录")
    moves.append(string_cells(moves, ["编号", "方式", "状态", "金额（元）", "日期", "银行回单号",
                                      "抵扣的应发", "说明", "经办人", "审批人"]))
    for rec in recs:
        r = row(rec)
        ws.append(string_cells(ws, [
            rec.number, rec.case.number, neutralize(rec.case.subject.name),
            neutralize(rec.case.program.name), r["line"], r["period_start"], r["period_end"],
            neutralize(rec.cause), neutralize(rec.event_ref), r["amount_yuan"],
            r["recovered_yuan"], r["written_off_yuan"], r["balance_yuan"],
            rec.get_state_display()]))
        mv: RecoveryMovement
        for mv in rec.movements.all():
            moves.append(string_cells(moves, [
                rec.number, mv.get_method_display(), mv.get_status_display(),
                fen_to_yuan(mv.amount_fen), mv.on_date.isoformat(), neutralize(mv.receipt),
                mv.entitlement.case.number if mv.entitlement else "", neutralize(mv.note),
                neutralize(str(mv.requested_by)),
                neutralize(str(mv.approved_by)) if mv.approved_by else ""]))
    for sheet in (ws, moves):
        for cell in sheet[1]:
            cell.font = bold
    info = wb.create_sheet("说明")
    info.append(string_cells(info, ["导出时间", timezone.localtime().strftime(
        "%Y-%m-%d %H:%M:%S")]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
