"""A batch's further pages: another layout or cancel (a batch that cannot go out), the bank
statement (对账单, 帐实相符) and the printable roster (发放花名册) with its summary."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from huimin.accounts.access import get_batch_for_user
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.pdf import render_pdf
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.payments import actions, bankfile
from huimin.payments.access import FINANCE
from huimin.payments.models import BatchState, LineStatus, PaymentBatch
from huimin.payments.views import SHOWN_LINES, _detail

#: a roster is printed and signed: past this many lines it is refused (print by village)
ROSTER_MAX_LINES = 5000
STATEMENT_MAX_BYTES = bankfile.RETURN_MAX_BYTES
#: who prints and signs the roster: 制表人 (finance) and 审核人 (the county approver)
ROSTER_ROLES = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER)


@login_required
@require_POST
def batch_relayout(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    try:
        done = actions.relayout_batch(request.user, batch, layout=request.POST.get("layout", ""),
                                      note=request.POST.get("note", ""))
    except FileRejected as exc:
        return _detail(request, batch, status=400, rejected=exc.message,
                       errors=exc.errors[:SHOWN_LINES])
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"批次 {done.number} 已改为「"
                                  f"{bankfile.get_layout(done.layout).name}」")
    return redirect("payments:detail", batch.pk)


@login_required
@require_POST
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=actions.batches.CANCEL_ROLES)
    try:
        n = actions.cancel_batch(request.user, batch, reason=request.POST.get("reason", ""))
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"批次 {batch.number} 已作废：{n} 笔移出，相关案件可纳入新批次")
    return redirect("payments:detail", batch.pk)


@login_required
@require_POST
def batch_statement(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "对账单文件：请选择文件")
        return redirect("payments:detail", batch.pk)
    try:
        st = actions.import_statement(request.user, batch,
                                      read_upload(upload, STATEMENT_MAX_BYTES))
    except FileRejected as exc:
        return _detail(request, batch, status=400, rejected=exc.message,
                       errors=exc.errors[:SHOWN_LINES])
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:detail", batch.pk)
    if st.agrees:
        messages.success(request, f"对账单已核对：帐实相符（本批次 {st.rows} 笔）")
    else:
        messages.error(request, f"对账单已核对：帐实不符，{len(st.mismatches)} 处不符，见下方")
    return redirect("payments:detail", batch.pk)


def roster_context(batch: PaymentBatch) -> dict[str, object]:
    lines = batch.lines.select_related("bank_account").order_by("seq")
    by_status = {row["status"]: (row["n"], int(row["s"] or 0)) for row in
                 lines.values("status").annotate(n=Count("id"), s=Sum("amount_fen"))
                 .order_by()}
    summary = [(LineStatus(s).label, *by_status.get(s, (0, 0))) for s in LineStatus.values]
    return {"batch": batch, "lines": lines, "summary": summary,
            "layout": bankfile.get_layout(batch.layout),
            "printed_at": timezone.localtime(timezone.now())}


@login_required
@require_GET
def batch_roster(request: HttpRequest, pk: int) -> HttpResponse:
    """The batch's payment roster (发放花名册) and summary as an A4 PDF, with signature lines
    (制表人、审核人、负责人, date). Names and masked accounts: one read event."""
    batch = get_batch_for_user(request.user, pk, write=True, roles=ROSTER_ROLES)
    if batch.state == BatchState.CANCELLED:
        messages.error(request, f"批次 {batch.number} 已作废，没有花名册")
        return redirect("payments:detail", batch.pk)
    if batch.line_count > ROSTER_MAX_LINES:
        messages.error(request, f"批次 {batch.number} 有 {batch.line_count} 笔，超过花名册"
                                f"打印上限 {ROSTER_MAX_LINES} 笔")
        return redirect("payments:detail", batch.pk)
    record(request.user, "batch.roster", batch, area_code=batch.area.code,
           lines=batch.line_count)
    pdf = render_pdf("payments/roster.html", roster_context(batch))
    resp = HttpResponse(pdf, content_type="application/pdf")
    name = quote(f"发放花名册-{batch.number}.pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{name}"
    return resp
