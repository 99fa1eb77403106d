"""Reading registry input files (CSV or Parquet) and writing result files atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from huimin.rules.columns import COLUMNS, REQUIRED_COLUMNS, Column
from huimin.rules.errors import InputError

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(), "date": pa.date32(), "int": pa.int64(), "bool": pa.bool_()}
TRUE_WORDS = ("true", "True", "TRUE", "1", "是", "t", "yes")
FALSE_WORDS = ("false", "False", "FALSE", "0", "否", "f", "no")

RESULT_SCHEMA = pa.schema([
    ("person_id", pa.string()), ("eligible", pa.bool_()), ("months", pa.int64()),
    ("amount_yuan", pa.decimal128(18, 2)), ("reasons", pa.string()),
    ("rule_version", pa.string()),
])


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(str(path), "unknown file type: use a .csv or .parquet file")


def required_columns(needed: Iterable[str]) -> list[str]:
    """Columns an input file must have: the base ones plus those the program reads
    (except the optional ones, read as blank when absent)."""
    out = list(REQUIRED_COLUMNS)
    for n in sorted(set(needed)):
        if n not in out and not COLUMNS[n].optional:
            out.append(n)
    return out


def read_registry(path: Path, needed: Iterable[str]) -> pa.Table:
    """Read and validate an input file; return a table with every registry-view column
    (typed; absent optional columns as NULL) plus ``_row`` (1-based data row number)."""
    fmt = file_format(path)
    if not path.exists():
        raise InputError(str(path), "file does not exist")
    required = required_columns(needed)
    if fmt == "csv":
        table = _read_csv(path)
        line_offset = 1  # the header is line 1
    else:
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(str(path), f"not a readable Parquet file: {exc}") from None
        line_offset = None
    present = set(table.column_names)
    for name in required:
        if name not in present:
            raise InputError(str(path), f"missing required column '{name}'",
                             line=1 if fmt == "csv" else None, column=name)
    arrays: dict[str, pa.Array] = {}
    n = table.num_rows
    for name, col in COLUMNS.items():
        if name in present:
            arrays[name] = _convert(path, col, table.column(name), line_offset)
        else:
            arrays[name] = pa.nulls(n, ARROW_TYPES[col.type])
    arrays["_row"] = pa.array(range(1, n + 1), pa.int64())
    return pa.table(arrays)


def _read_csv(path: Path) -> pa.Table:
    try:
        with path.open("rb") as fh:
            header = fh.readline().decode("utf-8-sig").strip().split(",")
        header = [h.strip().strip('"') for h in header]
        types = {h: pa.string() for h in header}
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        raise InputError(str(path), f"not a readable CSV file: {exc}") from None


def _fail(path: Path, col: Column, mask: pa.Array, values: pa.Array | pa.ChunkedArray,
          line_offset: int | None, reason: str) -> None:
    idx = pc.index(mask, True).as_py()
    if idx is None or idx < 0:
        return
    row = idx + 1
    value = values[idx].as_py()
    raise InputError(str(path), reason.format(value=value), row=row,
                     line=row + line_offset if line_offset is not None else None,
                     column=col.name)


def _convert(path: Path, col: Column, data: pa.ChunkedArray,
             line_offset: int | None) -> pa.Array:
    arr = data.combine_chunks()
    target = ARROW_TYPES[col.type]
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_string(arr.type):
        if line_offset is not None:  # CSV cells are trimmed; Parquet values taken as they are
            arr = pc.utf8_trim_whitespace(arr)
        blank = pc.fill_null(pc.equal(arr, ""), True)
        arr = pc.if_else(blank, pa.scalar(None, pa.string()), arr)
        if col.type == "date":
            ok_form = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$")
            _fail(path, col, pc.fill_null(pc.invert(ok_form), False), arr, line_offset,
                  "'{value}' is not a date in YYYY-MM-DD format")
            parsed = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
            # a date that does not exist (2023-02-30) must not roll over to another day
            again = pc.strftime(parsed, format="%Y-%m-%d")
            bad = pc.and_(pc.is_valid(arr), pc.fill_null(pc.not_equal(again, arr), True))
            _fail(path, col, bad, arr, line_offset, "'{value}' is not a valid date")
            out = parsed.cast(pa.date32())
        elif col.type == "int":
            ok = pc.match_substring_regex(arr, r"^-?\d{1,15}$")
            _fail(path, col, pc.fill_null(pc.invert(ok), False), arr, line_offset,
                  "'{value}' is not an integer")
            out = arr.cast(pa.int64())
        elif col.type == "bool":
            is_true = pc.is_in(arr, value_set=pa.array(TRUE_WORDS))
            is_false = pc.is_in(arr, value_set=pa.array(FALSE_WORDS))
            bad = pc.and_(pc.is_valid(arr), pc.invert(pc.or_(is_true, is_false)))
            _fail(path, col, bad, arr, line_offset, "'{value}' is not true or false")
            out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.bool_()), is_true)
        else:
            out = arr
    else:
        try:
            if col.type == "date" and not pa.types.is_date(arr.type):
                raise pa.ArrowInvalid("not a date")
            if col.type == "int" and not pa.types.is_integer(arr.type):
                raise pa.ArrowInvalid("not an integer")
            if col.type == "bool" and not pa.types.is_boolean(arr.type):
                raise pa.ArrowInvalid("not a boolean")
            if col.type == "str" and not pa.types.is_integer(arr.type):
                raise pa.ArrowInvalid("not text")
            out = arr.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(str(path), f"has type {arr.type}; expected {col.type}",
                             column=col.name) from None
    if col.always_required:
        _fail(path, col, pc.is_null(out), out, line_offset, "a value is required")
    if col.type == "str":
        if col.digits is not None:
            ok = pc.match_substring_regex(out, rf"^\d{{{col.digits}}}$")
            _fail(path, col, pc.fill_null(pc.invert(ok), False), out, line_offset,
                  f"'{{value}}' is not a {col.digits}-digit code")
        if col.choices is not None:
            ok = pc.is_in(out, value_set=pa.array(col.choices))
            bad = pc.and_(pc.is_valid(out), pc.invert(ok))
            _fail(path, col, bad, out, line_offset,
                  "'{value}' is not one of " + ", ".join(col.choices))
    return out


def results_table(person_id: pa.Array, eligible: pa.Array, months: pa.Array,
                  amount_fen: pa.Array, reasons: pa.Array, rule_version: pa.Array) -> pa.Table:
    """The result table in the output layout (amount in yuan with two decimals)."""
    fen = amount_fen.cast(pa.int64()).to_pylist()
    yuan = pa.array([None if f is None else (Decimal(f) / 100).quantize(Decimal("0.01"))
                     for f in fen], pa.decimal128(18, 2))
    return pa.table([person_id.cast(pa.string()), eligible.cast(pa.bool_()),
                     months.cast(pa.int64()), yuan, reasons.cast(pa.string()),
                     rule_version.cast(pa.string())], schema=RESULT_SCHEMA)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block
    succeeds, so a failed run never leaves a partial output file."""
    path = path.resolve()
    if not path.parent.is_dir():
        raise InputError(str(path), "output directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_results(table: pa.Table, path: Path) -> None:
    fmt = file_format(path)
    with atomic_output(path) as tmp:
        if fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)


def registry_table(subjects: Iterable[Mapping[str, object]]) -> pa.Table:
    """A registry table (as ``read_registry`` returns) from subject mappings, e.g. rows the
    web database already holds. Values are checked as in ``Program.evaluate``."""
    from huimin.rules.evaluate import normalize_subject

    rows = [normalize_subject(s) for s in subjects]
    arrays: dict[str, pa.Array] = {
        name: pa.array([r[name] for r in rows], ARROW_TYPES[col.type])
        for name, col in COLUMNS.items()
    }
    arrays["_row"] = pa.array(range(1, len(rows) + 1), pa.int64())
    return pa.table(arrays)
