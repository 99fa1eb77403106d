"""Register rows → the columns the model compares, inside a DuckDB connection.

Input: the columns ``huimin registry generate`` writes (person_id, name, id_number, sex,
birth_date, hukou_area_code; others are ignored). ID numbers follow GB 11643: a 15-digit
first-generation number is converted to its 18-digit form (``19`` inserted, check character
appended), so the two forms of one number compare equal; ``id_ok`` says whether an 18-digit
number's check character is right (a converted 15-digit number has none to check, so it
never counts as valid) — a wrong one is most likely a mistyped or transposed digit
(the ISO 7064 MOD 11-2 check catches every single-digit error and adjacent transposition).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from huimin.identity.match import MatchInputError
from huimin.identity.match.names import char_pinyin, fold

REQUIRED = ("person_id", "name", "id_number", "sex", "birth_date", "hukou_area_code")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_char_sql(expr: str) -> str:
    """SQL for the GB 11643 check character of the 17 leading digits of ``expr``."""
    terms = " + ".join(f"CAST(substr({expr}, {i + 1}, 1) AS INTEGER) * {w}"
                       for i, w in enumerate(WEIGHTS))
    return f"substr('10X98765432', (({terms}) % 11) + 1, 1)"


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return {str(r[0]) for r in rows}


def load(con: duckdb.DuckDBPyConnection, path: Path, table: str = "people") -> int:
    """Read a persons Parquet file into ``table`` (the comparison columns); return the rows.

    Raises MatchInputError naming the reason: unreadable file, missing columns, no rows, a
    repeated or empty person_id, an ID number that is neither 15 nor 18 characters of
    digits (an empty one is allowed: a record without ID).
    """
    if not path.is_file():
        raise MatchInputError(f"--input：文件 {path} 不存在")
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT * FROM read_parquet("
                    f"{quote(str(path))})")
        have = _columns(con, "_raw")
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        raise MatchInputError(f"--input：{path} 不是可读的 Parquet 文件（{reason}）") from None
    missing = [c for c in REQUIRED if c not in have]
    if missing:
        raise MatchInputError(f"--input：缺少列 {', '.join(missing)}（应有 {', '.join(REQUIRED)}）")
    return prepare(con, "_raw", table)


def load_arrow(con: duckdb.DuckDBPyConnection, data: pa.Table, table: str) -> int:
    """As ``load``, from an Arrow table already in memory (the database path)."""
    missing = [c for c in REQUIRED if c not in data.column_names]
    if missing:
        raise MatchInputError(f"缺少列 {', '.join(missing)}")
    con.register(f"_arrow_{table}", data)
    return prepare(con, f"_arrow_{table}", table)


def prepare(con: duckdb.DuckDBPyConnection, source: str, table: str) -> int:
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _src AS
            SELECT row_number() OVER () AS rn, TRY_CAST(person_id AS BIGINT) AS unique_id,
                   CAST(person_id AS VARCHAR) AS pid_text,
                   coalesce(CAST(name AS VARCHAR), '') AS name,
                   upper(replace(trim(coalesce(CAST(id_number AS VARCHAR), '')), ' ', ''))
                       AS raw_id,
                   CAST(sex AS VARCHAR) AS sex, TRY_CAST(birth_date AS DATE) AS birth_date,
                   CAST(hukou_area_code AS VARCHAR) AS area
            FROM {source}""")
    except duckdb.Error as exc:
        raise MatchInputError(f"输入的列类型不对（{exc}）") from None
    n = _scalar(con, "SELECT count(*) FROM _src")
    if n == 0:
        raise MatchInputError("登记册为空：没有任何人员记录")
    bad = first(con, "SELECT rn, pid_text FROM _src WHERE unique_id IS NULL LIMIT 1")
    if bad:
        raise MatchInputError(f"第 {bad[0]} 行：person_id「{bad[1]}」不是整数")
    dup = first(con, "SELECT unique_id FROM _src GROUP BY 1 HAVING count(*) > 1 LIMIT 1")
    if dup:
        raise MatchInputError(f"person_id {dup[0]} 出现不止一次")
    bad = first(con, r"""
        SELECT rn, unique_id, length(raw_id) FROM _src
        WHERE raw_id <> '' AND NOT regexp_full_match(raw_id, '\d{15}|\d{17}[\dX]')
        ORDER BY rn LIMIT 1""")
    if bad:
        raise MatchInputError(
            f"第 {bad[0]} 行（person_id {bad[1]}）：身份证号码无法识别"
            f"（{bad[2]} 个字符，应为 15 位数字或 17 位数字加校验位）")
    _names(con)
    id18 = (f"CASE WHEN length(raw_id) = 15 THEN f17 || {check_char_sql('f17')} "
            "WHEN raw_id = '' THEN NULL ELSE raw_id END")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH c AS (SELECT *, CASE WHEN length(raw_id) = 15
                            THEN substr(raw_id, 1, 6) || '19' || substr(raw_id, 7) END AS f17
                   FROM _src),
             s AS (SELECT *, {id18} AS id18 FROM c)
        SELECT s.unique_id, n.name_f, n.name_py, n.surname_py, s.id18,
               s.f17 IS NULL AND s.id18 IS NOT NULL
                   AND substr(s.id18, 18, 1) = {check_char_sql("s.id18")}
                   AS id_ok,
               s.birth_date, strftime(s.birth_date, '%Y%m%d') AS bd,
               year(s.birth_date) AS b_year, month(s.birth_date) AS b_month,
               day(s.birth_date) AS b_day,
               CASE WHEN s.sex IN ('M', '男') THEN 'M' WHEN s.sex IN ('F', '女') THEN 'F' END
                   AS sex,
               s.area AS village, substr(s.area, 1, 9) AS township,
               substr(s.area, 1, 6) AS county
        FROM s JOIN _names n ON n.name = s.name""")
    return n


def _names(con: duckdb.DuckDBPyConnection) -> None:
    """The folded name and its toneless pinyin, computed once per distinct name."""
    names = [str(r[0]) for r in con.execute("SELECT DISTINCT name FROM _src").fetchall()]
    folded = [fold(x) for x in names]
    py = [" ".join(char_pinyin(ch) for ch in f) for f in folded]
    data = pa.table({"name": names, "name_f": folded, "name_py": py,
                     "surname_py": [p.split(" ", 1)[0] for p in py]})
    con.register("_names_arrow", data)
    con.execute("CREATE OR REPLACE TEMP TABLE _names AS SELECT * FROM _names_arrow")
    con.unregister("_names_arrow")


def first(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, ...] | None:
    """The first row of a query, or None (the whole result is fetched: DuckDB refuses new
    work on a connection with an unfinished result)."""
    found = con.execute(sql).fetchall()
    return tuple(found[0]) if found else None


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = first(con, sql)
    return int(str(row[0])) if row else 0
