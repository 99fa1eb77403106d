"""Finding things in a list, built once: search, filters, sorting, pages, masked export.

A list is declared by a :class:`ListSpec` (what can be searched, filtered and sorted, the
columns of its export); :func:`run` applies a request's parameters to a queryset that the
caller has already scoped with the access helpers (``persons_for``, ``cases_for`` …), so a
list never shows or exports anything outside the user's areas.

A bad parameter (a date "2026-13-01", an unknown sort key, a page "abc") is never a 500: it
is dropped, and its Chinese message — naming the field and the reason — is shown above the
list (status 400).

Pages: a count is exact up to :data:`COUNT_LIMIT` rows and "more than" beyond it (a
``COUNT(*)`` over a limited subquery, never a full count over a million rows), with the
planner's estimate of the whole on PostgreSQL ("超过 10,000 条（约 98 万条）"). A page is the
primary keys of its rows and then those rows, so a page does not fetch the columns of every
row it skips. "下一页" goes by key (``after=``, :mod:`huimin.keyset`: the rows after the last
one shown, in the list's order, an index range however deep); a page number (``page=``, the
jump form) is an offset and goes as deep as the counted rows.

Exports are masked by default (the columns a list shows); an unmasked export (full
identity numbers) is only for the roles a list names, and each export is an audit event
(who, which list, filters, rows, masked or not), an unmasked one also a personal-data read
of each person in it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone

from huimin import keyset
from huimin.accounts.access import area_prefixes, in_user_area

COUNT_LIMIT = 10_000
EXPORT_LIMIT = 50_000
PER_PAGE = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")


class ParamError(Exception):
    """A parameter that cannot be applied; ``message`` names the field and the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Filter:
    """One filter of a list. ``kind``: choice (one of ``choices``), area (a division code in
    the user's areas, matched as a prefix of ``lookup``), year (four digits), date_from /
    date_to (YYYY-MM-DD, on a date or a timezone-aware datetime ``lookup``)."""

    key: str
    label: str
    kind: str
    lookup: str
    choices: Callable[[Any], Sequence[tuple[str, str]]] | None = None
    is_datetime: bool = False
    q: Callable[[str], Q] | None = None  # a choice that is not a column's value


@dataclass(frozen=True)
class Sort:
    key: str
    label: str
    order: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """An export column: the masked value (as the list shows it) and, where it differs, the
    full value for an unmasked export."""

    label: str
    value: Callable[[Any], object]
    unmasked: Callable[[Any], object] | None = None


@dataclass(frozen=True)
class ListSpec:
    name: str  # kept in the audit event: "persons", "cases", …
    title: str
    search_label: str = ""
    search: Callable[[QuerySet[Any], str], QuerySet[Any]] | None = None
    filters: tuple[Filter, ...] = ()
    sorts: tuple[Sort, ...] = ()
    default_sort: str = ""
    columns: tuple[Column, ...] = ()
    only: tuple[str, ...] = ()  # the columns a list page loads (no JSON columns)
    unmask_roles: frozenset[str] = frozenset()
    per_page: int = PER_PAGE

    def sort(self, key: str) -> Sort:
        for s in self.sorts:
            if s.key == key:
                return s
        raise KeyError(key)


