"""Registry snapshots: a county's register as the rules read it, in one Parquet file a
province's cluster (or DuckDB) evaluates as it is.

A snapshot has exactly the registry-view columns (``columns.COLUMNS``) in their native types
(dates as DATE, counts as BIGINT, flags as BOOLEAN), so both ``--engine duckdb`` and
``--engine spark`` read it without conversion. Its date is in the file name
(``registry-<county>-<YYYY-MM-DD>.parquet``) and, with the county, the row count and how ids
were written, in the Parquet key-value metadata (``huimin.*`` keys).

Ids: the rules need no identity, so ``person_id`` is normally a pseudonym, the keyed hash
HMAC-SHA256(key, ``"huimin-person:" + identity number``) cut to 32 hex digits. The key is the
province's (one for all its counties, kept apart from each county's data key): the same
person has the same pseudonym in every snapshot written with that key, whichever county
wrote it, so snapshots join over time and across a move; without the key a pseudonym leads
back to no one, and the identity number itself is never written. ``huimin.key_id`` names the
key (a keyed hash of a constant), so a province can check that all its counties used one key.

The file is written into a temporary file beside the final one and renamed only when it is
complete, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import types
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from huimin.rules.columns import COLUMNS
from huimin.rules.errors import RulesError
from huimin.rules.io import ARROW_TYPES, registry_table

#: the columns of a snapshot, in the registry view's order
SCHEMA = pa.schema([(name, ARROW_TYPES[col.type]) for name, col in COLUMNS.items()])
#: the format of the ``huimin.*`` metadata (raised when it changes incompatibly)
FORMAT_VERSION = "1"
MIN_KEY_LENGTH = 32


class SnapshotError(RulesError):
    """A snapshot cannot be written; the message (Chinese) is for the operator."""


def _key_bytes(key: str) -> bytes:
    if len(key) < MIN_KEY_LENGTH:
        raise SnapshotError(f"假名密钥过短：至少 {MIN_KEY_LENGTH} 个字符")
    return key.encode()


def pseudonym(key: str, id_number: str) -> str:
    """The person's pseudonym under ``key``: the same for the same identity number."""
    mac = hmac.new(_key_bytes(key), b"huimin-person:" + id_number.strip().upper().encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:32]


def key_id(key: str) -> str:
    """A short name of the key (it reveals nothing of it): equal for snapshots that join."""
    return hmac.new(_key_bytes(key), b"huimin-snapshot-key-id", hashlib.sha256).hexdigest()[:12]


def file_name(county: str, day: date) -> str:
    return f"registry-{county}-{day.isoformat()}.parquet"


class SnapshotWriter:
    """Writes rows (registry-view mappings, e.g. ``registry_rows``) chunk by chunk into a
    temporary file beside ``path``; ``path`` appears only when the ``with`` block succeeds."""

    def __init__(self, path: Path, metadata: Mapping[str, str]) -> None:
        self.path = path
        self.rows = 0
        self._metadata = {f"huimin.{k}": v for k, v in metadata.items()}
        self._metadata["huimin.format"] = FORMAT_VERSION
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> SnapshotWriter:
        if not self.path.parent.is_dir():
            raise SnapshotError(f"输出目录 {self.path.parent} 不存在")
        if self.path.exists():
            raise SnapshotError(f"快照文件 {self.path} 已存在；请先移走它或换一个输出目录")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
        except OSError as exc:
            raise SnapshotError(f"输出目录 {self.path.parent} 无法写入：{exc.strerror}") from None
        os.close(fd)
        self._tmp = Path(tmp)
        return self

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        table = registry_table(rows).drop_columns(["_row"]).cast(SCHEMA)
        if self._writer is None:
            assert self._tmp is not None
            self._writer = pq.ParquetWriter(self._tmp, SCHEMA)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> None:
        assert self._tmp is not None
        try:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, SCHEMA)  # a snapshot with no rows
            # the metadata (with the row count) goes into the footer, written at close
            self._writer.add_key_value_metadata({**self._metadata,
                                                 "huimin.rows": str(self.rows)})
            self._writer.close()
            if kind is None:
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


def read_metadata(path: Path) -> dict[str, str]:
    """The ``huimin.*`` metadata of a snapshot file (without the prefix)."""
    meta = pq.read_metadata(path).metadata or {}
    return {k.decode()[len("huimin."):]: v.decode() for k, v in meta.items()
            if k.startswith(b"huimin.")}
