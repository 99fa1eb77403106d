"""Ingest: read a feed file (or an API post) whole, keep every row raw, quarantine what does
not validate, match the rest to the register by identity number, propose effects.

A file that cannot be read, or lacks a required column, is refused whole: nothing is stored.
Otherwise every row is stored with its outcome in one transaction with the effects it leads
to; quarantined rows never change anything. The same (source, kind, event id) again with the
same content is kept as a duplicate and changes nothing; with different content it is
quarantined.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin import bulk
from huimin.accounts.access import in_user_area, persons_for, require_role
from huimin.audit.events import record
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden, RowError
from huimin.lib import idnumber
from huimin.lib.cells import control_problem, excel_mangled
from huimin.lib.masking import mask_id_number
from huimin.lib.sheets import read_sheet
from huimin.registry.crypto import box, id_hash
from huimin.registry.models import Area, Person
from huimin.registry.validation import FieldError, check_name, parse_date, parse_sex
from huimin.verification import formats
from huimin.verification.models import FeedFile, FeedRow, FeedToken, Kind, RowStatus

LOAD_ROLES = ("township_reviewer", "county_approver", "admin")
NOT_REGISTERED = "未在本辖区登记，未作推测匹配"
EVENT_ID_MAX = 64
#: the effects of a file proposed with its family and cases loaded at once (``batch``);
#: False: row by row, each reading what it needs (the same effects, far more queries)
BATCHED = True


class Quarantine(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason

    def __str__(self) -> str:
        return f"「{self.column}」：{self.reason}"


@dataclass
class Parsed:
    """A row that validated: the values the effects read."""

    number: str  # the 18-digit number matched on (the child's for a birth)
    name: str
    event_date: date | None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    file: FeedFile
    effects: int

    def lines(self) -> list[str]:
        f = self.file
        return [f"读取行数 rows read: {f.rows_read}", f"已匹配 matched: {f.matched}",
                f"未匹配 unmatched: {f.unmatched}", f"已隔离 quarantined: {f.quarantined}",
                f"重复未变更 duplicates: {f.duplicates}",
                f"拟处理事项 effects proposed: {self.effects}"]


# ---- reading ---------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value).strip()


#: a row of a file: its number, header → text, and why it is quarantined before it is checked
#: ("" but for a number Excel mangled)
Record = tuple[int, dict[str, str], str]


def read_file(data: bytes, filename: str, kind: str) -> list[Record]:
    """The rows of a feed file as (row number, header → text, reason); refused whole when it
    cannot be read or a required column is missing."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        fmt = "xlsx"
    elif name.endswith(".csv"):
        fmt = "csv"
    elif name.endswith(".xls"):
        raise FileRejected("不接受旧版 .xls 文件，请另存为 .xlsx 后上传", [])
    else:
        raise FileRejected("只接受 .xlsx 或 .csv 文件", [])
    if fmt == "xlsx" and not data.startswith(b"PK"):
        raise FileRejected("文件不是有效的 .xlsx（Excel）文件", [RowError(1, "整个文件",
                                                                    "无法读取")])
    try:
        rows = read_sheet(data, fmt, formats.LIMITS, columns=formats.header(kind))
    except FileRejected:
        raise
    except Exception as exc:  # a damaged workbook the spreadsheet library cannot open
        raise FileRejected(f"文件无法读取：{type(exc).__name__}",
                           [RowError(1, "整个文件", "无法读取")]) from None
    return to_records(rows, kind)


def to_records(rows: Sequence[Sequence[Any]], kind: str) -> list[Record]:
    if not rows:
        raise FileRejected("文件为空：第 1 行应为表头", [RowError(1, "表头", "文件为空")])
    head = [_text(h).lower() for h in rows[0]]
    missing = [c.name for c in formats.COLUMNS[kind] if c.required and c.name not in head]
    if missing:
        names = "、".join(missing)
        raise FileRejected(f"第 1 行（表头）缺少必需的列：{names}；未导入任何数据",
                           [RowError(1, m, "缺少此列") for m in missing])
    seen: set[str] = set()
    for h in head:
        if h and h in seen:
            raise FileRejected(f"第 1 行（表头）列名重复：{h}", [RowError(1, h, "列名重复")])
        seen.add(h)
    # an ID number or code the spreadsheet holds as a number (text never: a CSV's scientific
    # notation or trailing ".0" is named when the row fails its check)
    numeric = [(i, h) for i, h in enumerate(head) if h in formats.EXCEL_TEXT]
    out = []
    for n, row in enumerate(rows[1:], start=2):
        cells = [_text(v) for v in row]
        if not any(cells):
            continue
        why = ""
        for i, h in numeric:
            v = row[i] if i < len(row) else None
            if isinstance(v, (int, float)) and (mangled := excel_mangled(
                    v, quote=h not in formats.ID_COLUMNS)):
                why = str(Quarantine(h, mangled))
                break
        out.append((n, {h: (cells[i] if i < len(cells) else "")
                        for i, h in enumerate(head) if h}, why))
    return out


