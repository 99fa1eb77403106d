"""Bounded reading of uploaded spreadsheets: XLSX (first or named sheet) or CSV.

Every upload read here (registry import, bulk intake, bank returns) is checked before it is
parsed, so that a small file cannot make the server allocate or compute without bound:

* the upload's size;
* for XLSX, the zip: number of members, their declared total size and compression ratio, and
  every member is decompressed once in bounded chunks (a corrupt or truncated member is
  refused here, not inside the spreadsheet library);
* for XLSX, the sheet's declared ``<dimension ref=...>`` and the real extent of its cells (the
  largest row and column any cell with content names), streamed, so that a sheet whose only
  cells are ``A1`` and ``XFD1048576`` is refused after reading a few bytes instead of making
  the spreadsheet reader allocate the 16,384 x 1,048,576 grid between them;
* for CSV: LF, CRLF and CR-only line endings, rows no wider and no longer than the limits,
  stopping at the first row past the limit;
* every cell's length.

A refusal is a ``FileRejected`` with a Chinese message naming the row (and column) where
there is one. Nothing else is done with a refused file.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from huimin.errors import FileRejected, RowError

MAX_ERRORS = 500  # row errors collected from one file; the rest are not looked for
MORE_ERRORS = f"还有更多错误，仅显示前 {MAX_ERRORS} 条"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one kind of upload may hold. Rows count the header and are numbered as in the
    file (a blank row counts); columns are those with content."""

    max_rows: int = 100_000
    max_cols: int = 50
    max_cell_chars: int = 1000
    max_bytes: int = 20 * 1024 * 1024
    # XLSX: the members together, decompressed; one member's size over its compressed size
    max_unzipped: int = 256 * 1024 * 1024
    max_ratio: int = 200
    max_members: int = 100


def too_many(errors: Sequence[RowError]) -> bool:
    """True once ``MAX_ERRORS`` row errors are collected: the caller stops looking."""
    return len(errors) >= MAX_ERRORS


def rejected(message: str, errors: list[RowError]) -> FileRejected:
    """A refusal listing at most ``MAX_ERRORS`` errors; says so when there were more."""
    if len(errors) >= MAX_ERRORS:
        return FileRejected(f"{message}（{MORE_ERRORS}）", errors[:MAX_ERRORS])
    return FileRejected(message, errors)


