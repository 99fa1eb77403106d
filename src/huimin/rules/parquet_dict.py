"""The distinct values of a Parquet text column, read from its dictionary pages alone.

A column chunk whose data pages are all dictionary-encoded holds no value outside its
dictionary page, so the union of a column's dictionaries (plus NULL where the statistics
count one) contains every value of the column — without decoding a row. The input checks of
the streaming path use it to check code columns per distinct value; a chunk that is not
entirely dictionary-encoded, a codec pyarrow lacks or anything unexpected in the file gives
None, and the caller scans the column instead.

Only page headers are parsed (Thrift compact protocol, the few fields needed); the
dictionary page itself is decompressed with pyarrow's codecs.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# page types and encodings of the Parquet format
_DATA_PAGE, _INDEX_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 1, 2, 3
_DICTIONARY_ENCODINGS = {2, 8}  # PLAIN_DICTIONARY, RLE_DICTIONARY
_PLAIN = 0
_CODECS = {"SNAPPY": "snappy", "GZIP": "gzip", "BROTLI": "brotli", "ZSTD": "zstd",
           "LZ4_RAW": "lz4_raw"}


class _Unexpected(Exception):
    """Something the reader does not handle: the caller falls back to a scan."""


class _Compact:
    """A reader of the Thrift compact protocol over a byte buffer."""

    def __init__(self, buf: bytes | mmap.mmap, pos: int) -> None:
        self.buf, self.pos = buf, pos

    def byte(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        out = shift = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
            if shift > 63:
                raise _Unexpected("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def fields(self) -> dict[int, object]:
        """A struct's fields: integers, booleans and nested structs by field id (lists,
        maps, binaries and doubles are skipped)."""
        out: dict[int, object] = {}
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return out
            delta, kind = head >> 4, head & 0x0F
            fid = last + delta if delta else self.zigzag()
            last = fid
            out[fid] = self.value(kind)

    def value(self, kind: int) -> object:
        if kind in (1, 2):  # booleans in a field header
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            self.pos += 8
            return None
        if kind == 8:
            size = self.varint()  # read before the position is taken
            self.pos += size
            return None
        if kind in (9, 10):  # list, set
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            for _ in range(size):
                self.element(elem)
            return None
        if kind == 11:  # map
            size = self.varint()
            if size:
                kv = self.byte()
                for _ in range(size):
                    self.element(kv >> 4)
                    self.element(kv & 0x0F)
            return None
        if kind == 12:
            return self.fields()
        raise _Unexpected(f"Thrift type {kind}")

    def element(self, kind: int) -> None:
        if kind in (1, 2):  # a boolean element is a whole byte
            self.pos += 1
        else:
            self.value(kind)


def _int(fields: dict[int, object], fid: int) -> int:
    v = fields.get(fid)
    if not isinstance(v, int) or isinstance(v, bool):
        raise _Unexpected(f"page header field {fid} missing")
    return v


def _struct(fields: dict[int, object], fid: int) -> dict[int, object]:
    v = fields.get(fid)
    if not isinstance(v, dict):
        raise _Unexpected(f"page header field {fid} missing")
    return v


def _codec(name: str) -> pa.Codec:
    codec = _CODEC_CACHE.get(name)
    if codec is None:
        codec = _CODEC_CACHE[name] = pa.Codec(_CODECS[name])
    return codec


_CODEC_CACHE: dict[str, pa.Codec] = {}


def _chunk_values(buf: mmap.mmap, chunk: pq.ColumnChunkMetaData) -> set[str]:
    """The dictionary values of one column chunk whose data pages are all
    dictionary-encoded."""
    if not chunk.has_dictionary_page or chunk.physical_type != "BYTE_ARRAY":
        raise _Unexpected("no dictionary page")
    if chunk.compression != "UNCOMPRESSED" and chunk.compression not in _CODECS:
        raise _Unexpected(f"codec {chunk.compression}")
    start = chunk.dictionary_page_offset
    end = start + chunk.total_compressed_size
    if not 0 < start < end <= len(buf):
        raise _Unexpected("chunk outside the file")
    pos, values = start, None
    while pos < end:
        reader = _Compact(buf, pos)
        header = reader.fields()
        body, size = reader.pos, _int(header, 3)
        page_type = _int(header, 1)
        if page_type == _DICTIONARY_PAGE:
            if values is not None or _int(_struct(header, 7), 2) not in (_PLAIN, 2):
                raise _Unexpected("second or unknown dictionary page")
            data = bytes(buf[body:body + size])
            if chunk.compression != "UNCOMPRESSED":
                data = _codec(chunk.compression).decompress(
                    data, decompressed_size=_int(header, 2)).to_pybytes()
            values = _plain_texts(data, _int(_struct(header, 7), 1))
        elif page_type == _DATA_PAGE:
            if _int(_struct(header, 5), 2) not in _DICTIONARY_ENCODINGS:
                raise _Unexpected("a data page is not dictionary-encoded")
        elif page_type == _DATA_PAGE_V2:
            if _int(_struct(header, 8), 4) not in _DICTIONARY_ENCODINGS:
                raise _Unexpected("a data page is not dictionary-encoded")
        elif page_type != _INDEX_PAGE:
            raise _Unexpected(f"page type {page_type}")
        pos = body + size
    if values is None or pos != end:
        raise _Unexpected("pages do not fill the chunk")
    return values


def _plain_texts(data: bytes, count: int) -> set[str]:
    out, pos = set(), 0
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, pos)
        out.add(data[pos + 4:pos + 4 + n].decode("utf-8"))
        pos += 4 + n
    if pos != len(data):
        raise _Unexpected("dictionary page length")
    return out


def distinct_texts(path: Path, columns: list[str]) -> dict[str, set[str | None] | None]:
    """For each text column, every value (None standing for NULL) — possibly with values no
    row holds, never without one a row holds — or None where only a scan can tell."""
    out: dict[str, set[str | None] | None] = dict.fromkeys(columns)
    try:
        meta = pq.read_metadata(path)
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            for column in columns:
                out[column] = _column_values(meta, buf, column)
    except (ValueError, OSError, pa.ArrowException):
        pass  # an unreadable or empty file: the scan reports it
    return out


def _column_values(meta: pq.FileMetaData, buf: mmap.mmap, column: str) -> set[str | None] | None:
    try:
        idx = meta.schema.names.index(column)
        out: set[str | None] = set()
        for g in range(meta.num_row_groups):
            chunk = meta.row_group(g).column(idx)
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:
                return None
            if stats.null_count:
                out.add(None)
            if stats.null_count < chunk.num_values:
                out |= _chunk_values(buf, chunk)
        return out
    except (_Unexpected, ValueError, IndexError, UnicodeDecodeError, struct.error,
            pa.ArrowException):
        return None
