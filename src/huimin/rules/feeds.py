"""National civil-data feeds on DuckDB: death and move events matched against a Parquet
register, with the effects they have on each subject's entitlements proposed.

``propose_effects`` reads a table of events (death: ``event_id``, the person key,
``death_date``; move: ``event_id``, the person key, ``moved_on``, ``to_code``), validates
them (a row that does not validate is quarantined with its reason; an event whose person is
not in the register is unmatched, never guessed), matches the rest to the register by the
person key and re-evaluates each matched subject with the program compiled for every claim
year asked — once on the register's facts, once with the event applied (the death date set,
the area changed) — the same compiled query as the national cycle. Where the two differ, or
the paying county changes, it writes an effect per event, claim year and kind:

- ``stop`` (a death): the entitlement of that claim year ends or shrinks, from the day after
  the death;
- ``recalculate`` (a move): the entitlement of that claim year changes (another local
  scheme, or none), from the date of the move;
- ``move`` (a move to another county): the paying county of that claim year changes, for a
  subject entitled before or after.

Each event is applied alone to the register snapshot (two events of one person give two
independent proposals), and only to claim years from the event's own year on. The Python
twin ``effects_for_event`` gives, for one subject and event, exactly the rows the set path
writes (``tests/rules/test_feeds.py`` holds them to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from huimin.rules.catalog import Catalog, Program
from huimin.rules.columns import COLUMNS
from huimin.rules.compile import compile_program, reason_codes, version_texts
from huimin.rules.engines import program_columns
from huimin.rules.errors import InputError, RulesError
from huimin.rules.evaluate import NOT_COVERED_ZH, Evaluation
from huimin.rules.expr import sql_literal
from huimin.rules.io import atomic_output, required_columns

EVENT_KINDS = ("death", "move")
EFFECT_KINDS = ("stop", "recalculate", "move")
#: quarantine reasons, in the order they are tested (the first that applies is reported)
QUARANTINE_REASONS: dict[str, str] = {
    "conflicting_duplicate": "同一事件编号出现内容不同的多条记录",
    "missing_field": "缺少必填字段",
    "unknown_kind": "事件类型不是死亡或迁移",
    "malformed_code": "迁入地区划代码不是 12 位数字",
    "future_date": "日期晚于今天",
    "ambiguous_match": "人员标识匹配到多条登记记录",
    "before_birth": "日期早于出生日期",
    "death_date_conflict": "与已登记的死亡日期不一致",
    "after_death": "迁移日期晚于已登记的死亡日期",
}
UNMATCHED = "unmatched"
UNMATCHED_ZH = "登记库中无此人员"
#: reason codes of an effect: the event's, then the changes, then ``fails:<criterion>`` for
#: each criterion the subject fails after the event (``not_covered``: no component covers)
CHANGE_CODES = ("not_eligible_after", "eligible_after", "amount_down", "amount_up",
                "months_changed", "scheme_changed")

EFFECT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("person_key", pa.string()), ("kind", pa.string()),
    ("claim_year", pa.int64()), ("from_date", pa.date32()),
    ("old_months", pa.int64()), ("new_months", pa.int64()),
    ("old_amount_fen", pa.int64()), ("new_amount_fen", pa.int64()),
    ("old_rule_version", pa.string()), ("new_rule_version", pa.string()),
    ("old_area_code", pa.string()), ("new_area_code", pa.string()),
    ("reason_codes", pa.list_(pa.field("element", pa.string()))),
])
_SQL_TYPES = {"str": "VARCHAR", "date": "DATE", "int": "BIGINT", "bool": "BOOLEAN"}


@dataclass(frozen=True)
class FeedCounts:
    """What a feed run did. ``events`` = ``matched + unmatched + quarantined``."""

    read: int
    events: int
    duplicates: int
    matched: int
    unmatched: int
    quarantined: int
    already_recorded: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    effects_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def effects(self) -> int:
        return sum(self.effects_by_kind.values())

    def to_dict(self) -> dict[str, object]:
        return {"read": self.read, "events": self.events, "duplicates": self.duplicates,
                "matched": self.matched, "unmatched": self.unmatched,
                "quarantined": self.quarantined, "already_recorded": self.already_recorded,
                "quarantined_by_reason": dict(self.quarantined_by_reason),
                "effects": self.effects, "effects_by_kind": dict(self.effects_by_kind)}


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    person_key: str
    death_date: dt.date | None = None
    moved_on: dt.date | None = None
    to_code: str | None = None

    @property
    def on(self) -> dt.date:
        day = self.death_date if self.kind == "death" else self.moved_on
        if day is None:
            raise RulesError(f"event {self.event_id}: no date")
        return day


@dataclass(frozen=True)
class Effect:
    event_id: str
    person_key: str
    kind: str
    claim_year: int
    from_date: dt.date
    old_months: int
    new_months: int
    old_amount_fen: int
    new_amount_fen: int
    old_rule_version: str
    new_rule_version: str
    old_area_code: str | None
    new_area_code: str | None
    reason_codes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "reason_codes": list(self.reason_codes)}


# ------------------------------------------------------------------ single subject (Python)

def apply_event(subject: Mapping[str, object], event: Event) -> dict[str, object]:
    """The subject's facts with the event applied."""
    out = dict(subject)
    if event.kind == "death":
        out["death_date"] = event.death_date
    elif event.kind == "move":
        out["hukou_area_code"] = event.to_code
    else:
        raise RulesError(f"unknown event kind '{event.kind}'")
    return out