def column_letter(n: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _refuse(reason: str, row: int | None = None, column: str = "整个文件") -> FileRejected:
    if row is None:
        return FileRejected(reason, [RowError(1, column, reason)])
    return FileRejected(f"第 {row} 行「{column}」：{reason}", [RowError(row, column, reason)])


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def read_upload(upload: Any, max_bytes: int) -> bytes:
    """An uploaded file's bytes, refused before they are read when it declares more than
    ``max_bytes``, and never reading more than one byte past the limit."""
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise _refuse(f"文件超过 {_size(max_bytes)}")
    data = bytes(upload.read(max_bytes + 1))
    if len(data) > max_bytes:
        raise _refuse(f"文件超过 {_size(max_bytes)}")
    return data


def read_sheet(data: bytes, kind: str, limits: Limits, *, sheet: str | None = None,
               encodings: Sequence[str] = ("utf-8-sig", "gb18030"),
               columns: Sequence[str] = ()) -> list[list[Any]]:
    """The rows of an XLSX (``sheet`` if it has one by that name, else the first) or a CSV,
    header included, within ``limits``; XLSX cells as the spreadsheet holds them (text,
    numbers, dates), CSV cells as text. ``columns`` names the columns in errors."""
    if len(data) > limits.max_bytes:
        raise _refuse(f"文件超过 {_size(limits.max_bytes)}")
    if kind == "xlsx":
        rows = _read_xlsx(data, limits, sheet)
        _check_cells(enumerate(rows, start=1), limits, columns)
        return rows
    if kind == "csv":
        return read_csv_text(decode_csv(data, encodings), limits, columns)
    raise ValueError(kind)


def read_csv_text(text: str, limits: Limits, columns: Sequence[str] = ()) -> list[list[Any]]:
    """The rows of a decoded CSV within ``limits`` (see ``read_sheet``)."""
    if len(text) > limits.max_bytes:
        raise _refuse(f"文件超过 {_size(limits.max_bytes)}")
    return _read_csv(text, limits, columns)


def decode_csv(data: bytes, encodings: Sequence[str]) -> str:
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    names = "、".join(dict.fromkeys(e.split("-sig")[0].upper().replace("GB18030", "GBK")
                                    for e in encodings))
    raise _refuse(f"CSV 文件编码无法识别（应为 {names}）")


def _label(columns: Sequence[str], i: int) -> str:
    return columns[i] if i < len(columns) and columns[i] else f"第 {column_letter(i + 1)} 列"


def _check_cells(rows: Iterable[tuple[int, list[Any]]], limits: Limits,
                 columns: Sequence[str]) -> None:
    """Refuse cells (of the numbered rows) longer than the limit, naming each."""
    errors: list[RowError] = []
    cap = limits.max_cell_chars
    for n, row in rows:
        for i, value in enumerate(row):
            if isinstance(value, str) and len(value) > cap:
                errors.append(RowError(n, _label(columns, i),
                                       f"内容有 {len(value)} 个字符，超过 {cap} 个"))
                if too_many(errors):
                    raise rejected("文件中有超长的单元格，整个文件未导入", errors)
    if errors:
        raise rejected("文件中有超长的单元格，整个文件未导入", errors)


# ------------------------------------------------------------------------------------ CSV

def _read_csv(text: str, limits: Limits, columns: Sequence[str]) -> list[list[Any]]:
    # newline="": a line ends at LF, CRLF or a lone CR, and a quoted cell may hold any of them
    longest = limits.max_cols * (limits.max_cell_chars + 3) + 2
    lines = io.StringIO(text, newline="")

    def bounded() -> Iterator[str]:
        # a line too long to hold the allowed cells is refused before the csv module reads
        # it (its fields are limited to 131,072 characters; a line of commas makes a list
        # of millions of cells)
        for k, line in enumerate(lines, start=1):
            if len(line) > longest:
                long_cell = re.search(f'[^,"\r\n]{{{limits.max_cell_chars + 1},}}', line)
                if long_cell is not None:
                    n = len(long_cell.group())
                    raise _refuse(f"内容有 {n} 个字符，超过 {limits.max_cell_chars} 个", k,
                                  _label(columns, line[:long_cell.start()].count(",")))
                raise _refuse(f"超过 {limits.max_cols} 列", k, "整行")
            yield line

    rows: list[list[Any]] = []
    long_cells: list[tuple[int, list[Any]]] = []
    reader = csv.reader(bounded())
    cap = limits.max_cell_chars
    n = 0
    try:
        for n, row in enumerate(reader, start=1):
            if row and max(map(len, row)) > cap:
                long_cells.append((n, row))
            if len(row) > limits.max_cols:
                if any(c.strip() for c in row[limits.max_cols:]):
                    raise _refuse(f"有 {len(row)} 列，超过 {limits.max_cols} 列", n, "整行")
                del row[limits.max_cols:]
            if n > limits.max_rows:
                if any(c.strip() for c in row):
                    raise _refuse(f"超过 {limits.max_rows} 行的上限，请分成几个文件上传",
                                  n, "整行")
                continue  # blank rows after the last one: not kept
            rows.append(row)
    except csv.Error as exc:
        raise _refuse(f"CSV 格式错误（{exc}）", n + 1, "整行") from None
    if long_cells:
        _check_cells(long_cells, limits, columns)
    return rows


# ----------------------------------------------------------------------------------- XLSX

# a cell's start tag (any namespace prefix); with its reference when it names one
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_CELL_REF = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?(?<![\w:.-])r\s*=\s*[\"']([A-Z]{1,3})([0-9]{1,7})[\"']"
    rb"[^>]*?(/?)>")
_DIMENSION = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?ref\s*=\s*[\"']\$?([A-Z]{1,3})\$?([0-9]{1,7})"
    rb"(?::\$?([A-Z]{1,3})\$?([0-9]{1,7}))?[\"']")


class _Extent:
    """The largest row and column the cells with content of one XML member name, found by
    scanning its text chunk by chunk (each chunk ends at a tag's end)."""

    def __init__(self, member: str, limits: Limits) -> None:
        self.member = member
        self.limits = limits
        self.pending = b""
        self.seen_dimension = False

    def feed(self, chunk: bytes, last: bool = False) -> None:
        text = self.pending + chunk
        cut = len(text) if last else text.rfind(b">") + 1
        self.pending = text[cut:]
        if len(self.pending) > 4 * _CHUNK:
            raise _refuse(f"Excel 文件内容无法识别（{self.member} 中有过长的标记）")
        self._scan(text[:cut])

    def _scan(self, text: bytes) -> None:
        if not self.seen_dimension:
            m = _DIMENSION.search(text)
            if m is not None:
                self.seen_dimension = True
                col, row = (m.group(3), m.group(4)) if m.group(3) else (m.group(1), m.group(2))
                self._check(_column_number(col), int(row), "表格声明的范围（dimension）")
        cells = len(_CELL.findall(text))
        if not cells:
            return
        refs = _CELL_REF.findall(text)
        if len(refs) != cells:
            raise _refuse("Excel 文件中有单元格没有位置信息，请用 Excel 或 WPS 另存后重新上传")
        filled = [(c, r) for c, r, empty in refs if not empty]
        if not filled:
            return
        widest = max({c for c, _r in filled}, key=lambda c: (len(c), c))
        self._check(_column_number(widest), max(int(r) for _c, r in filled), "单元格")

    def _check(self, col: int, row: int, what: str) -> None:
        lim = self.limits
        if col > lim.max_cols:
            raise _refuse(f"{what}宽到第 {column_letter(col)} 列（第 {col} 列），"
                          f"超过 {lim.max_cols} 列的上限")
        if row > lim.max_rows:
            raise _refuse(f"{what}长到第 {row} 行，超过 {lim.max_rows} 行的上限，"
                          "请分成几个文件上传")


def check_xlsx(data: bytes, limits: Limits) -> None:
    """Refuse an XLSX whose zip or sheets exceed ``limits`` or do not decompress."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _refuse("不是有效的 Excel（.xlsx）文件，无法解压") from None
    if len(infos) > limits.max_members:
        raise _refuse(f"Excel 文件中有 {len(infos)} 个部件，超过 {limits.max_members} 个")
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped:
        raise _refuse(f"Excel 文件解压后有 {_size(total)}，超过 {_size(limits.max_unzipped)}")
    for info in infos:
        if info.file_size > _CHUNK and info.file_size > limits.max_ratio * max(
                info.compress_size, 1):
            raise _refuse(f"Excel 文件的压缩比异常（{info.filename} 解压后是压缩时的 "
                          f"{info.file_size // max(info.compress_size, 1)} 倍），疑为压缩炸弹")
    for info in infos:
        extent = _Extent(info.filename, limits) if info.filename.endswith(".xml") else None
        try:
            with archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    if extent is not None:
                        extent.feed(chunk)
            if extent is not None:
                extent.feed(b"", last=True)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError):
            # a corrupt or truncated member, a bad checksum, an unknown compression, encryption
            raise _refuse(f"Excel 文件已损坏（{info.filename} 无法解压）") from None


def _read_xlsx(data: bytes, limits: Limits, sheet: str | None) -> list[list[Any]]:
    check_xlsx(data, limits)
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = wb.sheet_names
        if not names:
            raise _refuse("Excel 文件中没有工作表")
        ws = (wb.get_sheet_by_name(sheet) if sheet is not None and sheet in names
              else wb.get_sheet_by_index(0))
        rows: list[list[Any]] = ws.to_python(skip_empty_area=False)
    except FileRejected:
        raise
    except Exception as exc:  # calamine's own error types for files it cannot read
        raise _refuse(f"无法读取 Excel 文件：{exc}") from None
    except BaseException as exc:  # a panic inside the reader comes up as a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        raise _refuse("无法读取 Excel 文件（内容损坏）") from None
    return rows