# ---- checking one row ------------------------------------------------------------------

def _number(value: str, column: str, today: date) -> str:
    if not value:
        raise Quarantine(column, "不能为空")
    try:
        return idnumber.parse(idnumber.upgrade15(value), today=today).value
    except idnumber.InvalidIdNumber as exc:
        raise Quarantine(column, excel_mangled(value, quote=False)
                         or f"身份证号码无效：{exc.reason}") from None


def _date(values: dict[str, str], column: str, today: date, *, required: bool = True
          ) -> date | None:
    text = values.get(column, "")
    if not text:
        if required:
            raise Quarantine(column, "不能为空")
        return None
    try:
        day = parse_date(text, column)
    except FieldError as exc:
        raise Quarantine(column, exc.reason) from None
    if day > today:
        raise Quarantine(column, f"{day.isoformat()} 晚于今天")
    return day


def _name(values: dict[str, str], column: str) -> str:
    try:
        return check_name(values.get(column, ""), column)
    except FieldError as exc:
        raise Quarantine(column, exc.reason) from None


@lru_cache(maxsize=1)
def _snapshot_villages() -> frozenset[str]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from huimin.registry.snapshot import SNAPSHOT

    table = pq.read_table(SNAPSHOT, columns=["code", "level"])
    villages = table.filter(pc.equal(table["level"], "village"))["code"]
    return frozenset(villages.to_pylist())


def known_village(code: str, own: set[str] | None = None) -> bool:
    """A 12-digit village (居委会/村委会) code of the shipped national snapshot or of the
    deployment's own areas (``own``: those codes, read once for a whole file)."""
    if code in _snapshot_villages():
        return True
    if own is not None:
        return code in own
    return Area.objects.filter(code=code, level="village").exists()


def check_row(kind: str, values: dict[str, str], today: date,
              villages: set[str] | None = None) -> Parsed:
    event_id = values.get("event_id", "")
    if not event_id:
        raise Quarantine("event_id", "不能为空")
    if len(event_id) > EVENT_ID_MAX or control_problem(event_id):
        raise Quarantine("event_id", f"应为不超过 {EVENT_ID_MAX} 个字符的编号")
    if kind == Kind.BIRTH:
        return _check_birth(values, today)
    number = _number(values.get("id_number", ""), "id_number", today)
    name = _name(values, "name")
    born = idnumber.parse(number).birth_date
    if kind == Kind.DEATH:
        died = _date(values, "death_date", today)
        assert died is not None
        if died < born:
            raise Quarantine("death_date", f"{died.isoformat()} 早于出生日期")
        return Parsed(number, name, died, {"source_org": values.get("source_org", "")[:100],
                                           "certificate_no": values.get("certificate_no",
                                                                        "")[:60]})
    if kind == Kind.MOVE:
        moved = _date(values, "moved_on", today)
        to_code = values.get("to_code", "")
        if not (len(to_code) == 12 and to_code.isdigit()):
            raise Quarantine("to_code",
                             excel_mangled(to_code) or f"「{to_code}」应为 12 位区划代码")
        if not known_village(to_code, villages):
            raise Quarantine("to_code", f"{to_code} 不是已知的村（居）委会区划代码")
        return Parsed(number, name, moved, {"to_code": to_code,
                                            "from_code": values.get("from_code", "")[:12]})
    if kind == Kind.DISABILITY:
        grade_text = values.get("grade", "")
        if grade_text not in ("1", "2", "3", "4"):
            raise Quarantine("grade", f"「{grade_text}」应为 1–4 的等级")
        issued = _date(values, "issued_on", today)
        revoked = _date(values, "revoked_on", today, required=False)
        assert issued is not None
        if issued < born:
            raise Quarantine("issued_on", "早于出生日期")
        if revoked is not None and revoked < issued:
            raise Quarantine("revoked_on", "早于发证日期")
        if not values.get("certificate_no"):
            raise Quarantine("certificate_no", "不能为空")
        return Parsed(number, name, revoked or issued,
                      {"grade": int(grade_text), "issued_on": issued.isoformat(),
                       "revoked_on": revoked.isoformat() if revoked else "",
                       "certificate_no": values["certificate_no"][:60]})
    raise ValueError(kind)


