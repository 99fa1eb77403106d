"""Bank files in configurable layouts: the file a batch is sent as, and the return file.

A layout (YAML under ``payments/layouts/``) names the columns and their order, the date
format, CSV or XLSX, and the encoding (GBK or UTF-8). Every file, sent or returned, ends with
a control row: ``合计, <line count>, <total yuan>, SHA256:<checksum>``; the checksum is the
SHA-256 of the header and detail rows in canonical form (cells joined by U+001F, rows ended by
a newline, UTF-8), so it is the same for a CSV and an XLSX of the same content.

Output is deterministic: the same lines give the same bytes (XLSX too: the document
timestamps and the zip entry dates are fixed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from huimin.errors import ActionError, FileRejected, RowError
from huimin.lib.cells import NEEDS_NEUTRALIZING_RE2, neutralize, string_cells
from huimin.lib.money import InvalidAmount, fen_to_yuan, yuan_to_fen
from huimin.lib.sheets import Limits, read_csv_text, read_sheet, rejected, too_many

LAYOUT_DIR = Path(__file__).with_name("layouts")
DEFAULT_LAYOUT = "standard-csv"
TRAILER_MARK = "合计"
CHECKSUM_PREFIX = "SHA256:"
EXPORT_FIELDS = {"reference", "seq", "payee_name", "account", "bank_name", "amount",
                 "purpose", "pay_date"}
RETURN_FIELDS = {"reference", "account", "amount", "result", "reason"}
# a bank statement (对账单): the account's debits (and credits, e.g. money coming back)
STATEMENT_FIELDS = {"reference", "account", "debit", "credit", "date", "memo"}
RESULTS = ("paid", "failed", "returned")
ENCODINGS = {"utf-8", "gbk"}
# A fixed moment for XLSX document properties and zip entries: same batch, same bytes.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = "2000-01-01T00:00:00Z"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class Column:
    field: str
    header: str


@dataclass(frozen=True)
class Layout:
    code: str
    name: str
    format: str
    encoding: str
    date_format: str
    columns: tuple[Column, ...]
    return_columns: tuple[Column, ...]
    results: dict[str, tuple[str, ...]] = field(hash=False)
    sheet: str = "Sheet1"
    statement_columns: tuple[Column, ...] = ()
    statement_sheet: str = "Sheet1"

    @property
    def extension(self) -> str:
        return self.format

    @property
    def content_type(self) -> str:
        if self.format == "xlsx":
            return XLSX_TYPE
        return f"text/csv; charset={self.encoding}"

    def result_of(self, word: str) -> str | None:
        return self.result_words.get(word.strip().upper())

    @cached_property
    def result_words(self) -> dict[str, str]:
        """Each accepted word (upper case) -> its result; the first result naming it wins."""
        out: dict[str, str] = {}
        for result, words in self.results.items():
            for x in words:
                out.setdefault(x.upper(), result)
        return out

    def result_word(self, result: str) -> str:
        return self.results[result][0]


def _columns(raw: Any, allowed: set[str], where: str) -> tuple[Column, ...]:
    if not isinstance(raw, list) or not raw:
        raise LayoutError(f"{where}：须为非空列表")
    cols = []
    for item in raw:
        if not isinstance(item, dict) or item.get("field") not in allowed:
            raise LayoutError(f"{where}：未知字段 {item!r}（可用：{'、'.join(sorted(allowed))}）")
        cols.append(Column(str(item["field"]), str(item.get("header") or item["field"])))
    fields = [c.field for c in cols]
    if len(set(fields)) != len(fields):
        raise LayoutError(f"{where}：字段重复")
    return tuple(cols)


def parse_layout(doc: Any, source: str = "") -> Layout:
    """Validate a layout document (a mapping, as loaded from YAML)."""
    if not isinstance(doc, dict):
        raise LayoutError(f"{source}：格式定义须为映射")
    fmt = doc.get("format")
    enc = str(doc.get("encoding", "utf-8")).lower()
    if fmt not in ("csv", "xlsx"):
        raise LayoutError(f"{source}：format 须为 csv 或 xlsx")
    if enc not in ENCODINGS:
        raise LayoutError(f"{source}：encoding 须为 utf-8 或 gbk")
    columns = _columns(doc.get("columns"), EXPORT_FIELDS, f"{source} columns")
    returns = _columns(doc.get("return_columns"), RETURN_FIELDS, f"{source} return_columns")
    missing = {"reference", "account", "amount", "result"} - {c.field for c in returns}
    if missing:
        raise LayoutError(f"{source} return_columns：缺少 {'、'.join(sorted(missing))}")
    if "reference" not in {c.field for c in columns}:
        raise LayoutError(f"{source} columns：须含流水号 reference")
    raw_results = doc.get("results") or {}
    results = {r: tuple(str(w) for w in raw_results.get(r, [])) for r in RESULTS}
    if not all(results.values()):
        raise LayoutError(f"{source} results：paid、failed、returned 各须至少一个词")
    date_format = str(doc.get("date_format", "%Y-%m-%d"))
    date(2000, 1, 2).strftime(date_format)
    statement: tuple[Column, ...] = ()
    if doc.get("statement_columns") is not None:
        statement = _columns(doc["statement_columns"], STATEMENT_FIELDS,
                             f"{source} statement_columns")
        missing = {"reference", "debit"} - {c.field for c in statement}
        if missing:
            raise LayoutError(f"{source} statement_columns：缺少 {'、'.join(sorted(missing))}")
    sheet = str(doc.get("sheet", "Sheet1"))
    return Layout(code=str(doc["code"]), name=str(doc.get("name", doc["code"])), format=fmt,
                  encoding=enc, date_format=date_format, columns=columns,
                  return_columns=returns, results=results, sheet=sheet,
                  statement_columns=statement,
                  statement_sheet=str(doc.get("statement_sheet", sheet)))


@lru_cache(maxsize=1)
def layouts() -> dict[str, Layout]:
    out: dict[str, Layout] = {}
    for path in sorted(LAYOUT_DIR.glob("*.yaml")):
        layout = parse_layout(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        out[layout.code] = layout
    return out


def get_layout(code: str) -> Layout:
    try:
        return layouts()[code]
    except KeyError:
        raise ActionError(f"未知的银行文件格式 {code}") from None


def layout_choices() -> list[tuple[str, str]]:
    """For a form: the default layout first, then the others by code."""
    order = sorted(layouts(), key=lambda code: (code != DEFAULT_LAYOUT, code))
    return [(code, layouts()[code].name) for code in order]


# ---------------------------------------------------------------------------------------------
# Writing


class ExportLine(NamedTuple):
    seq: int
    reference: str
    payee_name: str
    account: str
    bank_name: str
    amount_fen: int
    purpose: str


# where each layout field sits in the tuple _rows builds for a line
_FIELD_AT = {"reference": 0, "seq": 1, "payee_name": 2, "account": 3, "bank_name": 4,
             "amount": 5, "purpose": 6, "pay_date": 7}
_DIGEST_CHUNK = 20_000


@dataclass(frozen=True)
class Totals:
    count: int
    total_fen: int
    checksum: str


class _Digest:
    """SHA-256 over the rows, each as its cells joined by U+001F and a newline (UTF-8);
    rows are hashed a chunk at a time."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.pending: list[str] = []

    def row(self, cells: Sequence[str]) -> None:
        self.pending.append("\x1f".join(cells))
        if len(self.pending) >= _DIGEST_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.h.update(("\n".join(self.pending) + "\n").encode("utf-8"))
            self.pending = []

    def hexdigest(self) -> str:
        self._flush()
        return self.h.hexdigest()


