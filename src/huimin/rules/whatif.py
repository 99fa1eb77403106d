"""What-if: compare two versions of a program over a registry (counts and cost by area and
claim year), as rows, an Excel workbook or the ``huimin rules whatif`` command."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from huimin.lib.cells import neutralize, string_cells
from huimin.rules import engines
from huimin.rules.catalog import Catalog
from huimin.rules.engines import Engine
from huimin.rules.io import atomic_output
from huimin.rules.money import fen_to_decimal


@dataclass(frozen=True)
class WhatIfRow:
    area_code: str
    year: int
    base_count: int
    base_cost_fen: int
    proposal_count: int
    proposal_cost_fen: int

    @property
    def delta_count(self) -> int:
        return self.proposal_count - self.base_count

    @property
    def delta_cost_fen(self) -> int:
        return self.proposal_cost_fen - self.base_cost_fen


HEADERS_ZH = ("地区代码", "年度", "现行人数", "现行金额（元）", "方案人数", "方案金额（元）",
              "人数变化", "金额变化（元）")


def _totals(result: pa.Table, areas: pa.Array) -> dict[str, tuple[int, int]]:
    t = pa.table({"area": areas,
                  "eligible": result.column("eligible").cast(pa.int64()),
                  "amount": result.column("amount_fen")})
    g = t.group_by("area").aggregate([("eligible", "sum"), ("amount", "sum")])
    return {a: (int(n or 0), int(s or 0)) for a, n, s in zip(
        g.column("area").to_pylist(), g.column("eligible_sum").to_pylist(),
        g.column("amount_sum").to_pylist(), strict=True)}


def compare(base: Catalog, proposal: Catalog, program_id: str, years: Iterable[int],
            table: pa.Table, engine: Engine = "duckdb", *, area_digits: int = 6,
            database_url: str | None = None, spark: Any = None) -> list[WhatIfRow]:
    """Rows per area (division code prefix of ``area_digits``) and year; ``table`` is a
    validated registry (``io.read_registry``)."""
    areas = pc.utf8_slice_codeunits(table.column("hukou_area_code"), 0, area_digits)
    rows: list[WhatIfRow] = []
    for year in years:
        res_b = engines.run(engine, base.for_year(program_id, year), year, table,
                            database_url=database_url, spark=spark)
        res_p = engines.run(engine, proposal.for_year(program_id, year), year, table,
                            database_url=database_url, spark=spark)
        tb, tp = _totals(res_b, areas), _totals(res_p, areas)
        for area in sorted(set(tb) | set(tp)):
            nb, sb = tb.get(area, (0, 0))
            np_, sp = tp.get(area, (0, 0))
            rows.append(WhatIfRow(area, year, nb, sb, np_, sp))
    return rows


def export_excel(rows: Sequence[WhatIfRow], path: Path, title: str,
                 names: Mapping[str, str] | None = None) -> None:
    """The rows as a workbook; ``names`` (area code → name) adds a column of area names."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "测算"
    # the title names the uploaded file (user text): a string cell, neutralised
    ws.append(string_cells(ws, [neutralize(title)]))
    ws["A1"].font = Font(bold=True)
    named = names is not None
    ws.append(string_cells(ws, [HEADERS_ZH[0], *(["地区名称"] if named else []),
                                *HEADERS_ZH[1:]]))
    for r in rows:
        label = [neutralize((names or {}).get(r.area_code, ""))] if named else []
        ws.append(string_cells(ws, [
            neutralize(r.area_code), *label, r.year, r.base_count, fen_to_decimal(r.base_cost_fen),
            r.proposal_count, fen_to_decimal(r.proposal_cost_fen), r.delta_count,
            fen_to_decimal(r.delta_cost_fen)]))
    for col in (("E", "G", "I") if named else ("D", "F", "H")):
        for cell in ws[col][2:]:
            cell.number_format = "#,##0.00"
    with atomic_output(path) as tmp:
        wb.save(tmp)