def _check_birth(values: dict[str, str], today: date) -> Parsed:
    number = _number(values.get("child_id_number", ""), "child_id_number", today)
    name = _name(values, "child_name")
    try:
        sex = parse_sex(values.get("sex", ""), "sex")
    except FieldError as exc:
        raise Quarantine("sex", exc.reason) from None
    born = _date(values, "birth_date", today)
    parsed = idnumber.parse(number)
    if parsed.birth_date != born:
        raise Quarantine("birth_date", "与新生儿身份证号码中的出生日期不一致")
    if parsed.sex != sex:
        raise Quarantine("sex", "与新生儿身份证号码中的性别不一致")
    parents = {}
    for column in ("mother_id_number", "father_id_number"):
        if values.get(column):
            parents[column] = _number(values[column], column, today)
    if not parents:
        raise Quarantine("mother_id_number", "母亲或父亲身份证号码至少填写一个")
    if not values.get("certificate_no"):
        raise Quarantine("certificate_no", "不能为空")
    return Parsed(number, name, born, {
        "sex": sex, "birth_date": born.isoformat() if born else "", **parents,
        "household_number": values.get("household_number", "")[:40],
        "certificate_no": values["certificate_no"][:60]})


# ---- storing ---------------------------------------------------------------------------

def _canonical(values: dict[str, str]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def _scope(actor: Any, area: Area) -> Any:
    if actor is not None:
        return persons_for(actor)
    return Person.objects.select_related("area").filter(area__code__startswith=area.prefix)


def _follow_merges(scope: Any, persons: dict[str, Person]) -> None:
    """A number that belongs to a duplicate record merged into another names the kept
    record: the event (a death, a move) is about the one person the register keeps. The
    kept record must lie in the same scope; otherwise the merged record stays the match."""
    into = {h: p.merged_into_id for h, p in persons.items() if p.merged_into_id is not None}
    if not into:
        return
    kept = scope.in_bulk(set(into.values()))
    for h, pk in into.items():
        if pk in kept:
            persons[h] = kept[pk]


def actor_area(actor: Any) -> Area:
    area: Area | None = actor.areas.order_by("code").first()
    if area is None:
        raise Forbidden("您没有负责的区域，不能导入比对数据")
    return area


def ingest_file(actor: Any, data: bytes, filename: str, *, kind: str, source: str = "",
                via: str = "upload") -> Summary:
    """Read and ingest a feed file loaded by a user (web or command line)."""
    require_role(actor, LOAD_ROLES)
    if kind not in formats.COLUMNS:
        raise ActionError(f"类型：应为 {'、'.join(formats.COLUMNS)} 之一")
    source = _source(kind, source)
    records = read_file(data, filename, kind)
    return _ingest(actor, None, actor_area(actor), kind, source, filename[:200],
                   hashlib.sha256(data).hexdigest(), records, via)


def ingest_events(token: FeedToken, kind: str, events: list[dict[str, Any]]) -> Summary:
    """Ingest events posted by a source system with its token (already checked)."""
    if kind not in formats.COLUMNS:
        raise ActionError(f"kind：应为 {'、'.join(formats.COLUMNS)} 之一")
    if kind not in formats.SOURCES or token.source not in formats.SOURCES[kind]:
        raise Forbidden(f"该令牌的数据来源不能报送{Kind(kind).label}数据")
    if not events or len(events) > formats.API_MAX_EVENTS:
        raise ActionError(f"events：须为 1–{formats.API_MAX_EVENTS} 条")
    most = formats.LIMITS.max_cell_chars
    for i, e in enumerate(events, start=1):
        for k, v in e.items():
            if len(str(k)) > 40 or len(str(v if v is not None else "")) > most:
                raise ActionError(f"events 第 {i} 条「{str(k)[:40]}」：超过 "
                                  f"{formats.LIMITS.max_cell_chars} 个字符")
    head = sorted({str(k).strip().lower() for e in events for k in e})
    rows = [head] + [[_text(e.get(h, e.get(h.upper(), ""))) for h in head] for e in events]
    records = to_records(rows, kind)
    digest = hashlib.sha256(_canonical({"events": json.dumps(events, default=str,
                                                             sort_keys=True)})
                            .encode()).hexdigest()
    return _ingest(None, token, token.area, kind, token.source,
                   f"接口推送 {timezone.localtime():%Y-%m-%d %H:%M:%S}", digest, records, "api")


def _source(kind: str, source: str) -> str:
    allowed = formats.SOURCES[kind]
    if not source:
        return allowed[0]
    if source not in allowed:
        from huimin.verification.models import Source

        labels = "、".join(Source(s).label for s in allowed)
        raise ActionError(f"数据来源：{Kind(kind).label}数据应来自{labels}")
    return source


def _ingest(actor: Any, token: FeedToken | None, area: Area, kind: str, source: str,
            name: str, digest: str, records: list[Record],
            via: str) -> Summary:
    from huimin.verification import effects

    today = timezone.localdate()
    villages = (set(Area.objects.filter(level="village").values_list("code", flat=True))
                if kind == Kind.MOVE else None)
    checked: list[tuple[int, dict[str, str], Parsed | None, str]] = []
    for n, values, why in records:
        if why:
            checked.append((n, values, None, why))
            continue
        try:
            checked.append((n, values, check_row(kind, values, today, villages), ""))
        except Quarantine as exc:
            checked.append((n, values, None, str(exc)))
    numbers = {p.number for _, _, p, _ in checked if p}
    for _, _, p, _ in checked:
        if p and kind == Kind.BIRTH:
            numbers |= {p.values[c] for c in ("mother_id_number", "father_id_number")
                        if c in p.values}
    scope = _scope(actor, area)
    hashes = {num: id_hash(num) for num in numbers}
    persons: dict[str, Person] = {}
    wanted = list(hashes.values())
    for start in range(0, len(wanted), 5000):
        persons.update((p.id_hash, p) for p in scope.filter(id_hash__in=wanted[start:start + 5000]))
    _follow_merges(scope, persons)
    try:
        with transaction.atomic():
            return _store(actor, token, area, kind, source, name, digest, checked, hashes,
                          persons, via, effects)
    except IntegrityError:
        raise Conflict("同一事件正被另一导入处理，请稍后重试") from None


def _store(actor: Any, token: FeedToken | None, area: Area, kind: str, source: str,
           name: str, digest: str, checked: list[tuple[int, dict[str, str], Parsed | None, str]],
           hashes: dict[str, str], persons: dict[str, Person], via: str, effects: Any
           ) -> Summary:
    feed = FeedFile.objects.create(kind=kind, source=source, name=name, sha256=digest,
                                   area=area, via=via, loaded_by=actor, token=token,
                                   rows_read=len(checked))
    event_ids = sorted({values.get("event_id", "")[:EVENT_ID_MAX] for _, values, _, _ in checked})
    primaries: dict[str, FeedRow] = {}
    for start in range(0, len(event_ids), 5000):
        primaries.update((r.event_id, r) for r in FeedRow.objects.filter(
            source=source, kind=kind, primary=True,
            event_id__in=event_ids[start:start + 5000]).select_related("file"))
    counts = dict.fromkeys(RowStatus.values, 0)
    sb = box()
    rows: list[FeedRow] = []
    to_propose: list[tuple[FeedRow, Person, Parsed]] = []
    for n, values, parsed, reason in checked:
        canonical = _canonical(values)
        content = sb.keyed_hash("feedraw:" + canonical)
        row = FeedRow(file=feed, kind=kind, source=source, row_number=n,
                      event_id=values.get("event_id", "")[:EVENT_ID_MAX],
                      raw_sealed=sb.seal(canonical), content_hash=content,
                      area_code=area.code)
        person: Person | None = None
        if parsed is not None:
            row.id_sealed = sb.seal(parsed.number)
            row.id_hash = hashes[parsed.number]
            row.id_masked = mask_id_number(parsed.number)
            row.name = parsed.name
            row.event_date = parsed.event_date
            first = primaries.get(row.event_id)
            if first is not None:
                if first.content_hash == content:
                    row.status, row.reason = RowStatus.DUPLICATE, (
                        f"与 {first.file.received_at:%Y-%m-%d} 接收的第 {first.row_number} 行"
                        "为同一事件，内容相同，未作变更")
                else:
                    row.status, row.reason = RowStatus.QUARANTINED, str(Quarantine(
                        "event_id", f"事件编号重复且内容不同（首次见于数据文件 {first.file_id} "
                                    f"第 {first.row_number} 行）"))
            else:
                person, row.status, row.reason = _match(kind, parsed, hashes, persons)
                if row.status in (RowStatus.MATCHED, RowStatus.UNMATCHED):
                    row.primary = True
                    primaries[row.event_id] = row
        else:
            row.status, row.reason = RowStatus.QUARANTINED, reason
        row.person = person
        if person is not None:
            row.area_code = person.area.code
        rows.append(row)
        counts[row.status] += 1
        if row.status == RowStatus.MATCHED and person is not None and parsed is not None:
            to_propose.append((row, person, parsed))
    bulk.insert(rows)
    proposed = _propose(effects, to_propose, hashes, persons)
    feed.matched, feed.unmatched = counts[RowStatus.MATCHED], counts[RowStatus.UNMATCHED]
    feed.quarantined, feed.duplicates = counts[RowStatus.QUARANTINED], counts[RowStatus.DUPLICATE]
    feed.effects_proposed = proposed
    feed.save(update_fields=["matched", "unmatched", "quarantined", "duplicates",
                             "effects_proposed"])
    record(actor, "feed.import", feed, area_code=area.code, kind=kind, source=source,
           name=name, via=via, token=token.prefix if token else "", rows=feed.rows_read,
           matched=feed.matched, unmatched=feed.unmatched, quarantined=feed.quarantined,
           duplicates=feed.duplicates, effects=proposed)
    return Summary(feed, proposed)


def _propose(effects: Any, matched: list[tuple[FeedRow, Person, Parsed]],
             hashes: dict[str, str], persons: dict[str, Person]) -> int:
    """The effects of every matched row, row by row in the file's order as one at a time,
    with the family and cases they read loaded at once and the effects written at once."""
    from huimin.verification.batch import Batch

    if not matched:
        return 0
    if not BATCHED:  # one row and its effects at a time (kept for comparison)
        return sum(effects.propose_for_row(row, person, parsed, hashes, persons)
                   for row, person, parsed in matched)
    years = [p.event_date.year for _, _, p in matched if p.event_date is not None]
    since = min(years) - 1 if years else timezone.localdate().year - 1
    with Batch() as batch:
        batch.load([person for _, person, _ in matched] + list(persons.values()), since)
        for row, person, parsed in matched:
            effects.propose_for_row(row, person, parsed, hashes, persons)
        return batch.flush()


def _match(kind: str, parsed: Parsed, hashes: dict[str, str], persons: dict[str, Person]
           ) -> tuple[Person | None, str, str]:
    person = persons.get(hashes[parsed.number])
    if kind == Kind.BIRTH:
        if person is not None:
            if person.name != parsed.name:
                return None, RowStatus.QUARANTINED, str(Quarantine(
                    "child_name", "与登记的新生儿姓名不一致"))
            return person, RowStatus.MATCHED, "新生儿已登记"
        for column in ("mother_id_number", "father_id_number"):
            number = parsed.values.get(column)
            parent = persons.get(hashes[number]) if number else None
            if parent is not None:
                return parent, RowStatus.MATCHED, "新生儿尚未登记；已匹配到父母"
        return None, RowStatus.UNMATCHED, NOT_REGISTERED
    if person is None:
        return None, RowStatus.UNMATCHED, NOT_REGISTERED
    if person.name != parsed.name:
        return None, RowStatus.QUARANTINED, str(Quarantine("name", "与登记的姓名不一致"))
    if person.moved_out_on is not None:
        return None, RowStatus.QUARANTINED, str(Quarantine(
            "id_number", f"已于 {person.moved_out_on.isoformat()} 迁出本县，由迁入地处理"))
    if kind == Kind.DEATH:
        assert parsed.event_date is not None
        if parsed.event_date < person.birth_date:
            return None, RowStatus.QUARANTINED, str(Quarantine("death_date", "早于登记的出生日期"))
        if person.death_date is not None and person.death_date != parsed.event_date:
            return None, RowStatus.QUARANTINED, str(Quarantine(
                "death_date", "与登记的死亡日期不一致，请核实后通过变更登记更正"))
    if kind == Kind.MOVE and person.death_date is not None:
        return None, RowStatus.QUARANTINED, str(Quarantine("id_number", "登记为已死亡人员"))
    return person, RowStatus.MATCHED, ""


def check_token_area(token: FeedToken, actor: Any) -> None:
    if not in_user_area(actor, token.area.code):
        raise Forbidden("该令牌不在您的管辖范围内")
