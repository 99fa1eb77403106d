from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from huimin import listing
from huimin.accounts.access import batches_for, get_batch_for_user, require_role, user_can
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.actions import local_today
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.payments import actions, bankfile, reconcile
from huimin.payments import lists as pay_lists
from huimin.payments.access import (
    APPROVER,
    BOOK_READERS,
    FINANCE,
    cycles_for,
    get_cycle_for_user,
    get_line_for_user,
)
from huimin.payments.models import (
    NOT_PAID,
    BatchState,
    EntitlementStatus,
    PaymentBatch,
    waiting,
)
from huimin.programs.models import Program
from huimin.registry.models import BankAccount

SHOWN_LINES = 500
LATEST_CYCLES = 20


@login_required
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    """发放: the batches (searched, filtered, paged) and the latest cycles (all of them on
    the cycle list)."""
    qs = batches_for(request.user).select_related("cycle")
    lst = listing.run(pay_lists.BATCHES, request.user, qs, request.GET)
    return render(request, "payments/list.html", {
        "lst": lst,
        "cycles": cycles_for(request.user).order_by("-created_at", "-id")[:LATEST_CYCLES],
        "export_url": reverse("payments:batches_export"),
        "can_build": user_can(request.user, FINANCE),
        "programs": Program.objects.filter(active=True),
        "year": local_today().year,
        "today": local_today().isoformat(),
    }, status=400 if lst.errors else 200)


@login_required
@require_GET
def cycle_list(request: HttpRequest) -> HttpResponse:
    lst = listing.run(pay_lists.CYCLES, request.user, cycles_for(request.user), request.GET)
    return render(request, "payments/cycle_list.html", {
        "lst": lst, "export_url": reverse("payments:cycles_export"),
    }, status=400 if lst.errors else 200)


@login_required
@require_POST
def cycle_export(request: HttpRequest) -> HttpResponse:
    return listing.export_response(  # type: ignore[no-any-return]
        request, pay_lists.CYCLES, cycles_for(request.user))


@login_required
@require_POST
def batch_list_export(request: HttpRequest) -> HttpResponse:
    return listing.export_response(  # type: ignore[no-any-return]
        request, pay_lists.BATCHES, batches_for(request.user).select_related("cycle"))


@login_required
@require_POST
def cycle_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, FINANCE)
    text = request.POST.get("claim_year", "").strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        messages.error(request, "年度：须为四位数字，如 2026")
        return redirect("payments:list")
    year = int(text)
    try:  # a real date, YYYY-MM-DD; its range is checked with the cycle (actions.check_cycle)
        day = request.POST.get("cut_off", "").strip()
        cut_off = date.fromisoformat(day) if day else None
        if day and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise ValueError(day)
    except ValueError:
        messages.error(request, "截止日：须为有效日期 YYYY-MM-DD")
        return redirect("payments:list")
    code = request.POST.get("program", "")
    # a code with NUL or control characters is no program's (and PostgreSQL refuses NUL)
    program = Program.objects.filter(code=code).first() if code.isprintable() else None
    if program is None:
        messages.error(request, "请选择项目")
        return redirect("payments:list")
    try:
        cycle = actions.build_cycle(request.user, program=program, claim_year=year,
                                    period=request.POST.get("period", ""), cut_off=cut_off)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:list")
    messages.success(request, f"发放周期 {cycle.number} 已冻结：应发 {cycle.payable_count} 人，"
                              f"暂停 {cycle.held_count} 人")
    return redirect("payments:cycle", cycle.pk)


@login_required
@require_GET
def cycle_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cycle = get_cycle_for_user(request.user, pk)
    held = (cycle.entitlements.filter(status=EntitlementStatus.HELD)
            .select_related("case", "case__subject", "case__area").order_by("id"))
    return render(request, "payments/cycle.html", {
        "cycle": cycle,
        "held": held[:SHOWN_LINES],
        "waiting": waiting(cycle.entitlements.all()).count(),
        "batches": cycle.batches.order_by("id"),
        "layouts": bankfile.layout_choices(),
        "can_build": user_can(request.user, FINANCE),
    })


