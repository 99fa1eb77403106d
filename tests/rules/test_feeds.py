"""National feeds (``huimin.rules.feeds``): validation, matching and proposed effects on
DuckDB, held to the single-subject evaluation path."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huimin.rules import Catalog, RulesError, feeds
from huimin.rules.errors import InputError
from huimin.rules.feeds import Event, effects_for_event, propose_effects

TODAY = dt.date(2026, 12, 2)
YEARS = (2025, 2026, 2027)
AREAS = ["445224100201", "445224110202", "440524001001", "510402001001", "510411101201",
         "150102001001", "150105201202", "110105001001"]
N = 3000


def _subjects(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        birth = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 5 * 365))
        area = rng.choice(AREAS)
        parent = area if rng.random() < 0.8 else rng.choice(AREAS)
        dead = rng.random() < 0.03
        out.append({
            "person_id": f"C{i:06d}", "birth_date": birth,
            "death_date": birth + dt.timedelta(days=rng.randrange(1, 400)) if dead else None,
            "hukou_area_code": area, "hukou_type": rng.choice(["rural", "urban"]),
            "birth_order": rng.choice([1, 1, 2, 2, 3, 4]),
            "parent1_hukou_area_code": parent,
            "parent2_hukou_area_code": parent if rng.random() < 0.85 else None,
            "claim_date": None,
        })
    return out


def _register(tmp_path: Path, subjects: list[dict[str, Any]]) -> Path:
    schema = pa.schema([
        ("person_id", pa.string()), ("birth_date", pa.date32()), ("death_date", pa.date32()),
        ("hukou_area_code", pa.string()), ("hukou_type", pa.string()),
        ("birth_order", pa.int64()), ("parent1_hukou_area_code", pa.string()),
        ("parent2_hukou_area_code", pa.string()), ("claim_date", pa.date32()),
    ])
    path = tmp_path / "register.parquet"
    pq.write_table(pa.Table.from_pylist(subjects, schema), path, row_group_size=500)
    return path


def _random_events(subjects: list[dict[str, Any]], n: int, seed: int) -> list[Event]:
    """Valid events (no quarantine reason applies) against living subjects."""
    rng = random.Random(seed)
    out = []
    living = [s for s in subjects if s["death_date"] is None]
    for k in range(n):
        s = rng.choice(living)
        span = (TODAY - s["birth_date"]).days
        day = s["birth_date"] + dt.timedelta(days=rng.randrange(0, span + 1))
        if rng.random() < 0.6:
            out.append(Event(f"E{k:05d}", "death", s["person_id"], death_date=day))
        else:
            out.append(Event(f"E{k:05d}", "move", s["person_id"], moved_on=day,
                             to_code=rng.choice(AREAS)))
    return out


def _table(events: list[Event]) -> pa.Table:
    return pa.table({
        "event_id": pa.array([e.event_id for e in events], pa.string()),
        "kind": pa.array([e.kind for e in events], pa.string()),
        "person_id": pa.array([e.person_key for e in events], pa.string()),
        "death_date": pa.array([e.death_date for e in events], pa.date32()),
        "moved_on": pa.array([e.moved_on for e in events], pa.date32()),
        "to_code": pa.array([e.to_code for e in events], pa.string()),
    })


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["event_id"], row["claim_year"], row["kind"])


def _rows(path: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(path).to_pylist(), key=_key)


@pytest.fixture(scope="module")
def subjects() -> list[dict[str, Any]]:
    return _subjects(N, seed=11)


@pytest.fixture
def register(tmp_path: Path, subjects: list[dict[str, Any]]) -> Path:
    return _register(tmp_path, subjects)


def _run(tmp_path: Path, register: Path, catalog: Catalog, events: pa.Table | Path,
         **kw: Any) -> tuple[feeds.FeedCounts, list[dict[str, Any]]]:
    out = tmp_path / "effects.parquet"
    counts = propose_effects(register, events, out, catalog=catalog, years=YEARS, today=TODAY,
                             **kw)
    return counts, _rows(out)


def test_effects_equal_the_single_subject_path(tmp_path: Path, register: Path,
                                               subjects: list[dict[str, Any]],
                                               catalog: Catalog) -> None:
    events = _random_events(subjects, 400, seed=5)
    counts, got = _run(tmp_path, register, catalog, _table(events))
    by_id = {s["person_id"]: s for s in subjects}
    programs = {y: catalog.for_year("childcare-subsidy", y) for y in YEARS}
    want = sorted((eff.to_dict() for e in events
                   for eff in effects_for_event(programs, by_id[e.person_key], e)), key=_key)
    assert counts.events == counts.matched == 400
    written = pq.read_schema(tmp_path / "effects.parquet")
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in feeds.EFFECT_SCHEMA]
    assert got == want
    kinds = {r["kind"] for r in got}
    assert kinds == {"stop", "recalculate", "move"}
    assert counts.effects_by_kind == {k: sum(r["kind"] == k for r in got)
                                      for k in ("stop", "recalculate", "move")}
    # a death shortens the share of the year it happened in to the months up to it, and ends
    # the following years' shares
    stops = [r for r in got if r["kind"] == "stop"]
    died = {r["event_id"]: (r["from_date"] - dt.timedelta(days=1)) for r in stops}
    same = [r for r in stops if r["claim_year"] == died[r["event_id"]].year]
    later = [r for r in stops if r["claim_year"] > died[r["event_id"]].year]
    assert same and later and len(same) + len(later) == len(stops)
    assert all(0 <= r["new_months"] < r["old_months"] for r in same)
    assert all(r["new_months"] == 0 and "fails:alive_at_year_start" in r["reason_codes"]
               for r in later)
    assert all(r["new_amount_fen"] < r["old_amount_fen"] for r in stops)


def test_a_move_out_of_panzhihua_is_recalculated_and_moved(tmp_path: Path, register: Path,
                                                           subjects: list[dict[str, Any]],
                                                           catalog: Catalog) -> None:
    s = next(x for x in subjects if x["hukou_area_code"].startswith("5104")
             and x["birth_order"] == 2 and x["death_date"] is None
             and (x["parent1_hukou_area_code"] or "").startswith("5104")
             and (x["parent2_hukou_area_code"] or "5104").startswith("5104")
             and x["birth_date"] >= dt.date(2024, 1, 1))
    ev = Event("M1", "move", s["person_id"], moved_on=dt.date(2026, 3, 1),
               to_code="445224100201")
    _, got = _run(tmp_path, register, catalog, _table([ev]))
    years = {(r["kind"], r["claim_year"]) for r in got}
    assert ("recalculate", 2026) in years and ("move", 2026) in years
    assert not any(r["claim_year"] == 2025 for r in got)  # before the move: unchanged
    rec = next(r for r in got if (r["kind"], r["claim_year"]) == ("recalculate", 2026))
    assert rec["old_rule_version"] == "panzhihua-childcare@2021.1"
    assert rec["new_rule_version"] == "childcare-subsidy@2025.1"
    assert rec["old_amount_fen"] == 12 * 50000 and rec["new_amount_fen"] == 12 * 30000
    assert rec["reason_codes"] == ["move_out_of_county", "amount_down", "scheme_changed"]
    assert rec["from_date"] == dt.date(2026, 3, 1)
    assert rec["new_area_code"] == "445224100201"


def test_counts_and_each_quarantine_reason(tmp_path: Path, register: Path,
                                           subjects: list[dict[str, Any]],
                                           catalog: Catalog) -> None:
    alive = [s for s in subjects if s["death_date"] is None]
    dead = next(s for s in subjects if s["death_date"] is not None)
    a, b, c, d, e = alive[:5]
    good = _random_events(alive[10:], 50, seed=3)
    rows = [
        *good,
        Event("X1", "death", a["person_id"], death_date=dt.date(2026, 1, 5)),
        Event("X1", "death", a["person_id"], death_date=dt.date(2026, 1, 6)),  # conflicting
        Event("X2", "death", "NOBODY", death_date=dt.date(2026, 1, 5)),  # unmatched
        Event("X3", "death", b["person_id"],
              death_date=b["birth_date"] - dt.timedelta(days=1)),  # before birth
        Event("X4", "death", c["person_id"], death_date=TODAY + dt.timedelta(days=1)),
        Event("X5", "move", d["person_id"], moved_on=dt.date(2026, 2, 1),
              to_code="4452241002"),  # malformed code
        Event("X6", "move", d["person_id"], moved_on=dt.date(2026, 2, 1)),  # no code
        Event("X7", "birth", e["person_id"], death_date=dt.date(2026, 2, 1)),
        Event("X8", "death", dead["person_id"],
              death_date=dead["death_date"] + dt.timedelta(days=3)),  # conflict
        Event("X9", "death", dead["person_id"], death_date=dead["death_date"]),  # recorded
        Event("X10", "move", dead["person_id"], moved_on=dead["death_date"]
              + dt.timedelta(days=1), to_code="110105001001"),  # after death
    ]
    rejects = tmp_path / "rejects.parquet"
    counts, _ = _run(tmp_path, register, catalog, _table(rows), rejects=rejects)
    assert counts.read == len(rows)
    assert counts.events == len(rows) - 1
    assert counts.duplicates == 1
    assert counts.unmatched == 1
    assert counts.quarantined_by_reason == {
        "conflicting_duplicate": 1, "missing_field": 1, "unknown_kind": 1,
        "malformed_code": 1, "future_date": 1, "before_birth": 1,
        "death_date_conflict": 1, "after_death": 1}
    assert counts.quarantined == 8
    assert counts.matched == 51  # the good ones and the death already recorded
    assert counts.already_recorded == 1
    assert counts.events == counts.matched + counts.unmatched + counts.quarantined
    listed = {r["event_id"]: (r["status"], r["reason"]) for r in pq.read_table(rejects).to_pylist()}
    assert listed["X2"] == ("unmatched", "unmatched")
    assert listed["X1"] == ("quarantined", "conflicting_duplicate")
    assert listed["X10"] == ("quarantined", "after_death")
    assert "X9" not in listed and len(listed) == 9
    assert set(counts.to_dict()["quarantined_by_reason"]) <= set(feeds.QUARANTINE_REASONS)  # type: ignore[arg-type]


def test_quarantined_rows_propose_nothing(tmp_path: Path, register: Path,
                                          subjects: list[dict[str, Any]],
                                          catalog: Catalog) -> None:
    s = next(x for x in subjects if x["death_date"] is None
             and dt.date(2025, 1, 1) <= x["birth_date"] < dt.date(2025, 6, 1))
    ok = Event("D1", "death", s["person_id"], death_date=dt.date(2025, 6, 1))
    bad = Event("D2", "death", s["person_id"], death_date=TODAY + dt.timedelta(days=30))
    _, got = _run(tmp_path, register, catalog, _table([ok, bad]))
    assert {r["event_id"] for r in got} == {"D1"}
    assert {r["claim_year"] for r in got} == {2026, 2027}
    assert all(r["from_date"] == dt.date(2025, 6, 2) for r in got)


def test_idempotent_and_repeated_ids_counted_once(tmp_path: Path, register: Path,
                                                 subjects: list[dict[str, Any]],
                                                 catalog: Catalog) -> None:
    events = _table(_random_events(subjects, 300, seed=9))
    once, first = _run(tmp_path, register, catalog, events)
    again, second = _run(tmp_path, register, catalog, events)
    twice, doubled = _run(tmp_path, register, catalog, pa.concat_tables([events, events]))
    assert first == second == doubled
    assert first
    assert twice.read == 600 and twice.events == 300 and twice.duplicates == 300
    assert once.to_dict() == again.to_dict()
    assert {**twice.to_dict(), "read": 300, "duplicates": 0} == once.to_dict()


def test_separate_death_file_with_a_given_kind(tmp_path: Path, register: Path,
                                               subjects: list[dict[str, Any]],
                                               catalog: Catalog) -> None:
    s = next(x for x in subjects if x["death_date"] is None
             and dt.date(2025, 1, 1) <= x["birth_date"] < dt.date(2025, 3, 1))
    path = tmp_path / "deaths.parquet"
    pq.write_table(pa.table({"event_id": ["D1"], "person_id": [s["person_id"]],
                             "death_date": pa.array([dt.date(2025, 3, 1)], pa.date32())}),
                   path)
    counts, got = _run(tmp_path, register, catalog, path, kind="death")
    assert counts.matched == 1 and {r["kind"] for r in got} == {"stop"}
    with pytest.raises(InputError, match="kind"):
        _run(tmp_path, register, catalog, path)


def test_a_register_key_found_twice_is_not_guessed(tmp_path: Path,
                                                   subjects: list[dict[str, Any]],
                                                   catalog: Catalog) -> None:
    twice = [*subjects[:100], {**subjects[0], "hukou_area_code": "110105001001"}]
    register = _register(tmp_path, twice)
    ev = Event("A1", "death", subjects[0]["person_id"], death_date=dt.date(2026, 1, 2))
    counts, got = _run(tmp_path, register, catalog, _table([ev]))
    assert counts.quarantined_by_reason == {"ambiguous_match": 1} and got == []


def test_bad_inputs_are_refused(tmp_path: Path, register: Path, catalog: Catalog) -> None:
    table = pa.table({"event_id": ["1"], "kind": ["death"], "person_id": ["C000001"],
                      "death_date": ["2026-01-01"]})
    with pytest.raises(InputError, match="death_date"):
        _run(tmp_path, register, catalog, table)
    with pytest.raises(InputError, match="person_key"):
        _run(tmp_path, register, catalog, table.drop_columns(["death_date"]), key="person_key")
    with pytest.raises(RulesError, match="claim year"):
        propose_effects(register, table, tmp_path / "x.parquet", catalog=catalog, years=())


def test_matched_by_an_integer_person_key(tmp_path: Path, subjects: list[dict[str, Any]],
                                          catalog: Catalog) -> None:
    """The national register identifies a person by a keyed hash (int64), not an ID."""
    keyed = [{**s, "person_key": 10_000_019 * i - 2**62} for i, s in enumerate(subjects)]
    register = _register(tmp_path, [{k: v for k, v in s.items() if k != "person_key"}
                                    for s in keyed])
    table = pq.read_table(register)
    table = table.append_column("person_key", pa.array([s["person_key"] for s in keyed],
                                                       pa.int64())).drop_columns(["person_id"])
    pq.write_table(table, register)
    events = _random_events(subjects, 200, seed=21)
    key_of = {s["person_id"]: s["person_key"] for s in keyed}
    feed = _table(events).drop_columns(["person_id"]).append_column(
        "person_key", pa.array([key_of[e.person_key] for e in events], pa.int64()))
    counts, got = _run(tmp_path, register, catalog, feed, key="person_key")
    by_id = {s["person_id"]: s for s in subjects}
    programs = {y: catalog.for_year("childcare-subsidy", y) for y in YEARS}
    want = sorted(({**eff.to_dict(), "person_key": key_of[e.person_key]} for e in events
                   for eff in effects_for_event(programs, by_id[e.person_key], e)), key=_key)
    assert counts.matched == 200 and got == want and got
    assert pq.read_schema(tmp_path / "effects.parquet").field("person_key").type == pa.int64()
