"""Registry import from Excel (.xlsx) or CSV (UTF-8 or GBK).

The whole file is checked first; if any row is wrong, nothing is imported and every error is
reported with its row, column and reason.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from huimin.accounts.access import in_user_area
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.errors import FileRejected, Forbidden, RowError
from huimin.lib.divisions import InvalidDivisionCode, normalize
from huimin.lib.sheets import Limits, read_sheet
from huimin.registry.actions import WRITE_ROLES, seal_account, seal_id
from huimin.registry.crypto import id_hash
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from huimin.registry.validation import (
    FieldError,
    check_id,
    parse_date,
    parse_hukou,
    parse_sex,
)

COLUMNS = [
    ("户号", True, "如 445224100201-0001；同户成员填相同户号"),
    ("姓名", True, ""),
    ("身份证号码", True, "18 位，末位可为 X"),
    ("性别", True, "男 / 女"),
    ("出生日期", True, "YYYY-MM-DD"),
    ("户籍地区划代码", True, "12 位村（居）委会统计用区划代码"),
    ("户籍性质", True, "农业 / 非农业"),
    ("死亡日期", False, "YYYY-MM-DD，在世者留空"),
    ("父亲身份证号码", False, "父亲须在本文件或系统中已登记"),
    ("母亲身份证号码", False, "母亲须在本文件或系统中已登记"),
    ("开户银行", False, "与银行账号同时填写"),
    ("银行账号", False, "8–30 位数字"),
]
HEADER = [c[0] for c in COLUMNS]
MAX_BYTES = 20 * 1024 * 1024
# rows (header included) and columns an import or bulk-intake file may have
LIMITS = Limits(max_rows=100_000, max_cols=50, max_bytes=MAX_BYTES)


def template_workbook(title: str, columns: list[tuple[str, bool, str]], width: int = 18) -> bytes:
    """An import template: the header (required columns shaded) and a sheet of notes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append([c[0] for c in columns])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for i, (_name, required, _hint) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        if required:
            cell.fill = fill
        ws.column_dimensions[cell.column_letter].width = width
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明"])
    for name, required, hint in columns:
        notes.append([name, "是" if required else "否", hint])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template_xlsx() -> bytes:
    return template_workbook("人员登记", COLUMNS)


def template_csv() -> bytes:
    return ("\ufeff" + ",".join(HEADER) + "\r\n").encode("utf-8")


def rows_to_csv(rows: list[list[str]]) -> bytes:
    """Rows in the template's layout as a UTF-8 CSV (the single-person form goes through here)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def read_rows(data: bytes, filename: str, columns: list[str] = HEADER) -> list[list[Any]]:
    """The rows of the first sheet or of the CSV, header included (bounded: ``LIMITS``);
    ``columns`` names the columns in errors."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return read_sheet(data, "xlsx", LIMITS, columns=columns)
    if name.endswith(".csv"):
        return read_sheet(data, "csv", LIMITS, columns=columns)
    if name.endswith(".xls"):
        raise FileRejected("不接受旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后上传", [])
    raise FileRejected("只接受 .xlsx 或 .csv 文件", [])


def _cell(row: list[Any], i: int) -> Any:
    if i >= len(row):
        return ""
    value = row[i]
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, date) else str(value).strip()


@dataclass
class _Row:
    n: int
    household: str
    name: str
    id_number: str
    sex: str
    birth_date: date
    area: Area
    hukou_type: str
    death_date: date | None
    father: str
    mother: str
    bank_name: str
    account: str


