"""Train and store a model version: ``python -m huimin.identity.match.train [--persons N]``.

u probabilities come from random pairs of a synthetic register of several counties (almost
all of them two different people; a register of one county would never show a pair from two
counties and so make 不同县 look like evidence *for* a match); m probabilities from the known
duplicates of the damaged test set (``damage.build_region``, seed 1 — the evaluation uses
other seeds). The prior is not stored as a
number: it follows from the register's size and ``expected_duplicate_share`` (see
``pairs.prior``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from huimin.identity.match import damage, prepare
from huimin.identity.match.model import MODEL_PATH, MODEL_VERSION, settings_creator

EXPECTED_DUPLICATE_SHARE = 0.02
#: no level is impossible: a level the labelled duplicates never reached gets this m (and a
#: level random pairs never reached this u) instead of none, so it counts against a match
M_FLOOR = 1e-4
U_FLOOR = 1e-7
#: GB 11643 knowledge, not estimated: one person's number mistyped into another valid number
#: needs two errors that cancel in the MOD 11-2 check (about one in a million pairs of one
#: person): two valid numbers that differ outweigh agreeing name, birth date and village —
#: twins with homophone names stay apart
PRIOR_M = {("id", "two_valid"): 1e-6}


def floor(settings: dict[str, Any]) -> None:
    for comp in settings["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            key = (comp["output_column_name"], level.get("label_for_charts"))
            if not level.get("m_probability") or level["m_probability"] < M_FLOOR:
                level["m_probability"] = M_FLOOR
            if key in PRIOR_M:
                level["m_probability"] = PRIOR_M[key]
            if not level.get("u_probability") or level["u_probability"] < U_FLOOR:
                level["u_probability"] = U_FLOOR


def train(persons: int, seed: int = 1) -> dict[str, Any]:
    ts = damage.build_region(persons, seed=seed)
    con = duckdb.connect()
    prepare.load_arrow(con, ts.table, "people")
    clusters = {b: a for a, b in ts.truth}
    ids = [int(x) for x in ts.table["person_id"].to_pylist()]
    con.register("_cl", pa.table({"uid": ids, "cluster": [clusters.get(i, i) for i in ids]}))
    con.execute("CREATE OR REPLACE TEMP TABLE people_l AS SELECT p.*, c.cluster FROM people p "
                "JOIN _cl c ON c.uid = p.unique_id")
    api = DuckDBAPI(con)
    linker = Linker(api.register("people_l", table_name="train_people"), settings_creator(),
                    log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    linker.training.estimate_m_from_label_column("cluster")
    settings = linker.misc.save_model_to_json()
    settings.pop("linker_uid", None)
    floor(settings)
    return {"version": MODEL_VERSION,
            "trained": {"at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "on": f"damage.build_region(persons={persons}, seed={seed})",
                        "makeup": ts.makeup,
                        "u": "estimate_u_using_random_sampling(max_pairs=1e7)",
                        "m": "estimate_m_from_label_column (known duplicates)"},
            "expected_duplicate_share": EXPECTED_DUPLICATE_SHARE,
            "splink": settings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    model = train(args.persons, args.seed)
    MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n",
                          encoding="utf-8")
    print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
