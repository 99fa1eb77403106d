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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from huimin.errors import ActionError, FileRejected, RowError
from huimin.lib.money import InvalidAmount, fen_to_yuan, yuan_to_fen

LAYOUT_DIR = Path(__file__).with_name("layouts")
DEFAULT_LAYOUT = "standard-csv"
TRAILER_MARK = "合计"
CHECKSUM_PREFIX = "SHA256:"
EXPORT_FIELDS = {"reference", "seq", "payee_name", "account", "bank_name", "amount",
                 "purpose", "pay_date"}
RETURN_FIELDS = {"reference", "account", "amount", "result", "reason"}
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

    @property
    def extension(self) -> str:
        return self.format

    @property
    def content_type(self) -> str:
        if self.format == "xlsx":
            return XLSX_TYPE
        return f"text/csv; charset={self.encoding}"

    def result_of(self, word: str) -> str | None:
        w = word.strip().upper()
        for result, words in self.results.items():
            if w in {x.upper() for x in words}:
                return result
        return None

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
    return Layout(code=str(doc["code"]), name=str(doc.get("name", doc["code"])), format=fmt,
                  encoding=enc, date_format=date_format, columns=columns,
                  return_columns=returns, results=results,
                  sheet=str(doc.get("sheet", "Sheet1")))


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


@dataclass(frozen=True)
class ExportLine:
    seq: int
    reference: str
    payee_name: str
    account: str
    bank_name: str
    amount_fen: int
    purpose: str


@dataclass(frozen=True)
class Totals:
    count: int
    total_fen: int
    checksum: str


class _Digest:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def row(self, cells: list[str]) -> None:
        self.h.update(("\x1f".join(cells) + "\n").encode("utf-8"))

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def trailer(count: int, total_fen: int, checksum: str, width: int) -> list[str]:
    row = [TRAILER_MARK, str(count), fen_to_yuan(total_fen), CHECKSUM_PREFIX + checksum]
    return row + [""] * (width - len(row))


def _rows(layout: Layout, lines: Iterable[ExportLine], pay_date: date,
          totals: list[Totals]) -> Iterator[list[str]]:
    header = [c.header for c in layout.columns]
    digest = _Digest()
    digest.row(header)
    yield header
    day = pay_date.strftime(layout.date_format)
    count = total = 0
    for line in lines:
        values = {"reference": line.reference, "seq": str(line.seq),
                  "payee_name": line.payee_name, "account": line.account,
                  "bank_name": line.bank_name, "amount": fen_to_yuan(line.amount_fen),
                  "purpose": line.purpose, "pay_date": day}
        row = [values[c.field] for c in layout.columns]
        digest.row(row)
        count += 1
        total += line.amount_fen
        yield row
    checksum = digest.hexdigest()
    totals.append(Totals(count, total, checksum))
    yield trailer(count, total, checksum, len(header))


def render(layout: Layout, lines: Iterable[ExportLine], pay_date: date) -> tuple[bytes, Totals]:
    """The bank file and its control totals. Deterministic for the same input."""
    totals: list[Totals] = []
    rows = _rows(layout, lines, pay_date, totals)
    data = write_rows(layout, rows)
    return data, totals[0]


def write_rows(layout: Layout, rows: Iterable[list[str]]) -> bytes:
    if layout.format == "xlsx":
        return _write_xlsx(layout.sheet, rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for n, row in enumerate(rows, start=1):
        if layout.encoding == "gbk":
            _check_gbk(row, n)
        writer.writerow(row)
    return buf.getvalue().encode(layout.encoding)


def _check_gbk(row: list[str], n: int) -> None:
    for cell in row:
        try:
            cell.encode("gbk")
        except UnicodeEncodeError as exc:
            bad = cell[exc.start:exc.end]
            raise FileRejected(f"第 {n} 行含 GBK 无法表示的字符「{bad}」，请改用 UTF-8 格式",
                               [RowError(n, "整行", f"字符「{bad}」不在 GBK 字符集内")]) from None


def _write_xlsx(sheet: str, rows: Iterable[list[str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for row in rows:
        ws.append(row)
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


@dataclass(frozen=True)
class ReturnLine:
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
        return format(Decimal(str(value)), "f")
    return str(value)


def read_rows(layout: Layout, data: bytes) -> list[list[str]]:
    if layout.format == "xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise FileRejected("不是有效的 XLSX 文件",
                               [RowError(1, "整个文件", "无法读取")]) from None
        ws = wb[layout.sheet] if layout.sheet in wb.sheetnames else wb.worksheets[0]
        rows = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    return list(csv.reader(io.StringIO(decode(data, layout.encoding))))


def parse_return(layout: Layout, data: bytes) -> ParsedReturn:
    """Parse a bank return; any unreadable row refuses the whole file with every error listed.

    Disagreements of the control row (count, total, checksum) come back as ``problems``, so
    that they are reported together with the lines that do not match the batch.
    """
    rows = read_rows(layout, data)
    expected = [c.header for c in layout.return_columns]
    width = len(expected)
    if not rows or [c.strip() for c in rows[0][:width]] != expected:
        raise FileRejected("回盘文件表头不符，应为：" + ",".join(expected),
                           [RowError(1, "表头", "应为 " + ",".join(expected))])
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if len(rows) < 2 or rows[-1][0].strip() != TRAILER_MARK:
        raise FileRejected("回盘文件缺少末行控制数（合计、笔数、金额、校验码）",
                           [RowError(len(rows) + 1, "合计", "缺少控制行")])
    trailer_row = [c.strip() for c in rows[-1]] + ["", "", ""]
    trailer_n = len(rows)
    index = {c.field: i for i, c in enumerate(layout.return_columns)}
    digest = _Digest()
    digest.row([c for c in rows[0][:width]])
    out: list[ReturnLine] = []
    errors: list[RowError] = []
    total = detail = 0
    for n, row in enumerate(rows[1:-1], start=2):
        digest.row(list(row[:width]))
        if not any(c.strip() for c in row):
            continue
        detail += 1
        if len(row) < width:
            errors.append(RowError(n, "整行", f"应有 {width} 列，实有 {len(row)} 列"))
            continue
        ref = row[index["reference"]].strip()
        account = row[index["account"]].strip().replace(" ", "")
        word = row[index["result"]].strip()
        reason = row[index["reason"]].strip() if "reason" in index else ""
        try:
            fen = yuan_to_fen(row[index["amount"]])
        except InvalidAmount as exc:
            errors.append(RowError(n, "金额", str(exc)))
            continue
        result = layout.result_of(word)
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
        raise FileRejected(f"回盘文件有 {len(errors)} 处错误，整个文件未导入", errors)
    try:
        declared_count = int(trailer_row[1])
        declared_total = yuan_to_fen(trailer_row[2])
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
    if trailer_row[3].removeprefix(CHECKSUM_PREFIX).lower() != checksum:
        problems.append(RowError(trailer_n, "校验码", "校验码与文件内容不符（文件可能被改动）"))
    return ParsedReturn(out, Totals(declared_count, declared_total, checksum), problems)


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
                      "result": layout.result_word(result), "reason": reason}
            row = [values[c.field] for c in layout.return_columns]
            digest.row(row)
            count += 1
            total += fen
            yield row
        yield trailer(count, total, digest.hexdigest(), len(header))

    return write_rows(layout, rows())
