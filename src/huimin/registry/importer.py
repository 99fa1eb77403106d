"""Registry import from Excel (.xlsx) or CSV (UTF-8 or GBK).

The whole file is checked first; if any row is wrong, nothing is imported and every error is
reported with its row, column and reason.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from huimin.accounts.access import households_for, in_user_area, persons_for
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.errors import Conflict, FileRejected, Forbidden, RowError
from huimin.lib.cells import ascii_digits, control_problem, excel_mangled
from huimin.lib.divisions import InvalidDivisionCode, normalize
from huimin.lib.sheets import Limits, read_sheet, rejected, too_many
from huimin.registry.actions import (
    HOUSEHOLD_ELSEWHERE,
    ID_ELSEWHERE,
    ID_HERE,
    NOT_HERE,
    WRITE_ROLES,
    audit_elsewhere,
    registered,
    seal_account,
    seal_id,
)
from huimin.registry.crypto import id_hash
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from huimin.registry.validation import (
    FieldError,
    check_account,
    check_bank_name,
    check_death_date,
    check_household_number,
    check_id,
    check_name,
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
    ("父亲身份证号码", False, "父亲须在本文件或本辖区已登记"),
    ("母亲身份证号码", False, "母亲须在本文件或本辖区已登记"),
    ("开户银行", False, "与银行账号同时填写"),
    ("银行账号", False, "8–30 位数字（半角 0–9）"),
]
HEADER = [c[0] for c in COLUMNS]
MAX_BYTES = 20 * 1024 * 1024
# rows (header included) and columns an import or bulk-intake file may have
LIMITS = Limits(max_rows=100_000, max_cols=50, max_bytes=MAX_BYTES)


#: rows of a template that get the dropdowns (the text format is the whole column's)
TEMPLATE_ROWS = 2000
LISTS_SHEET = "代码表"
_TEXT_HINTS = ("身份证", "账号", "区划代码", "户号", "id_number", "_code", "household_number",
               "certificate_no", "event_id")


def is_text_column(name: str) -> bool:
    """A column of long numbers or codes, which Excel must keep as text (an ID number typed
    into a number cell loses its last digits)."""
    return any(h in name for h in _TEXT_HINTS)


def template_workbook(title: str, columns: list[tuple[str, bool, str]], width: int = 18, *,
                      choices: Mapping[str, Sequence[str]] | None = None) -> bytes:
    """An import template: the header (required columns shaded), ID, account and code
    columns formatted as text (number format ``@``), a dropdown for each column of
    ``choices`` (the lists on a hidden sheet), and a sheet of notes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append([c[0] for c in columns])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    n_list = 0
    for i, (name, required, _hint) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        if required:
            cell.fill = fill
        letter = cell.column_letter
        ws.column_dimensions[letter].width = width
        if is_text_column(name):
            ws.column_dimensions[letter].number_format = "@"
        values = list((choices or {}).get(name, ()))
        if values:
            n_list += 1
            lcol = lists.cell(row=1, column=n_list)
            lcol.value = name
            for r, v in enumerate(values, start=2):
                lists.cell(row=r, column=n_list, value=v).data_type = "s"
            ref = (f"'{LISTS_SHEET}'!${lcol.column_letter}$2:"
                   f"${lcol.column_letter}${len(values) + 1}")
            dv = DataValidation(type="list", formula1=f"={ref}", allow_blank=True,
                                showErrorMessage=True, errorTitle=name,
                                error=f"请从下拉列表中选择{name}")
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("填写说明", 1)
    notes.append(["列", "必填", "说明"])
    for name, required, hint in columns:
        text = hint + ("（本列为文本格式，请勿改为数字）" if is_text_column(name) else "")
        notes.append([name, "是" if required else "否", text])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


REGISTRY_CHOICES: dict[str, list[str]] = {"性别": ["男", "女"], "户籍性质": ["农业", "非农业"]}


def template_xlsx(villages: Sequence[Area] = ()) -> bytes:
    """The registry template; ``villages`` (the downloader's) fill the 户籍地区划代码 dropdown,
    each as its code and name (the code is what the import reads)."""
    choices = {**REGISTRY_CHOICES,
               "户籍地区划代码": [f"{a.code} {a.name}" for a in villages]}
    return template_workbook("人员登记", COLUMNS, choices=choices)


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