def _check_row(n: int, row: list[Any], areas: dict[str, Area], actor: Any,
               today: date) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []
    values = {name: _cell(row, i) for i, name in enumerate(HEADER)}
    for name, required, _ in COLUMNS:
        if required and values[name] == "":
            errors.append(RowError(n, name, "不能为空"))
    if errors:
        return None, errors

    def attempt(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except FieldError as exc:
            errors.append(RowError(n, exc.column, exc.reason))
            return None

    sex = attempt(parse_sex, values["性别"])
    birth = attempt(parse_date, values["出生日期"], "出生日期")
    hukou = attempt(parse_hukou, values["户籍性质"])
    death = attempt(parse_date, values["死亡日期"], "死亡日期") if values["死亡日期"] else None
    number = attempt(lambda: check_id(values["身份证号码"], birth_date=birth, sex=sex, today=today))
    if birth and birth > today:
        errors.append(RowError(n, "出生日期", "晚于今天"))
    if birth and death and death < birth:
        errors.append(RowError(n, "死亡日期", "早于出生日期"))
    area = None
    try:
        code = normalize(str(values["户籍地区划代码"]))
        area = areas.get(code)
        if area is None or area.level != "village":
            errors.append(RowError(n, "户籍地区划代码", f"{code} 不是系统中的村（居）委会"))
            area = None
        elif not in_user_area(actor, code):
            errors.append(RowError(n, "户籍地区划代码", f"{area.name} 不在您的管辖范围内"))
    except InvalidDivisionCode as exc:
        errors.append(RowError(n, "户籍地区划代码", str(exc)))
    bank, account = str(values["开户银行"]), str(values["银行账号"]).replace(" ", "")
    if bool(bank) != bool(account):
        column = "银行账号" if bank else "开户银行"
        errors.append(RowError(n, column, "开户银行与银行账号须同时填写"))
    elif account and (not account.isdigit() or not 8 <= len(account) <= 30):
        errors.append(RowError(n, "银行账号", "应为 8–30 位数字"))
    if errors or number is None or area is None:
        return None, errors
    return _Row(n, str(values["户号"]), str(values["姓名"]), number.value, sex, birth, area, hukou,
                death, str(values["父亲身份证号码"]).upper(), str(values["母亲身份证号码"]).upper(),
                bank, account), []


def import_registry(actor: Any, data: bytes, filename: str) -> dict[str, int]:
    """Import persons (with households, parent links and accounts); all or nothing."""
    if getattr(actor, "role", None) not in WRITE_ROLES:
        raise Forbidden("您的角色不能导入登记数据")
    rows = read_rows(data, filename)
    if not rows:
        raise FileRejected("文件为空", [])
    header = [str(c).strip() for c in rows[0]]
    if header[: len(HEADER)] != HEADER:
        missing = [h for h in HEADER if h not in header]
        detail = f"，缺少列：{'、'.join(missing)}" if missing else "，列的顺序应与模板一致"
        raise FileRejected(
            "表头与模板不符" + detail,
            [RowError(1, "表头", "请使用下载的模板")],
        )
    today = timezone.localdate()
    areas = {a.code: a for a in Area.objects.filter(level="village")}
    checked: list[_Row] = []
    errors: list[RowError] = []
    seen_ids: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(str(c).strip() for c in row if c is not None):
            continue
        item, errs = _check_row(n, row, areas, actor, today)
        errors.extend(errs)
        if item is None:
            continue
        if item.id_number in seen_ids:
            errors.append(RowError(n, "身份证号码", f"与第 {seen_ids[item.id_number]} 行重复"))
            continue
        seen_ids[item.id_number] = n
        checked.append(item)
    if not checked and not errors:
        raise FileRejected("文件中没有数据行", [])
    hashes = {id_hash(r.id_number): r for r in checked}
    for h in Person.objects.filter(id_hash__in=list(hashes)).values_list("id_hash", flat=True):
        r = hashes[h]
        errors.append(RowError(r.n, "身份证号码", "该号码已登记"))
    parent_ids = {p for r in checked for p in (r.father, r.mother) if p}
    known_parents = {
        h: pid for h, pid in Person.objects.filter(
            id_hash__in=[id_hash(p) for p in parent_ids]).values_list("id_hash", "id")
    }
    for r in checked:
        for column, pid in (("父亲身份证号码", r.father), ("母亲身份证号码", r.mother)):
            if pid and pid not in seen_ids and id_hash(pid) not in known_parents:
                errors.append(RowError(r.n, column, f"{pid} 未在本文件或系统中登记"))
            if pid and pid == r.id_number:
                errors.append(RowError(r.n, column, "不能是本人"))
    if errors:
        errors.sort(key=lambda e: e.row)
        raise FileRejected(f"文件有 {len(errors)} 处错误，整个文件未导入，请改正后重新上传", errors)
    return _write(actor, checked, known_parents, filename)


@transaction.atomic
def _write(actor: Any, rows: list[_Row], known_parents: dict[str, int],
           filename: str) -> dict[str, int]:
    households = {h.number: h for h in Household.objects.filter(
        number__in={r.household for r in rows})}
    new_households = 0
    for r in rows:
        if r.household not in households:
            households[r.household] = Household.objects.create(
                number=r.household, area=r.area, hukou_type=r.hukou_type)
            new_households += 1
    persons = Person.objects.bulk_create([
        Person(household=households[r.household], name=r.name, sex=r.sex,
               birth_date=r.birth_date, area=r.area, hukou_type=r.hukou_type,
               death_date=r.death_date, **seal_id(r.id_number))
        for r in rows
    ])
    by_id = {r.id_number: p for r, p in zip(rows, persons, strict=True)}
    links: list[ParentChild] = []
    accounts: list[BankAccount] = []
    for r in rows:
        child = by_id[r.id_number]
        for relation, pid in (("father", r.father), ("mother", r.mother)):
            if not pid:
                continue
            parent_pk = by_id[pid].pk if pid in by_id else known_parents[id_hash(pid)]
            links.append(ParentChild(parent_id=parent_pk, child=child, relation=relation))
        if r.account:
            accounts.append(BankAccount(person=child, bank_name=r.bank_name,
                                        **seal_account(r.account)))
    ParentChild.objects.bulk_create(links)
    BankAccount.objects.bulk_create(accounts)
    AuditEvent.objects.bulk_create([
        event(actor, "person.create", p, person_id=p.pk, area_code=p.area.code, source=filename)
        for p in persons
    ])
    summary = {"persons": len(persons), "households": new_households, "links": len(links),
               "accounts": len(accounts)}
    record(actor, "registry.import", persons[0], area_code="", file=filename, **summary)
    return summary
