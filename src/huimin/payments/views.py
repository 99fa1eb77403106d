from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin.accounts.access import batches_for, get_batch_for_user, require_role, user_can
from huimin.accounts.models import Role
from huimin.cases.actions import local_today
from huimin.errors import ActionError, FileRejected
from huimin.payments import actions
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import Program

FINANCE = (Role.FINANCE_OFFICER,)


@login_required
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/list.html", {
        "batches": batches_for(request.user),
        "can_build": user_can(request.user, FINANCE),
        "year": local_today().year,
    })


@login_required
@require_POST
def batch_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, FINANCE)
    try:
        year = int(request.POST.get("claim_year", ""))
        batch = actions.create_batch(request.user, program=Program.objects.get(code=CHILDCARE),
                                     claim_year=year)
    except ValueError:
        messages.error(request, "年度：请填写四位数字年份")
        return redirect("payments:list")
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:list")
    messages.success(request, f"已生成批次 {batch.number}：{batch.line_count} 笔")
    return redirect("payments:detail", batch.pk)


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk)
    return render(request, "payments/detail.html", {
        "batch": batch,
        "lines": batch.lines.select_related("case", "batch").order_by("seq"),
        "can_act": user_can(request.user, FINANCE),
    })


@login_required
@require_GET
def batch_export(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    try:
        data = actions.export_batch(request.user, batch)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:detail", batch.pk)
    resp = HttpResponse(data, content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{batch.number}.csv"'
    return resp


@login_required
@require_http_methods(["POST"])
def batch_return(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, pk, write=True, roles=FINANCE)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "请选择回盘文件")
        return redirect("payments:detail", batch.pk)
    try:
        counts = actions.import_return(request.user, batch, upload.read())
    except FileRejected as exc:
        return render(request, "payments/detail.html", {
            "batch": batch, "lines": batch.lines.select_related("case", "batch").order_by("seq"),
            "can_act": True, "rejected": exc.message, "errors": exc.errors[:500],
        }, status=400)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("payments:detail", batch.pk)
    messages.success(request, f"回盘已导入：成功 {counts['paid']} 笔，失败 {counts['failed']} 笔，"
                              f"无变化 {counts['unchanged']} 笔")
    return redirect("payments:detail", batch.pk)