def trailer(count: int, total_fen: int, checksum: str, width: int) -> list[str]:
    row = [TRAILER_MARK, str(count), fen_to_yuan(total_fen), CHECKSUM_PREFIX + checksum]
    return row + [""] * (width - len(row))


def _rows(layout: Layout, lines: Iterable[ExportLine], pay_date: date,
          totals: list[Totals]) -> Iterator[Sequence[str]]:
    header = [c.header for c in layout.columns]
    digest = _Digest()
    digest.row(header)
    yield header
    day = pay_date.strftime(layout.date_format)
    count = total = 0
    at = [_FIELD_AT[c.field] for c in layout.columns]
    pick = itemgetter(*at) if len(at) > 1 else (lambda v: (v[at[0]],))
    yuan = lru_cache(maxsize=4096)(fen_to_yuan)  # a batch has few distinct amounts
    for line in lines:
        row: Sequence[str] = pick((line.reference, str(line.seq), neutralize(line.payee_name),
                                   line.account, neutralize(line.bank_name),
                                   yuan(line.amount_fen), line.purpose, day))
        digest.row(row)
        count += 1
        total += line.amount_fen
        yield row
    checksum = digest.hexdigest()
    totals.append(Totals(count, total, checksum))
    yield trailer(count, total, checksum, len(header))


