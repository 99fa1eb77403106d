"""The hand-over record of a person who moved out of the county (迁出移交), as JSON or XLSX
for the receiving county to import: the person as registered, the household, and each case
that ended on the move with its amounts and its review history.

The record carries the full identity number (the receiving office registers the person by
it), so it is offered only to the roles that register people, and each download is logged.
"""

from __future__ import annotations

import io
import json
from typing import Any

from huimin.cases.models import Case
from huimin.registry.models import Handover

FORMAT = "huimin-handover/1"
DOWNLOAD_ROLES = ("village_cadre", "township_reviewer", "county_approver", "admin")


def get_handover_for_user(user: Any, pk: object) -> Handover:
    """A hand-over record of a person in the user's areas, for the roles that may take it
    (404 outside them, 403 for another role)."""
    from django.http import Http404

    from huimin.accounts.access import persons_for, require_role

    try:
        key = int(str(pk))
    except ValueError:
        raise Http404("记录不存在或不在您的管辖范围内") from None
    item = (Handover.objects.filter(pk=key, person__in=persons_for(user))
            .select_related("person__area", "person__household", "created_by").first())
    if item is None:
        raise Http404("记录不存在或不在您的管辖范围内")
    require_role(user, DOWNLOAD_ROLES)
    return item


def taken(user: Any, item: Handover, fmt: str) -> bytes:
    """The record as ``fmt`` (json or xlsx), its taking logged (``handover.download``: it
    carries the full identity number)."""
    from huimin.audit.events import record

    data = as_json(item) if fmt == "json" else as_xlsx(item)
    record(user, "handover.download", item, person_id=item.person_id,
           area_code=item.from_code, number=item.number, format=fmt)
    return data


def payload(handover: Handover) -> dict[str, Any]:
    person = handover.person
    hh = person.household
    cases = (Case.objects.filter(pk__in=handover.case_ids).select_related("program")
             .prefetch_related("decisions").order_by("id"))
    return {
        "format": FORMAT,
        "number": handover.number,
        "moved_on": handover.moved_on.isoformat(),
        "from_code": handover.from_code,
        "to_code": handover.to_code,
        "to_name": handover.to_name,
        "note": handover.note,
        "created_at": handover.created_at.isoformat(),
        "created_by": str(handover.created_by),
        "person": {
            "name": person.name, "id_number": person.id_number, "sex": person.sex,
            "birth_date": person.birth_date.isoformat(), "hukou_type": person.hukou_type,
            "household_number": hh.number if hh else "",
            "parents": [{"relation": link.relation, "name": link.parent.name}
                        for link in person.parent_links.select_related("parent")],
        },
        "cases": [{
            "number": c.number, "program": c.program.code, "program_name": c.program.name,
            "claim_year": c.claim_year, "eligible": c.eligible, "months": c.months,
            "amount_fen": c.amount_fen, "facts": c.facts, "stopped_on":
                c.stopped_on.isoformat() if c.stopped_on else None,
            "stop_reason": c.stop_reason,
            "history": [{"level": d.level, "outcome": d.outcome, "from": d.from_state,
                         "to": d.to_state, "comment": d.comment, "at": d.at.isoformat()}
                        for d in c.decisions.all()],
        } for c in cases],
    }


def as_json(handover: Handover) -> bytes:
    return json.dumps(payload(handover), ensure_ascii=False, indent=2).encode("utf-8")


# The XLSX record: sheet 人员 holds label–value rows, sheet 移交案件 one case a row. The same
# tables write it and read it back, so a record round-trips through either format.
RECORD_ROWS = [("移交编号", "number"), ("迁出日期", "moved_on"), ("迁出地区划代码", "from_code"),
               ("迁往区划代码", "to_code"), ("迁往地", "to_name")]
PERSON_ROWS = [("姓名", "name"), ("身份证号码", "id_number"), ("性别", "sex"),
               ("出生日期", "birth_date"), ("户籍性质", "hukou_type"),
               ("原户号", "household_number")]
CASE_COLUMNS = [("案件号", "number"), ("项目代码", "program"), ("项目", "program_name"),
                ("申领年度", "claim_year"), ("符合条件", "eligible"), ("月数", "months"),
                ("金额（分）", "amount_fen"), ("停发日期", "stopped_on"), ("说明", "stop_reason")]
PERSON_SHEET, CASE_SHEET = "人员", "移交案件"
SEX_LABELS = {"M": "男", "F": "女"}
HUKOU_LABELS = {"rural": "农业", "urban": "非农业"}