def _county(code: object) -> str | None:
    return str(code)[:6] if code is not None and code != "" else None


def _failed_codes(ev: Evaluation) -> tuple[str, ...]:
    if ev.reasons_zh == [NOT_COVERED_ZH] and not ev.criteria:
        return ("not_covered",)
    if ev.eligible:
        return ()
    return tuple(f"fails:{c.code}" for c in ev.criteria if not c.passed)


def effects_for_event(programs: Mapping[int, Program], subject: Mapping[str, object],
                      event: Event) -> list[Effect]:
    """The effects of one event on one subject, by the single-subject evaluation path:
    ``programs`` maps each claim year to its program (``Catalog.for_year``)."""
    after_facts = apply_event(subject, event)
    old_area = subject.get("hukou_area_code")
    new_area = after_facts.get("hukou_area_code")
    county_changed = event.kind == "move" and _county(old_area) != _county(new_area)
    if event.kind == "death":
        head = "death"
        from_date = event.on + dt.timedelta(days=1)
    else:
        head = "move_out_of_county" if county_changed else "move_within_county"
        from_date = event.on
    out: list[Effect] = []
    for year in sorted(programs):
        if year < event.on.year:
            continue
        program = programs[year]
        b = program.evaluate(subject, year)
        a = program.evaluate(after_facts, year)
        changed = (b.eligible, b.months, b.amount_fen, b.rule_version) != (
            a.eligible, a.months, a.amount_fen, a.rule_version)
        kinds = []
        if event.kind == "death" and changed:
            kinds.append("stop")
        if event.kind == "move" and changed:
            kinds.append("recalculate")
        if county_changed and (b.eligible or a.eligible):
            kinds.append("move")
        if not kinds:
            continue
        change = [c for c, hit in zip(CHANGE_CODES, (
            b.eligible and not a.eligible, a.eligible and not b.eligible,
            a.amount_fen < b.amount_fen, a.amount_fen > b.amount_fen,
            a.months != b.months, a.rule_version != b.rule_version), strict=True) if hit]
        codes = (head, *change, *_failed_codes(a))
        for kind in kinds:
            out.append(Effect(event.event_id, event.person_key, kind, year, from_date,
                              b.months, a.months, b.amount_fen, a.amount_fen,
                              b.rule_version, a.rule_version,
                              None if old_area is None else str(old_area),
                              None if new_area is None else str(new_area), codes))
    return out


# ------------------------------------------------------------------ set path (DuckDB)

def _lit(value: Any) -> str:
    return sql_literal(value, "duckdb")