def render(layout: Layout, lines: Iterable[ExportLine], pay_date: date) -> tuple[bytes, Totals]:
    """The bank file and its control totals. Deterministic for the same input.

    Payee and bank names are user text: each goes out through ``cells.neutralize`` (a
    leading ``= + - @``, tab or CR gets an apostrophe; a control character becomes a space),
    and the checksum covers the cells as written."""
    totals: list[Totals] = []
    rows = _rows(layout, lines, pay_date, totals)
    data = write_rows(layout, rows)
    return data, totals[0]


def render_columns(layout: Layout, *, number: str, seq: Any, payee_name: Any, account: Any,
                   bank_name: Any, amount_fen: Any, purpose: str,
                   pay_date: date) -> tuple[bytes, Totals] | None:
    """``render`` for a CSV layout, column-wise (Arrow arrays in sequence order): the same
    bytes and totals without a Python object per cell. None when a cell would need quoting
    or neutralising (``cells.neutralize``), or a character is outside the layout's encoding:
    ``render`` then writes (or refuses) the file row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if layout.format != "csv" or len(layout.columns) < 2:
        return None
    n = len(seq)
    amounts = pc.unique(amount_fen)
    yuan = pc.take(pa.array([fen_to_yuan(int(a)) for a in amounts.to_pylist()], pa.string()),
                   pc.index_in(amount_fen, value_set=amounts))
    values = {
        "reference": pc.binary_join_element_wise(
            number + "-", pc.utf8_lpad(pc.cast(seq, pa.string()), 6, "0"), ""),
        "seq": pc.cast(seq, pa.string()), "payee_name": payee_name, "account": account,
        "bank_name": bank_name, "amount": yuan,
        "purpose": pa.array([purpose] * n, pa.string()),
        "pay_date": pa.array([pay_date.strftime(layout.date_format)] * n, pa.string()),
    }
    cols = [values[c.field] for c in layout.columns]
    for name in {c.field for c in layout.columns} & {"payee_name", "bank_name"}:
        if n and pc.any(pc.match_substring_regex(values[name], NEEDS_NEUTRALIZING_RE2)).as_py():
            return None  # user text that must be neutralised: left to render
    for col in cols:
        if n and pc.any(pc.match_substring_regex(col, '[,"\r\n]')).as_py():
            return None  # csv quoting: left to the csv module
    header = [c.header for c in layout.columns]
    digest = hashlib.sha256(("\x1f".join(header) + "\n").encode("utf-8"))
    if n:
        _hash_lines(digest, pc.binary_join_element_wise(*cols, "\x1f"), "\n")
    checksum = digest.hexdigest()
    total = int(pc.sum(amount_fen).as_py() or 0) if n else 0
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow(header)
    tail = io.StringIO()
    csv.writer(tail, lineterminator="\r\n").writerow(trailer(n, total, checksum, len(header)))
    body = bytearray(head.getvalue().encode("utf-8"))
    if n:
        _hash_lines(body, pc.binary_join_element_wise(*cols, ","), "\r\n")
    body += tail.getvalue().encode("utf-8")
    if layout.encoding == "utf-8":
        return bytes(body), Totals(n, total, checksum)
    try:
        return body.decode("utf-8").encode(layout.encoding), Totals(n, total, checksum)
    except UnicodeEncodeError:
        return None  # render names the row


def _hash_lines(sink: Any, rows: Any, end: str) -> None:
    """Feed ``sink`` (a hash or a bytearray) each string of ``rows`` followed by ``end``, in
    UTF-8, straight from Arrow's buffers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(rows, pa.scalar(""), end)
    for chunk in (joined.chunks if isinstance(joined, pa.ChunkedArray) else [joined]):
        offsets = chunk.buffers()[1]
        first, last = (int.from_bytes(offsets[k * 4:k * 4 + 4], "little", signed=True)
                       for k in (chunk.offset, chunk.offset + len(chunk)))
        if last > first:
            data = memoryview(chunk.buffers()[2])[first:last]
            if isinstance(sink, bytearray):
                sink += data
            else:
                sink.update(data)


