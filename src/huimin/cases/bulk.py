"""Bulk intake from an Excel (or CSV) template: all rows are checked first; if any is wrong,
nothing is recorded and every error is listed with its row, column and reason."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from huimin.accounts.access import persons_for
from huimin.cases import actions
from huimin.cases.models import Case
from huimin.errors import ActionError, FileRejected, Forbidden, RowError
from huimin.lib.cells import excel_mangled
from huimin.lib.sheets import rejected, too_many
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import Program
from huimin.registry.crypto import id_hash
from huimin.registry.importer import read_rows, template_workbook
from huimin.registry.merge import merged_message

COLUMNS = [
    ("项目代码", True, "项目名称（从下拉列表选择）或项目代码 childcare-subsidy / "
                       "rural-reward / special-assistance"),
    ("补贴对象身份证号码", True, "育儿补贴填儿童；奖励扶助、特别扶助填夫妻中的一方（每人一行）"),
    ("申请人身份证号码", False, "育儿补贴必填（父母或监护人）；其他项目留空即本人申请"),
    ("申领年度", True, "如 2026"),
    ("原政策内身份已确认", False, "是 / 否（奖励扶助、特别扶助由村级确认）"),
    ("子女残疾等级", False, "特别扶助伤残家庭填 1–4，其他留空"),
]
HEADER = [c[0] for c in COLUMNS]
YES = {"是", "Y", "YES", "TRUE", "1"}
NO = {"否", "N", "NO", "FALSE", "0", ""}


def template_xlsx() -> bytes:
    """The bulk-intake template, with dropdowns: the programs by their Chinese names (codes
    are accepted too), yes/no, and the disability grades."""
    names = list(Program.objects.filter(active=True).order_by("code").values_list("name",
                                                                                flat=True))
    return template_workbook("批量受理", COLUMNS, width=22, choices={
        "项目代码": names, "原政策内身份已确认": ["是", "否"],
        "子女残疾等级": ["1", "2", "3", "4"]})


#: the columns whose numbers Excel mangles when they are not formatted as text
EXCEL_TEXT = ("补贴对象身份证号码", "申请人身份证号码")


def _text(row: list[Any], i: int) -> str:
    if i >= len(row) or row[i] is None:
        return ""
    value = row[i]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def import_applications(actor: Any, data: bytes, filename: str) -> list[Case]:
    """Record one application per row; all or nothing."""
    if getattr(actor, "role", None) not in actions.INTAKE_ROLES:
        raise Forbidden("只有村级专干或乡镇审核员可以受理申请")
    rows = read_rows(data, filename, HEADER)
    if not rows:
        raise FileRejected("文件为空", [])
    header = [str(c).strip() for c in rows[0]]
    if header[: len(HEADER)] != HEADER:
        raise FileRejected("表头与模板不符，请使用下载的模板",
                           [RowError(1, "表头", "请使用下载的模板")])
    active = list(Program.objects.filter(active=True))
    programs = {**{p.name: p for p in active}, **{p.code: p for p in active}}
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(_text(r, i) for i in
                                                                   range(len(HEADER)))]
    if not body:
        raise FileRejected("文件中没有申请", [])
    numbers = {_text(r, i).upper() for _n, r in body for i in (1, 2) if _text(r, i)}
    people = {p.id_hash: p for p in persons_for(actor).filter(
        id_hash__in=[id_hash(x) for x in numbers])}
    errors: list[RowError] = []
    parsed: list[dict[str, Any]] = []
    seen: dict[tuple[str, int, int], int] = {}
    today = actions.local_today()
    for n, row in body:
        if too_many(errors):
            break  # enough to show; the rest of the file is not looked at
        v = {name: _text(row, i) for i, name in enumerate(HEADER)}
        mangled = [(name, excel_mangled(row[i])) for i, name in enumerate(HEADER)
                   if name in EXCEL_TEXT and i < len(row)]
        if any(reason for _name, reason in mangled):
            errors.extend(RowError(n, name, reason) for name, reason in mangled if reason)
            continue
        program = programs.get(v["项目代码"])
        if program is None:
            errors.append(RowError(n, "项目代码", f"未知项目 {v['项目代码'] or '（空）'}"
                                                  "（从下拉列表选择项目名称，或填项目代码）"))
        subject = people.get(id_hash(v["补贴对象身份证号码"].upper())) \
            if v["补贴对象身份证号码"] else None
        if subject is None:
            errors.append(RowError(n, "补贴对象身份证号码", "在您管辖范围内未找到此人，请先登记"))
        elif subject.merged_into_id is not None:
            errors.append(RowError(n, "补贴对象身份证号码", merged_message(subject)))
        applicant = people.get(id_hash(v["申请人身份证号码"].upper())) \
            if v["申请人身份证号码"] else None
        if v["申请人身份证号码"] and applicant is None:
            errors.append(RowError(n, "申请人身份证号码", "在您管辖范围内未找到申请人"))
        elif applicant is not None and applicant.merged_into_id is not None:
            errors.append(RowError(n, "申请人身份证号码", merged_message(applicant)))
        if program is not None and program.code == CHILDCARE and subject is not None and \
                subject.merged_into_id is None and (
                applicant is None or not subject.parent_links.filter(parent=applicant).exists()):
            errors.append(RowError(n, "申请人身份证号码", "须为该儿童的父母或监护人"))
        raw_year = v["申领年度"]
        year: int | None = None
        try:
            if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4:
                year = actions.check_claim_year(int(raw_year), today)
            else:
                errors.append(RowError(n, "申领年度", "应为四位年份（半角数字）"))
        except ActionError as exc:
            errors.append(RowError(n, "申领年度", exc.message.removeprefix("申领年度：")))
        status = v["原政策内身份已确认"].upper()
        if status not in YES | NO:
            errors.append(RowError(n, "原政策内身份已确认", "填 是 或 否"))
        grade = v["子女残疾等级"]
        if grade and grade not in {"1", "2", "3", "4"}:
            errors.append(RowError(n, "子女残疾等级", "应为 1–4"))
            grade = ""  # the row is refused; nothing reads the grade
        if program is None or subject is None or year is None:
            continue
        key = (program.code, subject.pk, year)
        if key in seen:
            errors.append(RowError(n, "补贴对象身份证号码", f"与第 {seen[key]} 行重复"))
            continue
        seen[key] = n
        existing = Case.objects.filter(program=program, subject=subject, claim_year=year).first()
        if existing is not None:
            errors.append(RowError(n, "补贴对象身份证号码",
                                   f"已有申请（案件 {existing.number}），不能重复申请"))
            continue
        facts: dict[str, Any] = {}
        if status:
            facts["policy_status_confirmed"] = status in YES
        if grade:
            facts["child_disability_grade"] = int(grade)
        parsed.append({"n": n, "program": program, "subject": subject, "applicant": applicant,
                       "year": year, "facts": facts})
    if errors:
        raise rejected(f"文件有 {len(errors)} 处错误，未受理任何申请", errors)
    made: list[Case] = []
    with transaction.atomic():
        for p in parsed:
            payee = p["applicant"] or p["subject"]
            try:
                made.append(actions.submit_application(
                    actor, program=p["program"], subject=p["subject"], claim_year=p["year"],
                    applicant=p["applicant"], facts=p["facts"],
                    bank_account=payee.bank_accounts.filter(active=True).order_by("id").first()))
            except ActionError as exc:
                raise FileRejected("文件有错误，未受理任何申请",
                                   [RowError(p["n"], "补贴对象身份证号码", exc.message)]) from None
    return made