def _event_source(con: Any, events: Path | pa.Table, key: str, kind: str | None) -> str:
    """A SELECT of the events in the fixed layout ``event_id, kind, pkey, ev_death_date,
    ev_moved_on, ev_to_code``; absent optional columns are NULL."""
    if isinstance(events, pa.Table):
        con.register("feed_src", events)
        schema = events.schema
        scan = "feed_src"
        name = "events"
    else:
        if not events.exists():
            raise InputError(str(events), "file does not exist")
        schema = pq.read_schema(events)
        scan = f"read_parquet({_lit(str(events))})"
        name = str(events)
    names = schema.names
    for col in ("event_id", key):
        if col not in names:
            raise InputError(name, f"missing required column '{col}'", column=col)
    if "kind" not in names and kind is None:
        raise InputError(name, "missing column 'kind' (or give the kind of every event)",
                         column="kind")
    for col in ("death_date", "moved_on"):
        if col in names and not pa.types.is_date32(schema.field(col).type):
            raise InputError(name, f"must be a date (date32), not {schema.field(col).type}",
                             column=col)
    kind_sql = '"kind"' if "kind" in names else _lit(kind)

    def opt(col: str, sql_type: str) -> str:
        return f'"{col}"' if col in names else f"CAST(NULL AS {sql_type})"

    return (f'SELECT CAST("event_id" AS VARCHAR) AS event_id, CAST({kind_sql} AS VARCHAR) '
            f'AS kind, "{key}" AS pkey, {opt("death_date", "DATE")} AS ev_death_date, '
            f'{opt("moved_on", "DATE")} AS ev_moved_on, '
            f'CAST({opt("to_code", "VARCHAR")} AS VARCHAR) AS ev_to_code FROM {scan}')


def _register_source(register: Path, key: str, needed: set[str]) -> str:
    """A SELECT of the register: ``pkey`` and the registry-view columns the programs read
    (absent optional ones, and those no program reads, as NULL)."""
    if not register.exists():
        raise InputError(str(register), "file does not exist")
    names = pq.read_schema(register).names
    if key not in names:
        raise InputError(str(register), f"missing key column '{key}'", column=key)
    for req in required_columns(needed):
        if req != "person_id" and req not in names:
            raise InputError(str(register), f"missing required column '{req}'", column=req)
    read = needed | {"birth_date", "death_date", "hukou_area_code"}
    cols = [f'"{key}" AS pkey']
    for name, col in COLUMNS.items():
        if name == "person_id":
            continue
        if name in names and name in read:
            cols.append(f'"{name}"')
        else:
            cols.append(f'CAST(NULL AS {_SQL_TYPES[col.type]}) AS "{name}"')
    return f"SELECT {', '.join(cols)} FROM read_parquet({_lit(str(register))})"


_EVENT_FIELDS = ("kind", "pkey", "ev_death_date", "ev_moved_on", "ev_to_code")
#: the event's own reason code, by the ``head`` number of the set path
HEADS = ("death", "move_out_of_county", "move_within_county")


def _pre_checks(today: dt.date) -> str:
    """The checks that need no register, as a CASE giving the first failing reason."""
    return (
        "CASE WHEN conflicting THEN 'conflicting_duplicate' "
        "WHEN NULLIF(event_id, '') IS NULL OR pkey IS NULL OR NULLIF(kind, '') IS NULL "
        "THEN 'missing_field' "
        "WHEN kind NOT IN ('death', 'move') THEN 'unknown_kind' "
        "WHEN kind = 'death' AND ev_death_date IS NULL THEN 'missing_field' "
        "WHEN kind = 'move' AND (ev_moved_on IS NULL OR NULLIF(ev_to_code, '') IS NULL) "
        "THEN 'missing_field' "
        "WHEN kind = 'move' AND (LENGTH(ev_to_code) <> 12 "
        "OR LTRIM(ev_to_code, '0123456789') <> '') THEN 'malformed_code' "
        f"WHEN on_date > {_lit(today)} THEN 'future_date' END")


