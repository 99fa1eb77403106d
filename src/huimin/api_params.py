"""Types shared by the API routers: pagination, claim years and the error body.

Every router takes its list parameters from here, so the bounds are the same everywhere and
appear in the OpenAPI document; a value outside them is answered 422 naming the parameter.

Every list pages by key: :func:`keyset_page` answers a page in the list's own order and,
when more rows follow, the cursor of its last row in the ``X-Next-After`` header (and a
``Link: <…>; rel="next"``); the client sends it back as ``after``. A deep page is then an
index range, where a large ``offset`` makes the database count through every skipped row.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from ninja import Field, Schema

#: a page is at most this many rows; an offset beyond this is refused rather than sent to SQL
MAX_LIMIT = 500
MAX_OFFSET = 10_000_000

#: the schema's bounds for a claim year; the actions narrow it to 2000 … next year
CLAIM_YEAR_MIN = 2000
CLAIM_YEAR_MAX = 2100

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"每页条数（1–{MAX_LIMIT}）")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description="跳过的条数（从 0 起）")]
ClaimYear = Annotated[int, Field(ge=CLAIM_YEAR_MIN, le=CLAIM_YEAR_MAX,
                                 description="申请年度（四位数字）")]
#: database ids in paths and bodies: positive and within a signed 64-bit integer
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
#: optimistic-locking versions sent back by clients
Version = Annotated[int, Field(ge=0, le=2**31 - 1)]


After = Annotated[str, Field(
    max_length=400, pattern=r"^[A-Za-z0-9_-]*$",
    description="翻页位置：上一页响应头 X-Next-After 的值（按本列表的排序键和 id），"
                "取其后的记录；按 id 排序的列表即上一页最后一条的 id。翻深页用它而不是 offset")]

#: the response headers of a list page, in the OpenAPI document of every list
NEXT_HEADERS = {
    "X-Next-After": {"description": "下一页的 after 值；最后一页没有此头",
                     "schema": {"type": "string"}},
    "Link": {"description": '下一页的地址（rel="next"）；最后一页没有此头',
             "schema": {"type": "string"}},
}


class Page(Schema):
    """``?limit=&offset=&after=`` on every list."""

    limit: Limit = 50
    offset: Offset = 0
    after: After = ""


def keyset_page(request: Any, response: Any, qs: Any, page: Page) -> list[Any]:
    """The page of ``qs`` (in its own order, ending with the id) that ``page`` asks for;
    sets ``X-Next-After`` and ``Link`` on ``response`` when more rows follow. A cursor that
    does not fit this list is answered 422 naming ``after``, as a malformed one is."""
    from ninja.errors import ValidationError

    from huimin.keyset import BadCursor
    from huimin.keyset import page as by_key

    try:
        rows, nxt = by_key(qs, page.after, limit=page.limit, offset=page.offset)
    except BadCursor as exc:
        raise ValidationError([{"loc": ("query", "after"), "type": "cursor",
                                "msg": exc.message.split("：", 1)[1]}]) from None
    if nxt:
        query = request.GET.copy()
        query["after"] = nxt
        query.pop("offset", None)
        response["X-Next-After"] = nxt
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    return rows


class FieldError(Schema):
    """One problem: a request field (``field``) or a row and column of an uploaded file."""

    field: str = ""
    row: int | None = None
    column: str = ""
    reason: str


class Error(Schema):
    """The body of every 4xx answer: a Chinese message, and for files or fields each problem."""

    detail: str
    errors: list[FieldError] = []


# Text fields: no NUL or other control characters (PostgreSQL refuses NUL outright); a line
# is one line, a note may have line breaks. Lengths are those of the columns behind them.
_LINE = r"^[^\x00-\x1f\x7f]*$"
_NOTE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def line(max_length: int) -> Any:
    """A one-line text field of at most ``max_length`` characters."""
    return Field(max_length=max_length, pattern=_LINE)


def note(max_length: int = 2000) -> Any:
    """A free-text field (line breaks allowed) of at most ``max_length`` characters."""
    return Field(max_length=max_length, pattern=_NOTE)


Code = Annotated[str, Field(max_length=60, pattern=r"^[A-Za-z0-9_.-]*$")]

#: dates a request may carry (a notice's start, a cycle's cut-off): within the claim years
Day = Annotated[date, Field(ge=date(CLAIM_YEAR_MIN, 1, 1), le=date(CLAIM_YEAR_MAX, 12, 31),
                            description=f"日期 YYYY-MM-DD（{CLAIM_YEAR_MIN}–{CLAIM_YEAR_MAX} 年）")]