@dataclass
class Listing:
    spec: ListSpec
    rows: list[Any]
    values: dict[str, str]
    errors: list[str]
    number: int = 1
    count: int = 0
    capped: bool = False  # more rows than counted
    estimate: int | None = None  # the planner's estimate of all rows, when capped
    fields: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False  # rows follow this page
    next_after: str = ""  # the cursor of the next page

    @property
    def has_search(self) -> bool:
        """(A template calls a callable: it cannot test ``spec.search`` itself.)"""
        return self.spec.search is not None

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.spec.per_page))

    @property
    def has_previous(self) -> bool:
        """(Past the counted pages the way back is the first page.)"""
        return 1 < self.number <= self.num_pages + 1

    @property
    def has_next(self) -> bool:
        return self.more

    @property
    def count_label(self) -> str:
        if not self.capped:
            return f"{self.count:,}"
        about = f"（约 {_about(self.estimate)}）" if self.estimate else ""
        return f"超过 {COUNT_LIMIT:,}{about}"

    @property
    def page_label(self) -> str:
        if self.capped:
            return f"第 {self.number:,} 页"
        return f"第 {self.number:,}/{self.num_pages:,} 页"

    def query(self, **changes: object) -> str:
        """The list's URL query (its parameters, changed), for links and the page jump."""
        params = {k: v for k, v in {**self.values, **changes}.items() if v not in ("", None)}
        return urlencode(params)

    @property
    def previous_query(self) -> str:
        return self.query(page=self.number - 1, after="")

    @property
    def first_query(self) -> str:
        return self.query(page="", after="")

    @property
    def next_query(self) -> str:
        return self.query(page="", after=self.next_after)

    @property
    def hidden(self) -> list[tuple[str, str]]:
        """The current parameters (without the page) as hidden fields of another form."""
        return [(k, v) for k, v in self.values.items() if v and k not in ("page", "after")]


def _about(n: int | None) -> str:
    n = n or 0
    if n >= 100_000_000:
        return f"{n / 100_000_000:.1f} 亿"
    if n >= 10_000:
        return f"{round(n / 10_000):,} 万"
    return f"{n:,}"