def _distinct_events(raw: str, today: dt.date) -> str:
    """One row per event id, with the checks that need no register:
    repeated rows with the same content count as one, different contents conflict."""
    conflict = " OR ".join(
        f"min({c}) IS DISTINCT FROM max({c}) OR count({c}) NOT IN (0, count(*))"
        for c in _EVENT_FIELDS)
    firsts = ", ".join(f"min({c}) AS {c}" for c in _EVENT_FIELDS)
    return (
        f"SELECT *, CASE WHEN pre_reason IS NULL THEN pkey END AS mkey FROM ("
        f"SELECT *, {_pre_checks(today)} AS pre_reason FROM ("
        "SELECT *, CASE kind WHEN 'death' THEN ev_death_date ELSE ev_moved_on END AS on_date FROM ("
        f"SELECT event_id, count(*) AS copies, {firsts}, ({conflict}) AS conflicting "
        f"FROM ({raw}) GROUP BY event_id)))")


def _matched(reg: str) -> str:
    """Every event, numbered (``eid``: its row in ``ev``), with its register row and its
    status: ``reason`` (quarantine or unmatched) or NULL, ``already`` (the death is recorded
    with that date). The events are the build side of the hash join, whose Bloom filter
    DuckDB pushes into the register scan; the register is read once."""
    county_changed = "SUBSTR(r.hukou_area_code, 1, 6) IS DISTINCT FROM SUBSTR(e.ev_to_code, 1, 6)"
    return (
        "SELECT e.rowid AS eid, e.*, r.* EXCLUDE (pkey), "
        "CASE WHEN e.pre_reason IS NOT NULL THEN e.pre_reason "
        f"WHEN r.pkey IS NULL THEN '{UNMATCHED}' "
        "WHEN e.on_date < r.birth_date THEN 'before_birth' "
        "WHEN e.kind = 'death' AND r.death_date IS NOT NULL "
        "AND r.death_date <> e.ev_death_date THEN 'death_date_conflict' "
        "WHEN e.kind = 'move' AND r.death_date IS NOT NULL "
        "AND e.ev_moved_on > r.death_date THEN 'after_death' END AS reason, "
        "COALESCE(e.kind = 'death' AND r.death_date = e.ev_death_date, FALSE) AS already, "
        "YEAR(e.on_date) AS on_year, "
        "CASE WHEN e.kind = 'death' THEN CAST(e.ev_death_date + 1 AS DATE) "
        "ELSE e.ev_moved_on END AS from_date, "
        f"(e.kind = 'move' AND {county_changed}) AS county_changed, "
        f"CASE WHEN e.kind = 'death' THEN 0 WHEN {county_changed} THEN 1 ELSE 2 END AS head "
        f"FROM ev e LEFT JOIN ({reg}) r ON r.pkey = e.mkey")


#: ``st`` with the events matched to more than one register row quarantined (one row each)
_AMBIGUOUS = (
    "SELECT * EXCLUDE (n_match, rn) REPLACE ("
    "CASE WHEN n_match > 1 THEN 'ambiguous_match' ELSE reason END AS reason, "
    "already AND n_match = 1 AS already) FROM ("
    "SELECT *, count(*) OVER (PARTITION BY eid) AS n_match, "
    "row_number() OVER (PARTITION BY eid) AS rn FROM st) WHERE rn = 1")