#: the columns whose numbers Excel mangles when they are not formatted as text
EXCEL_TEXT = ("身份证号码", "父亲身份证号码", "母亲身份证号码", "银行账号")
_PICKED = re.compile(r"(\d{12})\s+\S.*")


def _picked_code(text: str) -> str:
    """A division code as the template's dropdown gives it (``445224100201 四香村委会``)."""
    m = _PICKED.fullmatch(text)
    return m.group(1) if m else text


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
               today: date, *, allow_new_household: bool = False,
               ) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []
    for i, name in enumerate(HEADER):
        mangled = excel_mangled(row[i]) if name in EXCEL_TEXT and i < len(row) else None
        if mangled:
            errors.append(RowError(n, name, mangled))
    values = {name: _cell(row, i) for i, name in enumerate(HEADER)}
    for name, required, _ in COLUMNS:
        if required and values[name] == "" and not (name == "户号" and allow_new_household):
            errors.append(RowError(n, name, "不能为空"))
    if errors:
        return None, errors

    def attempt(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except FieldError as exc:
            errors.append(RowError(n, exc.column, exc.reason))
            return None

    household = attempt(check_household_number, values["户号"]) if values["户号"] else ""
    name = attempt(check_name, values["姓名"])
    sex = attempt(parse_sex, values["性别"])
    birth = attempt(parse_date, values["出生日期"], "出生日期")
    hukou = attempt(parse_hukou, values["户籍性质"])
    death = attempt(parse_date, values["死亡日期"], "死亡日期") if values["死亡日期"] else None
    number = attempt(lambda: check_id(values["身份证号码"], birth_date=birth, sex=sex, today=today))
    if birth and birth > today:
        errors.append(RowError(n, "出生日期", "晚于今天"))
    attempt(lambda: check_death_date(death, birth=birth, today=today))
    area = None
    try:
        code = normalize(_picked_code(str(values["户籍地区划代码"])))
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
    elif account:
        bank = attempt(check_bank_name, bank)
        account = attempt(check_account, account)
    parents = []
    for column in ("父亲身份证号码", "母亲身份证号码"):
        text = str(values[column]).upper()
        problem = control_problem(text)
        if problem:
            errors.append(RowError(n, column, problem))
        parents.append(text)
    if errors or number is None or area is None:
        return None, errors
    return _Row(n, household, name, number.value, sex, birth, area, hukou, death, parents[0],
                parents[1], bank, account), []


def import_registry(actor: Any, data: bytes, filename: str, *,
                    allow_new_household: bool = False,
                    known_households_only: bool = False) -> dict[str, int]:
    """Import persons (with households, parent links and accounts); all or nothing.

    Every look-up is scoped to the actor's areas: a household number joins a household of
    the actor's areas in the row's village, or starts a new one whose number begins with
    the village's code; a parent must be in the file or registered in the actor's areas;
    an ID number registered outside them is refused without saying where or who, and the
    attempt is audited. ``allow_new_household`` (the single-person form): a row with no
    household number starts a new household, numbered inside the write's transaction.
    ``known_households_only`` (the form without 新户 chosen): a household number must be of
    a household already registered.
    """
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
        item, errs = _check_row(n, row, areas, actor, today,
                                allow_new_household=allow_new_household)
        errors.extend(errs)
        if too_many(errors):
            break
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
    here, elsewhere = registered(actor, list(hashes))
    for h in here:
        errors.append(RowError(hashes[h].n, "身份证号码", ID_HERE))
    probes = sorted(elsewhere, key=lambda h: hashes[h].n)
    errors.extend(RowError(hashes[h].n, "身份证号码", ID_ELSEWHERE) for h in probes)
    audit_elsewhere(actor, [(h, hashes[h].area.code) for h in probes], "import")
    parent_ids = {p for r in checked for p in (r.father, r.mother) if p}
    known_parents = {
        h: pid for h, pid in persons_for(actor).filter(
            id_hash__in=[id_hash(p) for p in parent_ids]).values_list("id_hash", "id")
    }
    for r in checked:
        for column, pid in (("父亲身份证号码", r.father), ("母亲身份证号码", r.mother)):
            if pid and pid not in seen_ids and id_hash(pid) not in known_parents:
                errors.append(RowError(r.n, column, f"{pid} {NOT_HERE}"))
            if pid and pid == r.id_number:
                errors.append(RowError(r.n, column, "不能是本人"))
        if r.father and r.father == r.mother:
            errors.append(RowError(r.n, "母亲身份证号码", "不能与父亲身份证号码相同"))
    errors.extend(_check_households(actor, checked, known_households_only))
    if errors:
        errors.sort(key=lambda e: e.row)
        count = f"至少 {len(errors)}" if too_many(errors) else str(len(errors))
        raise rejected(f"文件有 {count} 处错误，整个文件未导入，请改正后重新上传", errors)
    return _write(actor, checked, known_parents, filename)


def _check_households(actor: Any, rows: list[_Row], known_only: bool = False
                      ) -> list[RowError]:
    """A household number of the actor's areas must be of the row's village; a new one must
    begin with the village's code. A number outside the actor's areas is never joined and is
    answered like one that does not exist (it does not begin with the row's village code);
    only a new number of the row's own village taken elsewhere gets ``HOUSEHOLD_ELSEWHERE``."""
    errors: list[RowError] = []
    numbers = {r.household for r in rows if r.household}
    mine = {h.number: h for h in households_for(actor).filter(number__in=numbers)}
    new: dict[str, list[_Row]] = {}
    for r in rows:
        if not r.household:
            continue
        h = mine.get(r.household)
        if h is not None:
            if h.area_id != r.area.pk:
                errors.append(RowError(r.n, "户号", f"{r.household} 是{h.area.name}的户，"
                                                     f"与户籍地{r.area.name}不符"))
        elif known_only:
            errors.append(RowError(r.n, "户号", f"未找到本辖区的此户（{r.household}）；"
                                                 "如为新户，请选择「新户」，户号由系统编号"))
        elif not r.household.startswith(f"{r.area.code}-"):
            errors.append(RowError(r.n, "户号", "未找到本辖区的此户；新户的户号须以户籍地区划"
                                                 f"代码开头，如 {r.area.code}-0001"))
        else:
            new.setdefault(r.household, []).append(r)
    taken = Household.objects.filter(number__in=list(new)).values_list("number", flat=True)
    for number in taken:
        errors.extend(RowError(r.n, "户号", HOUSEHOLD_ELSEWHERE) for r in new[number])
    return errors


def next_household_number(area: Area) -> str:
    """The next free ``<village code>-NNNN`` (the highest sequence + 1); call inside the
    write's transaction, which first locks the village's row."""
    prefix = f"{area.code}-"
    numbers = Household.objects.filter(number__startswith=prefix).values_list("number", flat=True)
    top = max((int(s) for s in (x[len(prefix):] for x in numbers) if ascii_digits(s)),
              default=0)
    return f"{prefix}{top + 1:04d}"


@transaction.atomic
def _write(actor: Any, rows: list[_Row], known_parents: dict[str, int],
           filename: str) -> dict[str, int]:
    households = {h.number: h for h in households_for(actor).filter(
        number__in={r.household for r in rows if r.household})}
    new_households = 0
    for r in rows:
        if not r.household:  # the single-person form's new household: numbered here
            list(Area.objects.select_for_update().filter(pk=r.area.pk))
            r.household = next_household_number(r.area)
        if r.household not in households:
            try:
                with transaction.atomic():
                    households[r.household] = Household.objects.create(
                        number=r.household, area=r.area, hukou_type=r.hukou_type)
            except IntegrityError:
                raise Conflict(f"第 {r.n} 行：户号 {r.household} 刚被他人使用，请重新提交"
                               ) from None
            new_households += 1
    try:
        with transaction.atomic():
            persons = Person.objects.bulk_create([
                Person(household=households[r.household], name=r.name, sex=r.sex,
                       birth_date=r.birth_date, area=r.area, hukou_type=r.hukou_type,
                       death_date=r.death_date, **seal_id(r.id_number, r.area.code))
                for r in rows
            ])
    except IntegrityError:
        raise Conflict("文件中的身份证号码刚被他人登记，整个文件未导入，请重新上传") from None
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
    from huimin.identity import hooks

    hooks.schedule([p.pk for p in persons])  # new records against the register, on commit
    return summary
