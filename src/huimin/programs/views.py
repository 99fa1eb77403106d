"""What-if: a proposed version of a program against the current one, over the user's area."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from huimin.accounts.access import persons_for, require_role
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.programs.entitlement import catalog
from huimin.programs.models import Program
from huimin.programs.registry_view import registry_rows
from huimin.programs.whatif_text import document_error_zh
from huimin.registry.models import Area
from huimin.rules import RulesError
from huimin.rules.document import load_document
from huimin.rules.io import registry_table
from huimin.rules.whatif import WhatIfRow, compare, export_excel

WHATIF_ROLES = (Role.COUNTY_APPROVER, Role.FINANCE_OFFICER, Role.AUDITOR, Role.ADMIN)
MAX_DOCUMENT = 256 * 1024


def _names() -> dict[str, str]:
    """Program ids of the rule catalog with the names the office knows them by."""
    known = dict(Program.objects.values_list("code", "name"))
    today = timezone.localdate()
    out = {}
    for pid in catalog().program_ids:
        name = known.get(pid)
        if name is None:
            try:
                name = catalog().for_year(pid, today.year).name_zh
            except RulesError:  # no version in force this year: by its id
                name = pid
        out[pid] = name
    return out


def _township_names(rows: list[WhatIfRow]) -> dict[str, str]:
    codes = {r.area_code.ljust(12, "0") for r in rows}
    return {code[:9]: name for code, name in Area.objects.filter(code__in=codes)
            .values_list("code", "name")}


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
    names = _names()
    context: dict[str, object] = {
        "programs": sorted(names.items(), key=lambda kv: kv[1]), "values": request.POST,
        "default_years": f"{today.year},{today.year + 1}",
    }
    if request.method == "GET":
        return render(request, "programs/whatif.html", context)
    program = request.POST.get("program", "")
    upload = request.FILES.get("proposal")
    assume = request.POST.get("population") == "potential"
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
                             request, assume=assume)
    if isinstance(rows_or_error, str):
        context["errors"] = [rows_or_error]
        return render(request, "programs/whatif.html", context, status=400)
    rows = rows_or_error
    title = f"{names[program]}测算：现行规则 与 {upload.name}"
    townships = _township_names(rows)
    record(request.user, "programs.whatif", request.user, program=program, years=years,
           proposal=upload.name or "", export="export" in request.POST, rows=len(rows),
           population="potential" if assume else "recorded")
    if "export" in request.POST:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "whatif.xlsx"
            export_excel(rows, out, title, names=townships)
            data = out.read_bytes()
        resp = HttpResponse(
            data,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('政策测算')}.xlsx"
        return resp
    context.update(rows=rows, title=title, totals=_totals(rows), townships=townships)
    return render(request, "programs/whatif.html", context)


def _compare(program: str, years: list[int], document: bytes, name: str,
             request: HttpRequest, *, assume: bool) -> list[WhatIfRow] | str:
    rows = registry_rows(persons_for(request.user).filter(merged_into=None))
    if not rows:
        return "您的管辖范围内没有登记人员"
    if assume:  # every registered person as a potential beneficiary: the status the couple
        for row in rows:  # programs need is taken as confirmed where no case recorded it
            row.setdefault("policy_status_confirmed", True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(document)
        try:
            declared = load_document(path).id  # the bounded, line-numbered reader
            if declared != program:
                return (f"方案文件：文件中的项目是「{declared}」，不是所选的项目「{program}」；"
                        "请上传该项目的方案，或改选项目")
            proposal = catalog().overlay([path])
            if program not in proposal.program_ids:
                return f"方案文件：文件中的项目不是 {program}"
            return compare(catalog(), proposal, program, years, registry_table(rows),
                           "duckdb", area_digits=9)
        except RulesError as exc:
            return document_error_zh(exc, name).replace(str(path), name)


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





@login_required
@require_GET
def whatif_document(request: HttpRequest) -> HttpResponse:
    """The program's current rule document, to start a proposal from (public policy, no
    personal data)."""
    require_role(request.user, WHATIF_ROLES)
    program = request.GET.get("program", "")
    if program not in catalog().program_ids:
        raise Http404("没有这个项目")
    today = timezone.localdate()
    try:
        doc = catalog().for_year(program, today.year).components[0].doc
    except RulesError:
        raise Http404("该项目今年没有施行的规则") from None
    data = Path(doc.source_file).read_bytes()
    resp = HttpResponse(data, content_type="application/x-yaml; charset=utf-8")
    name = quote(f"{_names()[program]}-现行规则-{doc.version}.yaml")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    return resp