def _year_query(program: Program, year: int, classes: dict[tuple[str, ...], int]) -> str:
    """The rows of claim year ``year`` where a valid matched event (view ``ok``) changes the
    result or the paying county, with both results, the change bits (``CHANGE_CODES``) and
    the class of the criteria failed after the event (``classes``: its codes → number; a
    reason key outside the table is an eligible row)."""
    table = reason_codes(program, year)
    if table is None:
        raise RulesError(f"{program.id}: its reasons cannot be precomputed, which the feed "
                         "path needs")
    fclass = ("COALESCE(CAST([" + ", ".join(str(classes.setdefault(c, len(classes)))
                                            for c in table)
              + f"] AS INTEGER[])[a.reason_key + 1], {classes.setdefault((), len(classes))})")
    facts = [f'"{n}"' for n in COLUMNS if n not in ("person_id", "death_date",
                                                    "hukou_area_code")]
    where = f"WHERE on_year <= {year}"
    carry = ("eid", "event_id", "ev_kind", "from_date", "head", "county_changed",
             "ev_to_code", "old_area")
    before = (f"(SELECT eid, event_id, kind AS ev_kind, from_date, head, county_changed, "
              f"ev_to_code, hukou_area_code AS old_area, pkey AS person_id, "
              f"{', '.join(facts)}, death_date, hukou_area_code FROM ok {where}) s")
    after = (f"(SELECT eid, pkey AS person_id, {', '.join(facts)}, "
             f"CASE WHEN kind = 'death' THEN ev_death_date ELSE death_date END AS death_date, "
             f"CASE WHEN kind = 'move' THEN ev_to_code ELSE hukou_area_code END "
             f"AS hukou_area_code FROM ok {where}) s")
    qb = compile_program(program, year, "duckdb", before, carry=carry, reason_keys=True)
    qa = compile_program(program, year, "duckdb", after, carry=("eid",), reason_keys=True)
    versions = "CAST([" + ", ".join(_lit(v) for v in version_texts(program)) + "] AS VARCHAR[])"
    changed = ("(b.eligible <> a.eligible OR b.months <> a.months "
               "OR b.amount_fen <> a.amount_fen OR b.version_key <> a.version_key)")
    bits = " + ".join(f"(CASE WHEN {cond} THEN {2 ** k} ELSE 0 END)" for k, cond in enumerate([
        "b.eligible = 1 AND a.eligible = 0", "b.eligible = 0 AND a.eligible = 1",
        "a.amount_fen < b.amount_fen", "a.amount_fen > b.amount_fen",
        "a.months <> b.months", "a.version_key <> b.version_key"]))
    return (
        f"SELECT * FROM (SELECT b.event_id, b.person_id AS person_key, b.ev_kind, "
        f"CAST({year} AS BIGINT) AS claim_year, b.from_date, "
        f"CAST(b.months AS BIGINT) AS old_months, CAST(a.months AS BIGINT) AS new_months, "
        f"CAST(b.amount_fen AS BIGINT) AS old_amount_fen, "
        f"CAST(a.amount_fen AS BIGINT) AS new_amount_fen, "
        f"({versions})[b.version_key + 1] AS old_rule_version, "
        f"({versions})[a.version_key + 1] AS new_rule_version, "
        f"b.old_area AS old_area_code, "
        f"CASE WHEN b.ev_kind = 'move' THEN b.ev_to_code ELSE b.old_area END "
        f"AS new_area_code, b.head, {bits} AS changes, "
        f"{fclass} AS fclass, {changed} AS ch, "
        f"(b.county_changed AND (b.eligible = 1 OR a.eligible = 1)) AS mv "
        f"FROM ({qb}) b JOIN ({qa}) a ON a.eid = b.eid) WHERE ch OR mv")


def _codes_table(classes: Mapping[tuple[str, ...], int]) -> pa.Table:
    """The reason codes of every (head, change bits, failed-criteria class) combination."""
    heads, changes, fclasses, codes = [], [], [], []
    for failed, number in classes.items():
        fails = [c if c == "not_covered" else f"fails:{c}" for c in failed]
        for h, head in enumerate(HEADS):
            for bits in range(2 ** len(CHANGE_CODES)):
                heads.append(h)
                changes.append(bits)
                fclasses.append(number)
                codes.append([head, *(c for k, c in enumerate(CHANGE_CODES) if bits >> k & 1),
                              *fails])
    return pa.table({
        "head": pa.array(heads, pa.int32()), "changes": pa.array(changes, pa.int32()),
        "fclass": pa.array(fclasses, pa.int32()),
        "reason_codes": pa.array(codes, pa.list_(pa.string()))})


#: the kinds of effect of a row of the year queries
_KINDS = ("CASE WHEN ev_kind = 'death' THEN ['stop'] WHEN ch AND mv THEN ['recalculate', 'move'] "
          "WHEN ch THEN ['recalculate'] ELSE ['move'] END")