def _label(field: str, value: Any) -> Any:
    if field == "sex":
        return SEX_LABELS.get(value, value)
    if field == "hukou_type":
        return HUKOU_LABELS.get(value, value)
    if field == "eligible":
        return "是" if value else "否"
    return "" if value is None else value


def as_xlsx(handover: Handover) -> bytes:
    from openpyxl import Workbook

    from huimin.lib.cells import string_cells

    data = payload(handover)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(PERSON_SHEET)
    rows = [[label, data[key]] for label, key in RECORD_ROWS]
    rows += [[label, _label(key, data["person"][key])] for label, key in PERSON_ROWS]
    for row in [*rows, ["格式", data["format"]]]:
        ws.append(string_cells(ws, row))
    cs = wb.create_sheet(CASE_SHEET)
    cs.append(string_cells(cs, [label for label, _ in CASE_COLUMNS]))
    for c in data["cases"]:
        cs.append(string_cells(cs, [_label(key, c[key]) for _, key in CASE_COLUMNS]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------ import

IMPORT_ROLES = ("village_cadre", "township_reviewer", "admin")
MAX_BYTES = 2 * 1024 * 1024


def _parse(data: bytes) -> dict[str, Any]:
    from huimin.errors import ActionError

    if len(data) > MAX_BYTES:
        raise ActionError(f"文件：超过 {MAX_BYTES // 1024 // 1024} MB")
    if data[:4] == b"PK\x03\x04":
        doc = _parse_xlsx(data)
    else:
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ActionError("文件：既不是 Excel（.xlsx）也不是 UTF-8 编码的 JSON 移交记录"
                              "（请上传迁出县出具的移交记录文件）") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ActionError(f"format：应为 {FORMAT}")
    if not isinstance(doc.get("person"), dict) or not isinstance(doc.get("cases", []), list):
        raise ActionError("person：缺少人员信息")
    return doc


def _text(value: Any) -> str:
    from datetime import date, datetime

    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _parse_xlsx(data: bytes) -> dict[str, Any]:
    """The record ``as_xlsx`` writes, read back into the JSON record's shape; a cell that
    cannot be read is named by its sheet, row and label."""
    from huimin.errors import ActionError
    from huimin.lib.cells import excel_mangled
    from huimin.lib.sheets import Limits, read_sheet

    limits = Limits(max_rows=1000, max_cols=len(CASE_COLUMNS) + 5, max_bytes=MAX_BYTES)
    person_rows = read_sheet(data, "xlsx", limits, sheet=PERSON_SHEET)
    values: dict[str, tuple[int, Any]] = {}
    for n, row in enumerate(person_rows, start=1):
        if row and _text(row[0]):
            values[_text(row[0])] = (n, row[1] if len(row) > 1 else None)
    missing = [label for label, _ in [*RECORD_ROWS, *PERSON_ROWS, ("格式", "")]
               if label not in values]
    if missing:
        raise ActionError(f"{PERSON_SHEET}：缺少「{'」「'.join(missing)}」行"
                          "（请上传迁出县导出的移交记录 Excel）")
    n, id_cell = values["身份证号码"]
    if why := excel_mangled(id_cell):
        raise ActionError(f"{PERSON_SHEET} 第 {n} 行「身份证号码」：{why}")
    doc: dict[str, Any] = {key: _text(values[label][1]) for label, key in RECORD_ROWS}
    doc["format"] = _text(values["格式"][1])
    person = {key: _text(values[label][1]) for label, key in PERSON_ROWS}
    person["sex"] = {v: k for k, v in SEX_LABELS.items()}.get(person["sex"], person["sex"])
    hukou = {v: k for k, v in HUKOU_LABELS.items()}
    person["hukou_type"] = hukou.get(person["hukou_type"], person["hukou_type"])
    doc["person"] = person
    case_rows = read_sheet(data, "xlsx", limits, sheet=CASE_SHEET)
    header = [label for label, _ in CASE_COLUMNS]
    if not case_rows or [_text(c) for c in case_rows[0][:len(header)]] != header:
        raise ActionError(f"{CASE_SHEET}：第 1 行应为表头「{'、'.join(header)}」")
    doc["cases"] = [_case(n, row) for n, row in enumerate(case_rows[1:], start=2)
                    if any(_text(c) for c in row)]
    return doc


def _case(n: int, row: list[Any]) -> dict[str, Any]:
    from huimin.errors import ActionError

    cells = {key: _text(row[i]) if i < len(row) else ""
             for i, (_, key) in enumerate(CASE_COLUMNS)}
    case: dict[str, Any] = dict(cells)
    for label, key in CASE_COLUMNS:
        if key in ("claim_year", "months", "amount_fen"):
            if not cells[key].isascii() or not cells[key].isdigit():
                raise ActionError(f"{CASE_SHEET} 第 {n} 行「{label}」：应为整数，"
                                  f"读到「{cells[key]}」")
            case[key] = int(cells[key])
    if cells["eligible"] not in ("是", "否"):
        raise ActionError(f"{CASE_SHEET} 第 {n} 行「符合条件」：应为 是 或 否")
    case["eligible"] = cells["eligible"] == "是"
    case["stopped_on"] = cells["stopped_on"] or None
    return case


def import_handover(actor: Any, data: bytes) -> tuple[Any, dict[str, Any]]:
    """Register, in the village it moved to, a person handed over by another county (the
    record ``payload`` writes, as JSON or as the XLSX ``as_xlsx`` writes). A person this
    deployment already holds as moved out to that village is received (their area
    changes); anyone else registered is refused. The cases listed are returned for the
    receiving office to take in again under its rules."""
    from datetime import date

    from django.db import transaction
    from django.utils import timezone

    from huimin.accounts.access import in_user_area
    from huimin.audit.events import record
    from huimin.errors import ActionError, Conflict, Forbidden
    from huimin.registry import actions
    from huimin.registry.crypto import id_hash
    from huimin.registry.models import Area, Household, Person
    from huimin.registry.validation import FieldError, check_id, check_name, parse_date

    if getattr(actor, "role", None) not in IMPORT_ROLES:
        raise Forbidden("您的角色不能导入迁入人员")
    doc = _parse(data)
    to_code = str(doc.get("to_code", ""))
    area = Area.objects.filter(code=to_code, level="village").first()
    if area is None:
        raise ActionError(f"to_code：{to_code} 不是本系统登记的村（居）委会")
    if not in_user_area(actor, area.code):
        raise Forbidden(f"to_code：迁入地 {area.name} 不在您的管辖范围内")
    p = doc["person"]
    today = timezone.localdate()
    try:
        name = check_name(p.get("name", ""), "姓名")
        birth = parse_date(p.get("birth_date", ""), "出生日期")
        moved_on = parse_date(doc.get("moved_on", ""), "moved_on")
        sex = str(p.get("sex", ""))
        if sex not in ("M", "F"):
            raise FieldError("性别", "应为 M 或 F")
        number = check_id(p.get("id_number", ""), birth_date=birth, sex=sex, today=today,
                          column="身份证号码").value
    except FieldError as exc:
        raise ActionError(f"{exc.column}：{exc.reason}") from None
    hukou = p.get("hukou_type") if p.get("hukou_type") in ("rural", "urban") else "rural"
    cases = [{k: c.get(k) for k in ("number", "program", "program_name", "claim_year",
                                    "amount_fen", "stopped_on")}
             for c in doc.get("cases", []) if isinstance(c, dict)]
    with transaction.atomic():
        from huimin.registry.importer import next_household_number

        list(Area.objects.select_for_update().filter(pk=area.pk))
        existing = Person.objects.select_for_update().filter(id_hash=id_hash(number)).first()
        if existing is not None and not (existing.moved_out_on is not None
                                         and existing.moved_to_code == to_code):
            raise Conflict("身份证号码：该号码已在本系统登记，不能作为迁入人员导入")
        hh = Household.objects.create(number=next_household_number(area), area=area,
                                      hukou_type=hukou)
        if existing is None:
            person = actions._create_person(actor, name=name, number=number, sex=sex,
                                            birth_date=birth, area=area, hukou_type=hukou,
                                            household=hh, death_date=None)
            old_area = str(doc.get("from_code", ""))
        else:
            person, old_area = existing, existing.area.code
            person.area, person.household = area, hh
            person.moved_out_on, person.moved_to_code = None, ""
            person.save(update_fields=["area", "household", "moved_out_on", "moved_to_code"])
        hh.head = person
        hh.save(update_fields=["head"])
        record(actor, "handover.import", person, person_id=person.pk, area_code=area.code,
               number=str(doc.get("number", ""))[:40], from_code=old_area, cases=cases,
               moved_on=moved_on.isoformat(),
               changes=[{"field": "户籍地", "old": str(doc.get("from_code", "")),
                         "new": area.full_name()}])
        actions._changed(actor, person, "move", effective_on=moved_on
                         if isinstance(moved_on, date) else None, via="import",
                         old={"area": old_area}, new={"area": area.code})
    return person, {"household": hh.number, "cases": cases}