def estimate(qs: QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows of ``qs`` (PostgreSQL; None elsewhere or if the
    plan cannot be read): no row is counted."""
    import json

    from django.db import connections

    if connections[qs.db].vendor != "postgresql":
        return None
    try:
        plan = json.loads(qs.order_by().explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _day(label: str, raw: str) -> date:
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ParamError(f"{label}：「{raw}」不是有效日期，格式应为 YYYY-MM-DD，"
                         "如 2026-06-15") from None


def _apply_filter(user: Any, qs: QuerySet[Any], f: Filter, raw: str) -> QuerySet[Any]:
    if f.kind == "choice":
        allowed = dict(f.choices(user)) if f.choices else {}
        if raw not in allowed:
            raise ParamError(f"{f.label}：没有「{raw}」这一项，请从列表中选择")
        return qs.filter(f.q(raw)) if f.q else qs.filter(**{f.lookup: raw})
    if f.kind == "area":
        if not (raw.isascii() and raw.isdigit() and len(raw) == 12):
            raise ParamError(f"{f.label}：应为 12 位区划代码")
        if not in_user_area(user, raw):
            raise ParamError(f"{f.label}：{raw} 不在您的管辖范围内")
        from huimin.lib.divisions import prefix

        return qs.filter(**{f"{f.lookup}__startswith": prefix(raw)})
    if f.kind == "year":
        if not _YEAR.fullmatch(raw):
            raise ParamError(f"{f.label}：应为四位数字年份，如 2026")
        return qs.filter(**{f.lookup: int(raw)})
    day = _day(f.label, raw)
    if f.kind == "date_to":
        day += timedelta(days=1)
    op = "gte" if f.kind == "date_from" else "lt"
    value: object = day
    if f.is_datetime:
        value = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    return qs.filter(**{f"{f.lookup}__{op}": value})


def apply(spec: ListSpec, user: Any, qs: QuerySet[Any], params: Mapping[str, Any]
          ) -> tuple[QuerySet[Any], dict[str, str], list[str]]:
    """The queryset searched, filtered and sorted by ``params``; the parameters kept; the
    messages of those dropped."""
    errors: list[str] = []
    values: dict[str, str] = {}
    q = str(params.get("q", "")).strip()[:100]
    if q and spec.search is not None:
        try:
            qs = spec.search(qs, q)
            values["q"] = q
        except ParamError as exc:
            errors.append(exc.message)
    for f in spec.filters:
        raw = str(params.get(f.key, "")).strip()
        if not raw:
            continue
        try:
            qs = _apply_filter(user, qs, f, raw)
            values[f.key] = raw
        except ParamError as exc:
            errors.append(exc.message)
    sort = str(params.get("sort", "")).strip()
    if sort and sort not in {s.key for s in spec.sorts}:
        labels = "、".join(f"{s.label}（{s.key}）" for s in spec.sorts)
        errors.append(f"排序：不能按「{sort}」排序，可选：{labels}")
        sort = ""
    if sort:
        values["sort"] = sort
    qs = qs.order_by(*spec.sort(sort or spec.default_sort).order)
    return qs, values, errors


def _page_number(raw: object) -> int:
    text = str(raw or "1").strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ParamError(f"页码：「{text}」应为正整数")
    return int(text)


def run(spec: ListSpec, user: Any, qs: QuerySet[Any], params: Mapping[str, Any]) -> Listing:
    """One page of a list for the request's parameters."""
    qs, values, errors = apply(spec, user, qs, params)
    if spec.only:
        qs = qs.only(*spec.only)
    counted = qs.order_by()[:COUNT_LIMIT + 1].count()
    listing = Listing(spec, [], values, errors, count=min(counted, COUNT_LIMIT),
                      capped=counted > COUNT_LIMIT)
    if listing.capped:  # an estimate below the rows already counted is not shown
        about = estimate(qs)
        listing.estimate = about if about is not None and about > COUNT_LIMIT else None
    order = keyset.order_of(qs)
    keyed = keyset.ordered(qs, order)
    cursor = str(params.get("after", "")).strip()
    number = 1
    start = 0
    if cursor:
        try:
            key, n = keyset.decode(qs.model, order, cursor, label="翻页位置")
            keyed = keyset.after(keyed, order, key)
            number = n or 1
            values["after"] = cursor
        except keyset.BadCursor as exc:
            errors.append(exc.message)
            cursor = ""
    if not cursor:
        try:
            number = _page_number(params.get("page"))
            if number > listing.num_pages:
                more = ("；更多记录请用「下一页」逐页查看，或增加筛选条件缩小范围"
                        if listing.capped else "")
                raise ParamError(f"页码：共 {listing.num_pages} 页，没有第 {number} 页{more}")
        except ParamError as exc:
            errors.append(exc.message)
            number = 1
        start = (number - 1) * spec.per_page
    listing.number = number
    if number > 1 and not cursor:
        values["page"] = str(number)
    paths = [p for p, _ in order]
    keys = list(keyed.values_list("pk", *paths)[start:start + spec.per_page + 1])
    listing.more = len(keys) > spec.per_page
    keys = keys[:spec.per_page]
    if listing.more:
        listing.next_after = keyset.encode(order, list(keys[-1][1:]), page=number + 1)
    ids = [k[0] for k in keys]
    by_pk = {o.pk: o for o in qs.filter(pk__in=ids)}
    listing.rows = [by_pk[i] for i in ids if i in by_pk]
    listing.fields = form_fields(spec, user, values)
    return listing


def form_fields(spec: ListSpec, user: Any, values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The filter form's fields with their Chinese labels and current values."""
    out: list[dict[str, Any]] = []
    for f in spec.filters:
        choices: Sequence[tuple[str, str]] = ()
        if f.kind == "choice" and f.choices:
            choices = f.choices(user)
        elif f.kind == "area":
            choices = area_choices(user)
        value = values.get(f.key, "")
        out.append({"key": f.key, "label": f.label, "kind": f.kind, "value": value,
                    "choices": choices, "options": options(choices, value)})
    return out


def options(choices: Sequence[tuple[str, str]], value: str) -> str:
    """The ``<option>`` elements of a choice (escaped; the current value selected): built
    here in one pass, since a county's area filter has hundreds of them."""
    from html import escape

    from django.utils.safestring import mark_safe

    # every value and label is escaped here
    return mark_safe("".join(
        f'<option value="{escape(str(v))}"{" selected" if v == value else ""}>'
        f"{escape(str(label))}</option>" for v, label in choices))


#: the area choices by the users' area prefixes, for a minute (areas are reference data)
_AREA_CHOICES: dict[tuple[str, ...], tuple[float, list[tuple[str, str]]]] = {}
AREA_CHOICES_SECONDS = 60.0


def area_choices(user: Any) -> list[tuple[str, str]]:
    """The townships and villages in the user's areas (code, name), for an area filter."""
    import time as _time

    from huimin.registry.models import Area

    prefixes = tuple(area_prefixes(user))
    if not prefixes:
        return []
    now = _time.monotonic()
    hit = _AREA_CHOICES.get(prefixes)
    if hit is not None and now - hit[0] < AREA_CHOICES_SECONDS:
        return hit[1]
    q = Q()
    for p in prefixes:
        q |= Q(code__startswith=p)
    areas = (Area.objects.filter(q, level__in=("township", "village")).order_by("code")
             .values_list("code", "name", "level")[:2000])
    got = [(code, ("" if level == "township" else "　") + name) for code, name, level in areas]
    if len(_AREA_CHOICES) > 1000:
        _AREA_CHOICES.clear()
    _AREA_CHOICES[prefixes] = (now, got)
    return got


# -- export -----------------------------------------------------------------------------------

def may_unmask(spec: ListSpec, user: Any) -> bool:
    return getattr(user, "role", None) in spec.unmask_roles


def export_rows(spec: ListSpec, qs: QuerySet[Any]) -> list[Any]:
    """The rows to export; refused past :data:`EXPORT_LIMIT` (narrow the filters)."""
    rows = list(qs[:EXPORT_LIMIT + 1])
    if len(rows) > EXPORT_LIMIT:
        raise ParamError(f"导出：符合条件的记录超过 {EXPORT_LIMIT} 条，请增加筛选条件后分批导出")
    return rows


def to_xlsx(spec: ListSpec, rows: Sequence[Any], *, unmasked: bool) -> bytes:
    """The rows as a workbook (one sheet named after the list), every text a string cell."""
    from openpyxl import Workbook

    from huimin.lib.cells import string_cells

    book = Workbook(write_only=True)
    ws = book.create_sheet(spec.title[:31])
    ws.append(string_cells(ws, [c.label for c in spec.columns]))
    for row in rows:
        ws.append(string_cells(ws, [
            _cell((c.unmasked if unmasked and c.unmasked else c.value)(row))
            for c in spec.columns]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (int, str, date)):
        return value
    return str(value)


def filters_for_log(values: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v and k not in ("page", "after")}


def export_response(request: Any, spec: ListSpec, qs: QuerySet[Any], *,
                    person: Callable[[Any], Any] | None = None,
                    log_filters: Mapping[str, str] | None = None) -> Any:
    """The export of a list (a POST with the list's parameters): masked unless ``unmasked=1``
    from a role the list allows; one audit event for the export and, when unmasked, a
    personal-data read of each person in it (``person`` gives a row's person)."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction
    from django.http import HttpResponse

    from huimin.accounts.models import Role
    from huimin.audit.events import actor_area_code, event, record
    from huimin.audit.models import AuditEvent

    user = request.user
    unmasked = request.POST.get("unmasked", "") == "1"
    if unmasked and not may_unmask(spec, user):
        labels = "、".join(Role(r).label for r in Role.values if r in spec.unmask_roles)
        raise PermissionDenied(f"导出完整身份证号码仅限{labels or '（无）'}；请导出脱敏名单")
    qs, values, errors = apply(spec, user, qs, request.POST)
    try:
        if errors:
            raise ParamError("；".join(errors))
        rows = export_rows(spec, qs)
    except ParamError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    data = to_xlsx(spec, rows, unmasked=unmasked)
    with transaction.atomic():
        record(user, "list.export", user, area_code=actor_area_code(user), list=spec.name,
               filters={**(log_filters or {}), **filters_for_log(values)}, rows=len(rows),
               masked=not unmasked)
        if unmasked and person is not None:
            people = [p for p in (person(r) for r in rows) if p is not None]
            AuditEvent.objects.bulk_create([
                event(user, "person.export_unmasked", p, person_id=p.pk,
                      area_code=p.area.code, list=spec.name) for p in people],
                batch_size=2000)
    resp = HttpResponse(data, content_type=XLSX_TYPE)
    day = timezone.localdate().isoformat()
    suffix = "-unmasked" if unmasked else ""
    resp["Content-Disposition"] = f'attachment; filename="{spec.name}-{day}{suffix}.xlsx"'
    return resp