@login_required
@require_POST
def batch_new(request: HttpRequest) -> HttpResponse:
    cycle = get_cycle_for_user(request.user, request.POST.get("cycle"), roles=FINANCE)
    try:
        batch = actions.create_batch(request.user, cycle,
                                     layout=request.POST.get("layout") or bankfile.DEFAULT_LAYOUT)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:cycle", cycle.pk)
    messages.success(request, f"已生成批次 {batch.number}：{batch.line_count} 笔，待县级审批人放行")
    return redirect("payments:detail", batch.pk)


def _detail(request: HttpRequest, batch: PaymentBatch, status: int = 200,
            **extra: Any) -> HttpResponse:
    lines = (batch.lines.select_related("batch", "case", "correction", "bank_account",
                                        "entitlement")
             .order_by("seq"))
    attention = lines.filter(status__in=NOT_PAID, correction__isnull=True)
    accounts: dict[int, list[BankAccount]] = {}
    if user_can(request.user, FINANCE) and attention.exists():
        people = {pid for line in attention[:SHOWN_LINES]
                  for pid in (line.case.subject_id, line.case.applicant_id) if pid}
        for acct in BankAccount.objects.filter(person_id__in=people, active=True):
            accounts.setdefault(acct.person_id, []).append(acct)
    fix = [(line, accounts.get(line.case.subject_id, [])
            + accounts.get(line.case.applicant_id or 0, []))
           for line in attention[:SHOWN_LINES]]
    unsent = batch.state in actions.batches.NOT_SENT
    problems = actions.check_batch(batch) if unsent else []
    return render(request, "payments/detail.html", {
        "batch": batch,
        "problems": problems[:SHOWN_LINES],
        "problem_count": len(problems),
        "can_relayout": unsent and user_can(request.user, FINANCE),
        "can_cancel": unsent and user_can(request.user, actions.batches.CANCEL_ROLES),
        "can_statement": user_can(request.user, FINANCE) and batch.state in (
            BatchState.EXPORTED, BatchState.RETURNED),
        "can_roster": user_can(request.user, (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER))
        and batch.state != BatchState.CANCELLED,
        "other_layouts": [c for c in bankfile.layout_choices() if c[0] != batch.layout],
        "statements": batch.statements.order_by("id"),
        "lines": lines[:SHOWN_LINES],
        "fix": fix,
        "layout": bankfile.get_layout(batch.layout),
        "returns": batch.returns.order_by("id"),
        "can_act": user_can(request.user, FINANCE),
        "can_release": (user_can(request.user, APPROVER) and batch.state == BatchState.DRAFT
                        and batch.created_by_id != request.user.pk),
        "can_export": user_can(request.user, FINANCE) and batch.state == BatchState.RELEASED,
        "can_download": user_can(request.user, FINANCE) and batch.state not in (
            BatchState.DRAFT, BatchState.RELEASED, BatchState.CANCELLED),
        "downloads": actions.download_count(batch),
        "shown": SHOWN_LINES,
        **extra,
    }, status=status)


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk)
    # the page lists every payee of the batch (name, bank, masked account): one read event
    record(request.user, "batch.view", batch, area_code=batch.area.code,
           lines=batch.line_count)
    return _detail(request, batch)


@login_required
@require_POST
def batch_release(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=APPROVER)
    try:
        actions.release_batch(request.user, batch)
    except FileRejected as exc:  # names outside the layout's encoding: every line listed
        return _detail(request, batch, status=400, rejected=exc.message,
                       errors=exc.errors[:SHOWN_LINES])
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"批次 {batch.number} 已放行，财务人员可导出银行文件")
    return redirect("payments:detail", batch.pk)


