"""What-if: a proposed version of a program against the current one, over the user's area."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from huimin.accounts.access import persons_for, require_role
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.programs.entitlement import catalog
from huimin.programs.registry_view import registry_rows
from huimin.rules import RulesError
from huimin.rules.io import registry_table
from huimin.rules.whatif import WhatIfRow, compare, export_excel

WHATIF_ROLES = (Role.COUNTY_APPROVER, Role.FINANCE_OFFICER, Role.AUDITOR, Role.ADMIN)
MAX_DOCUMENT = 256 * 1024


def _years(text: str) -> list[int]:
    years = sorted({int(y) for y in text.replace("，", ",").split(",") if y.strip()})
    if not years or any(y < 2000 or y > 2100 for y in years) or len(years) > 10:
        raise ValueError
    return years


@login_required
@require_http_methods(["GET", "POST"])
def whatif(request: HttpRequest) -> HttpResponse:
    require_role(request.user, WHATIF_ROLES)
    cat = catalog()
    today = timezone.localdate()
    context: dict[str, object] = {
        "programs": cat.program_ids, "values": request.POST,
        "default_years": f"{today.year},{today.year + 1}",
    }
    if request.method == "GET":
        return render(request, "programs/whatif.html", context)
    program = request.POST.get("program", "")
    upload = request.FILES.get("proposal")
    errors = []
    if program not in cat.program_ids:
        errors.append("项目：请选择一个项目")
    try:
        years = _years(request.POST.get("years", ""))
    except ValueError:
        errors.append("测算年度：请填写 1–10 个年份，以逗号分隔，如 2026,2027")
    if upload is None:
        errors.append("方案文件：请上传调整后的项目定义（YAML）")
    elif not (upload.name or "").lower().endswith((".yaml", ".yml")):
        errors.append("方案文件：只接受 .yaml 或 .yml 文件")
    elif upload.size is not None and upload.size > MAX_DOCUMENT:
        errors.append("方案文件：超过 256 KB")
    if errors or upload is None:
        context["errors"] = errors
        return render(request, "programs/whatif.html", context, status=400)
    rows_or_error = _compare(program, years, upload.read(), upload.name or "proposal.yaml",
                             request)
    if isinstance(rows_or_error, str):
        context["errors"] = [rows_or_error]
        return render(request, "programs/whatif.html", context, status=400)
    rows = rows_or_error
    title = f"{program} 测算：现行规则 与 {upload.name}"
    record(request.user, "programs.whatif", request.user, program=program, years=years,
           proposal=upload.name or "", export="export" in request.POST, rows=len(rows))
    if "export" in request.POST:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "whatif.xlsx"
            export_excel(rows, out, title)
            data = out.read_bytes()
        resp = HttpResponse(
            data,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('政策测算')}.xlsx"
        return resp
    context.update(rows=rows, title=title, totals=_totals(rows))
    return render(request, "programs/whatif.html", context)


def _compare(program: str, years: list[int], document: bytes, name: str,
             request: HttpRequest) -> list[WhatIfRow] | str:
    rows = registry_rows(persons_for(request.user))
    if not rows:
        return "您的管辖范围内没有登记人员"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(document)
        try:
            proposal = catalog().overlay([path])
            if program not in proposal.program_ids:
                return f"方案文件：文件中的项目不是 {program}"
            return compare(catalog(), proposal, program, years, registry_table(rows),
                           "duckdb", area_digits=9)
        except RulesError as exc:
            return f"方案文件有误：{str(exc).replace(str(path), name)}"


def _totals(rows: list[WhatIfRow]) -> dict[int, WhatIfRow]:
    out: dict[int, WhatIfRow] = {}
    for r in rows:
        t = out.get(r.year)
        out[r.year] = WhatIfRow("合计", r.year, *(
            (a + b) for a, b in zip(
                (t.base_count, t.base_cost_fen, t.proposal_count, t.proposal_cost_fen)
                if t else (0, 0, 0, 0),
                (r.base_count, r.base_cost_fen, r.proposal_count, r.proposal_cost_fen),
                strict=True)))
    return out



