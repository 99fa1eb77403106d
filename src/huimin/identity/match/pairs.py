"""Scoring candidate pairs with the stored model: within one register, or new records against
it. Each pair carries its probability, every comparison's level and its match weight (log2
of the Bayes factor: the comparison's contribution to the score)."""

from __future__ import annotations

import logging
import math
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from huimin.identity.match.model import LEVELS, MODEL_VERSION, splink_settings, stored
from huimin.identity.match.prepare import _scalar

COMPARISONS = tuple(LEVELS)


def level_key(comparison: str, gamma: int) -> str:
    """The level key of a Splink comparison vector value (-1 is the null level)."""
    levels = LEVELS[comparison]
    has_null = levels[0][0] == "missing"
    if gamma == -1:
        return "missing"
    body = levels[1:] if has_null else levels
    return body[len(body) - 1 - gamma][0]


def _case(comparison: str) -> str:
    levels = LEVELS[comparison]
    body = levels[1:] if levels[0][0] == "missing" else levels
    whens = " ".join(f"WHEN {len(body) - 1 - i} THEN '{k}'" for i, (k, _) in enumerate(body))
    return f"CASE gamma_{comparison} WHEN -1 THEN 'missing' {whens} END"


def prior(con: duckdb.DuckDBPyConnection, tables: list[str],
          register_size: int | None = None) -> float:
    """The probability that two random records are one person: the expected duplicate share
    of the register (model configuration) spread over its pairs — 2·share/n within a
    register of n, share/n for new records against a register of n. ``register_size`` is
    that n when the table scored is only part of the register (new records among
    themselves)."""
    share = float(stored()["expected_duplicate_share"])
    n = max(register_size or _count(con, tables[-1]), 2)
    return min(0.5, 2 * share / n if len(tables) == 1 else share / n)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return _scalar(con, f"SELECT count(*) FROM {table}")


def _linker(con: duckdb.DuckDBPyConnection, tables: list[str], link_type: str,
            register_size: int | None = None) -> Linker:
    logging.getLogger("splink").setLevel(logging.WARNING)
    api = DuckDBAPI(con)
    frames = [api.register(t, table_name=f"in_{t}") for t in tables]
    settings = splink_settings(link_type)
    settings["probability_two_random_records_match"] = prior(con, tables, register_size)
    settings["retain_matching_columns"] = True  # the gamma_ (level) columns
    settings["retain_intermediate_calculation_columns"] = True  # the mw_ (weight) columns
    return Linker(frames if len(frames) > 1 else frames[0], settings, log_level=None)


def score(con: duckdb.DuckDBPyConnection, tables: list[str], threshold: float,
          *, out: str = "scored_pairs", register_size: int | None = None) -> int:
    """Score the pairs of one table (dedupe) or between two (new records, register) into the
    DuckDB table ``out``: person_id_a < person_id_b, match_probability, each comparison's
    level and weight. Returns how many pairs are at or above ``threshold``.
    ``register_size``: see ``prior``."""
    link_type = "dedupe_only" if len(tables) == 1 else "link_only"
    linker = _linker(con, tables, link_type, register_size)
    frame = linker.inference.predict(
        threshold_match_probability=threshold if threshold > 0 else None, warning_mode="never")
    levels = ", ".join(f"{_case(c)} AS {c}_level" for c in COMPARISONS)
    weights = ", ".join(f"mw_{c} AS {c}_weight" for c in COMPARISONS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT least(unique_id_l, unique_id_r) AS person_id_a,
               greatest(unique_id_l, unique_id_r) AS person_id_b,
               match_probability, match_weight, {levels}, {weights}
        FROM {frame.physical_name}
        WHERE match_probability >= {float(threshold)!r} AND unique_id_l <> unique_id_r
        ORDER BY person_id_a, person_id_b""")
    frame.drop_table_from_database_and_remove_from_cache()
    return _count(con, out)


def rows(con: duckdb.DuckDBPyConnection, out: str = "scored_pairs") -> list[dict[str, Any]]:
    """The scored pairs as dicts (for the queue), with the model version."""
    table: pa.Table = con.sql(f"SELECT * FROM {out}").to_arrow_table()
    result: list[dict[str, Any]] = table.to_pylist()
    for r in result:
        r["model_version"] = MODEL_VERSION
        for c in COMPARISONS:
            w = r[f"{c}_weight"]
            r[f"{c}_weight"] = 0.0 if w is None or math.isnan(w) else round(float(w), 2)
    return result


CSV_COLUMNS = ("person_id_a", "person_id_b", "match_probability",
               *(f"{c}_level" for c in COMPARISONS))


def write_csv(con: duckdb.DuckDBPyConnection, path: str, out: str = "scored_pairs") -> None:
    cols = ", ".join(("person_id_a", "person_id_b", "round(match_probability, 6) AS "
                      "match_probability", *(f"{c}_level" for c in COMPARISONS)))
    con.execute(f"COPY (SELECT {cols} FROM {out} ORDER BY person_id_a, person_id_b) "
                f"TO '{path.replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')")