@login_required
@require_POST
def batch_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Export a released batch (it moves to exported); the file is then downloaded by GET."""
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    if batch.state != BatchState.RELEASED:
        messages.error(request, f"批次 {batch.number} 当前状态为「{batch.state_label}」，"
                                "只能导出已放行的批次")
        return redirect("payments:detail", batch.pk)
    try:
        actions.export_batch(request.user, batch)
    except FileRejected as exc:
        return _detail(request, batch, status=400, rejected=exc.message,
                       errors=exc.errors[:SHOWN_LINES])
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"批次 {batch.number} 已导出，请下载银行文件并提交银行")
    return redirect("payments:detail", batch.pk)


@login_required
@require_GET
def batch_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The exported batch's bank file; reads only, and every download is logged. A batch the
    bank answered already is handed out only after a confirmation naming the return's day."""
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    confirmed = request.GET.get("confirm") == "returned"
    if batch.state == BatchState.RETURNED and not confirmed:
        return render(request, "payments/download_confirm.html", {
            "batch": batch, "returned_on": actions.returned_on(batch),
            "downloads": actions.download_count(batch)})
    try:
        data = actions.download_bank_file(request.user, batch, confirm_returned=confirmed)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:detail", batch.pk)
    layout = bankfile.get_layout(batch.layout)
    resp = HttpResponse(data, content_type=layout.content_type)
    resp["Content-Disposition"] = f'attachment; filename="{batch.number}.{layout.extension}"'
    return resp


@login_required
@require_POST
def batch_return(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "请选择回盘文件")
        return redirect("payments:detail", batch.pk)
    try:
        counts = actions.import_return(request.user, batch,
                                       read_upload(upload, bankfile.RETURN_MAX_BYTES))
    except FileRejected as exc:
        return _detail(request, batch, status=400, rejected=exc.message,
                       errors=exc.errors[:SHOWN_LINES])
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:detail", batch.pk)
    messages.success(request, f"回盘已导入：成功 {counts['paid']} 笔，失败 {counts['failed']} 笔，"
                              f"退回 {counts['returned']} 笔，无变化 {counts['unchanged']} 笔")
    return redirect("payments:detail", batch.pk)


@login_required
@require_POST
def line_correct(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_line_for_user(request.user, pk, roles=FINANCE)
    case = line.case
    chosen = request.POST.get("bank_account", "")
    account = None
    if chosen.isascii() and chosen.isdigit() and len(chosen) < 19:  # an id, not "1e3"
        account = BankAccount.objects.filter(
            Q(person_id=case.subject_id) | Q(person_id=case.applicant_id),
            pk=int(chosen)).first()
    if account is None:
        messages.error(request, "请选择申请人或补贴对象的收款账户")
        return redirect("payments:detail", line.batch_id)
    try:
        actions.correct_line(request.user, line, bank_account=account,
                             note=request.POST.get("note", ""))
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{line.reference} 已更正，将在下一批次中发放")
    return redirect("payments:detail", line.batch_id)


@login_required
@require_GET
def cycle_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    cycle = get_cycle_for_user(request.user, pk, roles=BOOK_READERS)
    report = reconcile.reconcile(cycle)
    record(request.user, "cycle.reconcile_view", cycle, area_code=cycle.area.code)
    return render(request, "payments/reconcile.html", {
        "cycle": cycle, "report": report, **reconcile.summary(report)})


@login_required
@require_GET
def cycle_reconcile_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    cycle = get_cycle_for_user(request.user, pk, roles=BOOK_READERS)
    data = reconcile.to_xlsx(reconcile.reconcile(cycle))
    record(request.user, "cycle.reconcile_export", cycle, area_code=cycle.area.code,
           size=len(data))
    resp = HttpResponse(data, content_type=bankfile.XLSX_TYPE)
    resp["Content-Disposition"] = f'attachment; filename="reconcile-{cycle.number}.xlsx"'
    return resp