def propose_effects(register: Path, events: Path | pa.Table, out: Path, *,
                    catalog: Catalog, years: Sequence[int],
                    program_id: str = "childcare-subsidy", key: str = "person_id",
                    kind: str | None = None, today: dt.date | None = None,
                    rejects: Path | None = None, threads: int | None = None,
                    memory_limit: str | None = None) -> FeedCounts:
    """Validate and match ``events`` against the Parquet ``register`` (one row per subject,
    identified by its ``key`` column, which the events carry too) and write the proposed
    effects to ``out`` (Parquet, the columns of ``EFFECT_SCHEMA``, ``person_key`` of the key's
    type; no particular order) for the claim ``years``. ``kind`` gives the kind of every
    event when the table has no ``kind`` column. ``rejects`` (Parquet) lists the quarantined
    and unmatched events with their reason. Nothing is written unless the whole run
    succeeds."""
    import duckdb

    if not years:
        raise RulesError("no claim year to evaluate")
    today = today or dt.date.today()
    programs = {y: catalog.for_year(program_id, y) for y in sorted(set(years))}
    needed: set[str] = set()
    for p in programs.values():
        needed |= program_columns(p)
    con = duckdb.connect(config={"preserve_insertion_order": False})
    try:
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        raw = _event_source(con, events, key, kind)
        reg = _register_source(register, key, needed)
        con.execute(f"CREATE TEMP TABLE ev AS {_distinct_events(raw, today)}")
        con.execute(f"CREATE TEMP TABLE st AS {_matched(reg)}")
        sizes = con.execute("SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM st)"
                            ).fetchone()
        if sizes is not None and sizes[0] != sizes[1]:
            con.execute(f"CREATE OR REPLACE TEMP TABLE st AS {_AMBIGUOUS}")
        con.execute("CREATE TEMP VIEW ok AS SELECT * FROM st "
                    "WHERE reason IS NULL AND NOT already")
        classes: dict[tuple[str, ...], int] = {}
        union = " UNION ALL ".join(_year_query(p, y, classes) for y, p in programs.items())
        con.register("codes_t", _codes_table(classes))
        cols = ", ".join(c for c in EFFECT_SCHEMA.names if c not in ("kind", "reason_codes"))
        effects = (f"SELECT {cols}, unnest({_KINDS}) AS kind, c.reason_codes FROM ({union}) "
                   "JOIN codes_t c USING (head, changes, fclass)")
        order = ", ".join(EFFECT_SCHEMA.names)
        with atomic_output(out) as tmp:
            target = _lit(str(tmp))
            con.execute(f"COPY (SELECT {order} FROM ({effects})) TO {target} (FORMAT parquet)")
            by_kind = dict(con.execute(f"SELECT kind, count(*) FROM read_parquet({target}) "
                                       "GROUP BY kind").fetchall())
        if rejects is not None:
            with atomic_output(rejects) as tmp:
                con.execute(
                    "COPY (SELECT event_id, kind, pkey AS person_key, "
                    f"CASE WHEN reason = '{UNMATCHED}' THEN 'unmatched' "
                    "ELSE 'quarantined' END AS status, reason FROM st "
                    f"WHERE reason IS NOT NULL) TO {_lit(str(tmp))} (FORMAT parquet)")
        return _counts(con, {k: int(by_kind[k]) for k in EFFECT_KINDS if k in by_kind})
    finally:
        con.close()


def _counts(con: Any, by_kind: dict[str, int]) -> FeedCounts:
    row = con.execute(
        "SELECT sum(copies), count(*), count(*) FILTER (WHERE reason IS NULL), "
        f"count(*) FILTER (WHERE reason = '{UNMATCHED}'), count(*) FILTER (WHERE already) "
        "FROM st").fetchone()
    assert row is not None
    read, events, matched, unmatched, already = (int(v or 0) for v in row)
    by_reason = {str(r): int(n) for r, n in con.execute(
        f"SELECT reason, count(*) FROM st WHERE reason IS NOT NULL AND reason <> '{UNMATCHED}' "
        "GROUP BY reason").fetchall()}
    return FeedCounts(
        read=read, events=events, duplicates=read - events, matched=matched,
        unmatched=unmatched, quarantined=sum(by_reason.values()), already_recorded=already,
        quarantined_by_reason={r: by_reason[r] for r in QUARANTINE_REASONS if r in by_reason},
        effects_by_kind=by_kind)