def write_rows(layout: Layout, rows: Iterable[Sequence[str]]) -> bytes:
    if layout.format == "xlsx":
        return _write_xlsx(layout.sheet, rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for n, row in enumerate(rows, start=1):
        if layout.encoding == "gbk":
            _check_gbk(row, n)
        writer.writerow(row)
    return buf.getvalue().encode(layout.encoding)


def _check_gbk(row: Sequence[str], n: int) -> None:
    for cell in row:
        try:
            cell.encode("gbk")
        except UnicodeEncodeError as exc:
            bad = cell[exc.start:exc.end]
            raise FileRejected(f"第 {n} 行含 GBK 无法表示的字符「{bad}」，请改用 UTF-8 格式",
                               [RowError(n, "整行", f"字符「{bad}」不在 GBK 字符集内")]) from None


def unencodable(layout: Layout, lines: Iterable[ExportLine]) -> list[RowError]:
    """Every line whose payee or bank name the layout's encoding cannot write, each named
    with its file row (the header is row 1), reference and the characters (empty for a
    UTF-8 or XLSX layout). What ``render`` would refuse, all at once, before a release."""
    if layout.format != "csv" or layout.encoding == "utf-8":
        return []
    errors: list[RowError] = []
    for n, line in enumerate(lines, start=2):
        for column, text in (("户名", line.payee_name), ("开户银行", line.bank_name)):
            bad = "".join(dict.fromkeys(ch for ch in neutralize(text) if not _encodes(ch)))
            if bad:
                errors.append(RowError(n, column, f"{line.reference}「{text}」中的「{bad}」"
                                                  f"不在 {layout.encoding.upper()} 字符集内"))
    return errors


def _encodes(ch: str) -> bool:
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _write_xlsx(sheet: str, rows: Iterable[Sequence[str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for row in rows:
        ws.append(string_cells(ws, row))  # text, never a formula
    buf = io.BytesIO()
    wb.save(buf)
    return normalize_xlsx(buf.getvalue())


_DOC_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def normalize_xlsx(data: bytes) -> bytes:
    """Fix the timestamps an XLSX carries (document properties, zip entries)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _DOC_TIME.sub(rb"\g<1>" + FIXED_DOC_TIME.encode() + rb"\g<2>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Reading a return


class ReturnLine(NamedTuple):
    row: int
    reference: str
    account: str
    amount_fen: int
    result: str  # paid / failed / returned
    reason: str


@dataclass(frozen=True)
class ParsedReturn:
    """The lines of a return; ``problems`` with its control row refuse it like bad lines."""

    lines: list[ReturnLine]
    totals: Totals
    problems: list[RowError] = field(default_factory=list)


def decode(data: bytes, encoding: str) -> str:
    for enc in dict.fromkeys(("utf-8-sig", "gb18030" if encoding == "gbk" else "utf-8-sig")):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileRejected(f"文件编码无法识别（此格式应为 {encoding.upper()}）",
                       [RowError(1, "整个文件", f"不是 {encoding.upper()} 编码")])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # a whole number in a numeric cell: 300, not 300.0
        return format(Decimal(str(value)), "f")
    return str(value)


# A return may hold the batch's lines, the header, the control row and a few blank rows; a
# bank may add columns after the layout's.
RETURN_MAX_LINES = 2_000_000
RETURN_MAX_BYTES = 256 * 1024 * 1024
RETURN_EXTRA_ROWS = 100
RETURN_MAX_COLUMNS = 20
MAX_REFERENCE = 64


def return_limits(layout: Layout, max_lines: int | None = None) -> Limits:
    """The bounds of a return for ``layout``: ``max_lines`` (the batch's line count) or
    ``RETURN_MAX_LINES`` detail rows."""
    lines = RETURN_MAX_LINES if max_lines is None else min(max_lines, RETURN_MAX_LINES)
    return Limits(max_rows=lines + RETURN_EXTRA_ROWS,
                  max_cols=max(RETURN_MAX_COLUMNS, len(layout.return_columns)),
                  max_bytes=RETURN_MAX_BYTES, max_unzipped=4 * RETURN_MAX_BYTES)


def read_rows(layout: Layout, data: bytes, max_lines: int | None = None, *,
              columns: Sequence[Column] | None = None,
              sheet: str | None = None) -> list[list[str]]:
    """The rows of a return (or of any file in the layout: ``columns`` and ``sheet`` for
    another of its files, e.g. a statement), as text, within ``return_limits``."""
    limits = return_limits(layout, max_lines)
    headers = [c.header for c in (layout.return_columns if columns is None else columns)]
    if layout.format == "xlsx":
        if len(data) > limits.max_bytes:
            raise FileRejected(f"文件超过 {limits.max_bytes // 1024 // 1024} MB",
                               [RowError(1, "整个文件", "文件过大")])
        if not data.startswith(b"PK"):
            raise FileRejected("不是有效的 XLSX 文件", [RowError(1, "整个文件", "无法读取")])
        cells = read_sheet(data, "xlsx", limits, sheet=sheet or layout.sheet, columns=headers)
        return [[_cell(v) for v in row] for row in cells]
    return read_csv_text(decode(data, layout.encoding), limits, headers)


_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d{1,2})?$")


def read_amount(text: str) -> int:
    """Yuan as banks write them, to fen: ``3600``, ``3600.5``, ``3600.00``, ``3,600.00`` (a
    comma only between groups of three digits) or a numeric XLSX cell (read as ``3600``)."""
    s = text.strip()
    if not s.isascii():
        raise InvalidAmount("应为半角数字（元，最多两位小数）")
    if "," in s and not _GROUPED.match(s):
        raise InvalidAmount(f"金额「{s}」的千位分隔符位置不对（应如 3,600.00）")
    return yuan_to_fen(s)


def _digits(text: str, most: int = 12) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²`` and other scripts' digits)."""
    return text.isascii() and text.isdigit() and len(text) <= most


def parse_return(layout: Layout, data: bytes, max_lines: int | None = None) -> ParsedReturn:
    """Parse a bank return; any unreadable row refuses the whole file with its errors listed
    (the first ``MAX_ERRORS``). ``max_lines``: the batch's line count, which bounds the file.

    The control row is the bank's: ``合计, count, total[, SHA256:checksum]``, or none at all.
    Whatever it declares is checked (the checksum only when it carries one); disagreements
    come back as ``problems``, so that they are reported together with the lines that do not
    match the batch. Without a control row the totals are the detail rows'.
    """
    rows = read_rows(layout, data, max_lines)
    expected = [c.header for c in layout.return_columns]
    width = len(expected)
    if not rows or [c.strip() for c in rows[0][:width]] != expected:
        raise FileRejected("回盘文件表头不符，应为：" + ",".join(expected),
                           [RowError(1, "表头", "应为 " + ",".join(expected))])
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    control: list[str] | None = None
    if len(rows) >= 2 and rows[-1][0].strip() == TRAILER_MARK:
        control = [c.strip() for c in rows.pop()] + ["", "", ""]
    trailer_n = len(rows) + 1
    index = {c.field: i for i, c in enumerate(layout.return_columns)}
    digest = _Digest()
    digest.row([c for c in rows[0][:width]])
    out: list[ReturnLine] = []
    errors: list[RowError] = []
    total = detail = 0
    to_fen = lru_cache(maxsize=4096)(read_amount)  # a batch has few distinct amounts
    words = layout.result_words
    at_ref, at_acct, at_result, at_amount = (index["reference"], index["account"],
                                             index["result"], index["amount"])
    at_reason = index.get("reason")
    for n, row in enumerate(rows[1:], start=2):
        if too_many(errors):
            break  # enough to show; the rest of the file is not looked at
        digest.row(row[:width])
        if not "".join(row).strip():
            continue
        detail += 1
        if len(row) < width:
            errors.append(RowError(n, "整行", f"应有 {width} 列，实有 {len(row)} 列"))
            continue
        ref = row[at_ref].strip()
        account = row[at_acct].strip().replace(" ", "")
        word = row[at_result].strip()
        reason = row[at_reason].strip() if at_reason is not None else ""
        if not (ref.isascii() and ref.isprintable()) or len(ref) > MAX_REFERENCE:
            errors.append(RowError(n, "流水号", f"「{ref[:MAX_REFERENCE]}」不是银行文件中的流水号"
                                               "（应为半角字母、数字和连字符）"))
            continue
        try:
            fen = to_fen(row[at_amount])
        except InvalidAmount as exc:
            errors.append(RowError(n, "金额", str(exc)))
            continue
        result = words.get(word.upper())
        if result is None:
            allowed = "、".join(w for r in RESULTS for w in layout.results[r][:1])
            errors.append(RowError(n, "处理结果", f"「{word}」应为 {allowed} 之一"))
            continue
        if result != "paid" and not reason:
            errors.append(RowError(n, "失败原因", "未成功的笔须有银行说明"))
            continue
        total += fen
        out.append(ReturnLine(n, ref, account, fen, result, reason))
    checksum = digest.hexdigest()
    if errors:
        raise rejected(f"回盘文件有 {len(errors)} 处错误，整个文件未导入", errors)
    if control is None:
        return ParsedReturn(out, Totals(detail, total, checksum))
    totals, problems = _control_row(control, trailer_n, detail, total, checksum)
    return ParsedReturn(out, totals, problems)


def _control_row(trailer_row: list[str], trailer_n: int, detail: int, total: int,
                 checksum: str) -> tuple[Totals, list[RowError]]:
    """The declared totals of a return and where they disagree with its detail rows; a
    checksum is checked only when the row carries one."""
    try:
        if not _digits(trailer_row[1]):
            raise ValueError(trailer_row[1])
        declared_count = int(trailer_row[1])
        declared_total = read_amount(trailer_row[2])
    except (ValueError, InvalidAmount):
        raise FileRejected("回盘文件控制行无法识别", [
            RowError(trailer_n, "合计", "控制行的笔数或金额无法识别")]) from None
    problems: list[RowError] = []
    if declared_count != detail:
        problems.append(RowError(trailer_n, "笔数",
                                 f"控制行笔数 {declared_count} 与明细 {detail} 笔不符"))
    if declared_total != total:
        problems.append(RowError(trailer_n, "金额", f"控制行金额 {fen_to_yuan(declared_total)} "
                                                   f"与明细合计 {fen_to_yuan(total)} 不符"))
    declared_sum = trailer_row[3]
    if declared_sum and declared_sum.removeprefix(CHECKSUM_PREFIX).lower() != checksum:
        problems.append(RowError(trailer_n, "校验码", "校验码与文件内容不符（文件可能被改动）"))
    return Totals(declared_count, declared_total, checksum), problems


# ---------------------------------------------------------------------------------------------
# Reading a bank statement (对账单)


class StatementLine(NamedTuple):
    row: int
    reference: str
    account: str  # "" when the layout's statement has no account column
    debit_fen: int
    credit_fen: int


@dataclass(frozen=True)
class ParsedStatement:
    lines: list[StatementLine]
    debit_fen: int
    credit_fen: int


def parse_statement(layout: Layout, data: bytes, max_lines: int | None = None) -> ParsedStatement:
    """Parse a bank statement in the layout's ``statement_columns``: every row of the account
    (other transactions too), debits and credits in yuan as the bank writes them. A final
    ``合计`` row, if any, declares the debit total (and the credit total), checked here. Any
    unreadable row refuses the whole file with its errors listed."""
    cols = layout.statement_columns
    if not cols:
        raise ActionError(f"银行文件格式「{layout.name}」未定义对账单格式")
    rows = read_rows(layout, data, max_lines, columns=cols, sheet=layout.statement_sheet)
    expected = [c.header for c in cols]
    width = len(expected)
    if not rows or [c.strip() for c in rows[0][:width]] != expected:
        raise FileRejected("对账单表头不符，应为：" + ",".join(expected),
                           [RowError(1, "表头", "应为 " + ",".join(expected))])
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    control = None
    if len(rows) >= 2 and rows[-1][0].strip() == TRAILER_MARK:
        control = [c.strip() for c in rows.pop()]
    at = {c.field: i for i, c in enumerate(cols)}
    header = {c.field: c.header for c in cols}
    out: list[StatementLine] = []
    errors: list[RowError] = []
    sums = {"debit": 0, "credit": 0}
    for n, row in enumerate(rows[1:], start=2):
        if too_many(errors):
            break
        if not "".join(row).strip():
            continue
        if len(row) < width:
            errors.append(RowError(n, "整行", f"应有 {width} 列，实有 {len(row)} 列"))
            continue
        money: dict[str, int] = {}
        for name in ("debit", "credit"):
            text = row[at[name]].strip() if name in at else ""
            try:
                money[name] = read_amount(text) if text else 0
                if money[name] < 0:
                    raise InvalidAmount("不能为负数")
            except InvalidAmount as exc:
                errors.append(RowError(n, header[name], str(exc)))
        if len(money) < 2:
            continue
        if not (money["debit"] or money["credit"]):
            errors.append(RowError(n, header["debit"], "借方、贷方金额均为空或为零"))
            continue
        ref = row[at["reference"]].strip()
        account = row[at["account"]].strip().replace(" ", "") if "account" in at else ""
        sums["debit"] += money["debit"]
        sums["credit"] += money["credit"]
        out.append(StatementLine(n, ref, account, money["debit"], money["credit"]))
    if control is not None:
        for name in ("debit", "credit"):
            text = control[at[name]] if name in at and at[name] < len(control) else ""
            try:
                declared = read_amount(text) if text else None
            except InvalidAmount as exc:
                errors.append(RowError(len(rows) + 1, f"合计{header[name]}", str(exc)))
                continue
            if declared is not None and declared != sums[name]:
                errors.append(RowError(len(rows) + 1, f"合计{header[name]}",
                                       f"合计 {fen_to_yuan(declared)} 与明细合计 "
                                       f"{fen_to_yuan(sums[name])} 不符"))
    if errors:
        raise rejected(f"对账单有 {len(errors)} 处错误，整个文件未导入", errors)
    return ParsedStatement(out, sums["debit"], sums["credit"])


@dataclass(frozen=True)
class ReturnColumns:
    """The detail rows of a well-formed CSV return, column by column (Arrow arrays): what
    ``parse_return`` gives as lines, for a million lines without a Python object per row."""

    reference: Any  # pa.Array of str, stripped
    account: Any  # str, stripped, spaces removed
    amount_fen: Any  # int64
    result: Any  # str: paid / failed / returned
    reason: Any  # str, stripped
    totals: Totals

    def __len__(self) -> int:
        return len(self.reference)


def read_return_columns(layout: Layout, data: bytes,
                        max_lines: int | None = None) -> ReturnColumns | None:
    """A CSV return read column-wise, or None when the file needs ``parse_return``'s row by
    row reading to say what is wrong with it (or is XLSX): any row that is short, long,
    blank or unreadable, an unknown result word, a failure without the bank's reason, or a
    control row that disagrees, a file past ``return_limits``, an over-long or non-ASCII
    reference or amount. Whenever this gives columns, ``parse_return`` gives the same lines
    and totals with no problems."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    limits = return_limits(layout, max_lines)
    if layout.format != "csv" or len(data) > limits.max_bytes:
        return None
    expected = [c.header for c in layout.return_columns]
    width = len(expected)
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(decode(data, layout.encoding).encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, FileRejected):
        return None
    if not 2 <= table.num_rows <= limits.max_rows:
        return None
    head = [table.column(n)[0].as_py() for n in names]
    tail = [table.column(n)[table.num_rows - 1].as_py() for n in names]
    if [c.strip() for c in head] != expected or tail[0].strip() != TRAILER_MARK:
        return None
    body = table.slice(1, table.num_rows - 2)
    cols = [body.column(n) for n in names]
    if len(body) and max(pc.max(pc.utf8_length(c)).as_py() or 0
                         for c in cols) > limits.max_cell_chars:
        return None  # an over-long cell: parse_return names it
    trimmed = [pc.utf8_trim_whitespace(c) for c in cols]
    if len(body) and pc.any(pc.equal(pc.binary_join_element_wise(*trimmed, ""), "")).as_py():
        return None  # a blank row: parse_return passes over it and says which rows are bad
    digest = hashlib.sha256(("\x1f".join(head) + "\n").encode("utf-8"))
    if len(body):
        _hash_lines(digest, pc.binary_join_element_wise(*cols, "\x1f"), "\n")
    at = {c.field: i for i, c in enumerate(layout.return_columns)}
    words = layout.result_words
    result_raw = pc.utf8_upper(trimmed[at["result"]])
    known = pa.array(sorted(words))
    if not pc.all(pc.is_in(result_raw, value_set=known)).as_py():
        return None
    result = pc.take(pa.array([words[w] for w in known.to_pylist()]),
                     pc.index_in(result_raw, value_set=known))
    reason = trimmed[at["reason"]] if "reason" in at else pa.chunked_array(
        [pa.array([""] * len(body))])
    missing_reason = pc.and_(pc.not_equal(result, "paid"), pc.equal(reason, ""))
    if len(body) and pc.any(missing_reason).as_py():
        return None
    amounts = pc.unique(cols[at["amount"]])
    try:
        fen_of = pa.array([read_amount(a) for a in amounts.to_pylist()], pa.int64())
    except InvalidAmount:
        return None
    fen = pc.take(fen_of, pc.index_in(cols[at["amount"]], value_set=amounts))
    total = int(pc.sum(fen).as_py() or 0)
    try:
        totals, problems = _control_row([c.strip() for c in tail] + ["", "", ""],
                                        table.num_rows, len(body), total, digest.hexdigest())
    except FileRejected:
        return None
    if problems:
        return None
    account = pc.replace_substring(trimmed[at["account"]], " ", "")
    return ReturnColumns(trimmed[at["reference"]], account, fen, result, reason, totals)


def render_return(layout: Layout, lines: Iterable[tuple[str, str, int, str, str]]) -> bytes:
    """A return file in a layout: (reference, account, amount_fen, result, reason) per line."""

    def rows() -> Iterator[list[str]]:
        header = [c.header for c in layout.return_columns]
        digest = _Digest()
        digest.row(header)
        yield header
        count = total = 0
        for ref, account, fen, result, reason in lines:
            values = {"reference": ref, "account": account, "amount": fen_to_yuan(fen),
                      "result": layout.result_word(result), "reason": neutralize(reason)}
            row = [values[c.field] for c in layout.return_columns]
            digest.row(row)
            count += 1
            total += fen
            yield row
        yield trailer(count, total, digest.hexdigest(), len(header))

    return write_rows(layout, rows())
