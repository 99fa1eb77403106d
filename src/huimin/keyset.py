"""Pages by key: the rows after the last one seen, in a list's own order.

A deep page by ``OFFSET`` makes the database walk every skipped row; a page by key is an
index range however deep it is. A list's order is a tuple of fields ending with the primary
key (``("-created_at", "-id")``); the cursor of a row is its values of those fields, and the
next page is the rows strictly after it in that order::

    created_at < c  OR  (created_at = c AND id < i)

Nullable fields sort NULLS LAST ascending and NULLS FIRST descending on every database (the
b-tree's own order on PostgreSQL), and the condition treats NULL accordingly.

A cursor is opaque to clients: URL-safe base64 of a JSON list of the values (dates and times
in ISO form), with the page number for the web lists. For a list ordered by ``id`` alone it
is simply the last id (``/api/cases?after=123``). A cursor that does not decode, or does not
fit the list's order, is a :class:`BadCursor` naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import models
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

#: the longest cursor accepted (the values of a few sort fields)
MAX_CURSOR = 400


class BadCursor(ValueError):
    """A cursor that cannot be applied; ``message`` is Chinese and names the parameter."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _name(item: object) -> tuple[str, bool]:
    """(field path, descending) of one ``order_by`` item."""
    if isinstance(item, str):
        return (item[1:], True) if item.startswith("-") else (item, False)
    if isinstance(item, OrderBy) and isinstance(item.expression, F):
        return str(getattr(item.expression, "name")), bool(item.descending)  # noqa: B009
    raise TypeError(f"keyset pages need field names in the order, not {item!r}")


def order_of(qs: QuerySet[Any]) -> list[tuple[str, bool]]:
    """The queryset's order as (field path, descending), ending with the primary key (added,
    ascending, if the order does not already end with it)."""
    items = list(qs.query.order_by) or list(qs.model._meta.ordering)
    order = [_name(i) for i in items]
    pk = qs.model._meta.pk.name
    if not order or order[-1][0] not in ("pk", "id", pk):
        order.append(("id" if pk == "id" else pk, False))
    return order


def _field(model: Any, path: str) -> models.Field[Any, Any]:
    parts = path.split("__")
    for part in parts[:-1]:
        model = model._meta.get_field(part).related_model
    name = parts[-1]
    if name == "pk":
        return model._meta.pk  # type: ignore[no-any-return]
    return model._meta.get_field(name)  # type: ignore[no-any-return]


def _nullable(model: Any, path: str) -> bool:
    parts = path.split("__")
    for part in parts[:-1]:
        f = model._meta.get_field(part)
        if f.null:
            return True
        model = f.related_model
    return bool(_field(model, parts[-1]).null)


def ordered(qs: QuerySet[Any], order: Sequence[tuple[str, bool]]) -> QuerySet[Any]:
    """``qs`` ordered by ``order``, nullable fields with the NULLs placed explicitly."""
    items: list[Any] = []
    for path, desc in order:
        if _nullable(qs.model, path):
            items.append(F(path).desc(nulls_first=True) if desc else F(path).asc(nulls_last=True))
        else:
            items.append(f"-{path}" if desc else path)
    return qs.order_by(*items)


def after(qs: QuerySet[Any], order: Sequence[tuple[str, bool]], values: Sequence[object]
          ) -> QuerySet[Any]:
    """The rows of ``qs`` strictly after the row whose order values are ``values``."""
    cond = Q(pk__in=[])
    for i, (path, desc) in enumerate(order):
        ties = Q()
        for (p, _), v in zip(order[:i], values[:i], strict=True):
            ties &= Q(**{f"{p}__isnull": True}) if v is None else Q(**{p: v})
        v = values[i]
        nullable = _nullable(qs.model, path)
        if v is None:
            # ascending: NULLs come last, nothing after them; descending: they come first
            beyond = Q(**{f"{path}__isnull": False}) if desc else Q(pk__in=[])
        else:
            beyond = Q(**{f"{path}__{'lt' if desc else 'gt'}": v})
            if nullable and not desc:
                beyond |= Q(**{f"{path}__isnull": True})
        cond |= ties & beyond
    return qs.filter(cond)


def _value(obj: Any, path: str) -> object:
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def values_of(obj: Any, order: Sequence[tuple[str, bool]]) -> list[object]:
    return [_value(obj, p) for p, _ in order]


def _plain(v: object) -> object:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if v is None or isinstance(v, bool | int | str):
        return v
    return str(v)


def encode(order: Sequence[tuple[str, bool]], values: Sequence[object], *,
           page: int | None = None) -> str:
    """The cursor of a row (its ``values``), with the page number it starts for the web."""
    if page is None and [p for p, _ in order] in (["id"], ["pk"]):
        return str(values[0])
    body: Any = [_plain(v) for v in values]
    if page is not None:
        body = {"n": page, "k": body}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _typed(field: models.Field[Any, Any], raw: object) -> object:
    if raw is None:
        return None
    if isinstance(field, models.DateTimeField):
        if not isinstance(raw, str):
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError(raw)
        return value
    if isinstance(field, models.DateField):
        if not isinstance(raw, str):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    if isinstance(field, models.BooleanField):
        if not isinstance(raw, bool):
            raise ValueError(raw)
        return raw
    if isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(raw)
        return raw
    if not isinstance(raw, str):
        raise ValueError(raw)
    return raw


def decode(model: Any, order: Sequence[tuple[str, bool]], cursor: str, *,
           label: str = "after") -> tuple[list[object], int | None]:
    """The values and page number of a cursor made by :func:`encode` for this order."""
    bad = BadCursor(f"{label}：翻页位置「{cursor[:40]}」无效，请使用上一页给出的位置"
                    "（或从第一页重新开始）")
    cursor = cursor.strip()
    if not cursor or len(cursor) > MAX_CURSOR:
        raise bad
    names = [p for p, _ in order]
    if cursor.isascii() and cursor.isdigit() and names in (["id"], ["pk"]):
        pk = int(cursor)
        if pk > 2**63 - 1:
            raise bad
        return [pk], None
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    page: int | None = None
    if isinstance(body, dict):
        page, body = body.get("n"), body.get("k")
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 10**7:
            raise bad
    if not isinstance(body, list) or len(body) != len(order):
        raise bad
    try:
        values = [_typed(_field(model, p), raw) for p, raw in zip(names, body, strict=True)]
    except (ValueError, TypeError):
        raise bad from None
    if values[-1] is None:
        raise bad
    return values, page


def page(qs: QuerySet[Any], cursor: str, *, limit: int, offset: int = 0,
         label: str = "after") -> tuple[list[Any], str]:
    """A page of ``qs`` (in its own order) after ``cursor`` (or from the start), and the
    cursor of its last row when more rows follow ("" on the last page)."""
    order = order_of(qs)
    qs = ordered(qs, order)
    if cursor:
        values, _ = decode(qs.model, order, cursor, label=label)
        qs = after(qs, order, values)
    rows = list(qs[offset: offset + limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode(order, values_of(rows[-1], order)) if more and rows else ""
    return rows, nxt
