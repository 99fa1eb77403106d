"""Running the matcher from the database: the county register, new records against it, and
the county's claims against a provincial or national snapshot."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from django.db import transaction

from huimin.accounts.access import persons_for, require_role
from huimin.accounts.models import Role
from huimin.audit.events import actor_area_code, record
from huimin.identity.actions import (
    REVIEW_ROLES,
    QueueResult,
    hold_for_claim,
    person_print,
    queue_pairs,
)
from huimin.identity.models import PENDING, DuplicateClaim, PairStatus


def threshold_setting() -> float:
    """The queue's threshold (configuration: ``HUIMIN_DUPLICATES_THRESHOLD``, default 0.5)."""
    return float(os.environ.get("HUIMIN_DUPLICATES_THRESHOLD", "0.5"))


def _arrow(persons: Any) -> Any:
    import pyarrow as pa

    rows = list(persons.select_related("area").order_by("pk"))
    return pa.table({
        "person_id": pa.array([p.pk for p in rows], pa.int64()),
        "name": [p.name for p in rows],
        "id_number": [p.id_number for p in rows],
        "sex": [p.sex for p in rows],
        "birth_date": pa.array([p.birth_date for p in rows], pa.date32()),
        "hukou_area_code": [p.area.code for p in rows],
    })


def run_county(actor: Any, *, threshold: float | None = None,
               new: list[int] | None = None, scope: str = "county") -> QueueResult:
    """Score the actor's register (or only ``new`` records against the rest of it) and queue
    the pairs at or above the threshold."""
    import duckdb

    from huimin.identity.match import pairs, prepare

    require_role(actor, REVIEW_ROLES)
    limit = threshold_setting() if threshold is None else threshold
    register = persons_for(actor).filter(death_date__isnull=True, merged_into=None)
    con = duckdb.connect()
    if new:
        prepare.load_arrow(con, _arrow(register.filter(pk__in=new)), "new_people")
        rest = register.exclude(pk__in=new)
        if not rest.exists():
            return QueueResult()
        prepare.load_arrow(con, _arrow(rest), "people")
        pairs.score(con, ["new_people", "people"], limit)
    else:
        prepare.load_arrow(con, _arrow(register), "people")
        pairs.score(con, ["people"], limit)
    result = queue_pairs(actor, pairs.rows(con), scope=scope)
    record(actor, "identity.scan", actor, area_code=actor_area_code(actor), scope=scope,
           threshold=limit, new=result.new, rescored=result.rescored,
           reopened=result.reopened, kept_decided=result.kept_decided)
    return result


def run_new_records(pks: list[int]) -> QueueResult:
    """Score new or changed records against the rest of their county's register, and among
    themselves when there are several (an import's duplicates inside one file) — the
    system's own run after a registration, an import or a change: no user, every pair
    found is audited as the system's."""
    import duckdb

    from huimin.identity.match import pairs, prepare
    from huimin.registry.models import Person

    total = QueueResult()
    living = Person.objects.filter(death_date__isnull=True, merged_into=None)
    changed = list(living.filter(pk__in=pks).select_related("area"))
    for county in sorted({p.area.code[:6] for p in changed}):
        register = living.filter(area__code__startswith=county)
        new = [p.pk for p in changed if p.area.code.startswith(county)]
        rest = register.exclude(pk__in=new)
        against = rest.exists()
        if not against and len(new) < 2:
            continue
        con = duckdb.connect()
        prepare.load_arrow(con, _arrow(register.filter(pk__in=new)), "new_people")
        scored: list[dict[str, Any]] = []
        if against:
            prepare.load_arrow(con, _arrow(rest), "people")
            pairs.score(con, ["new_people", "people"], threshold_setting())
            scored += pairs.rows(con)
        if len(new) > 1:
            pairs.score(con, ["new_people"], threshold_setting(), out="new_pairs",
                        register_size=register.count())
            scored += pairs.rows(con, "new_pairs")
        found = queue_pairs(None, scored, scope="change")
        total.new += found.new
        total.reopened += found.reopened
    return total


def person_key(id_hash: str) -> int:
    """The snapshot's person_key of a record: the first 64 bits of its keyed ID hash, as a
    signed 64-bit integer."""
    value = int(id_hash[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


class ClaimsResult(QueueResult):
    def summary(self) -> str:
        return f"新增疑似重复申领 {self.new} 人，仍待裁决 {self.rescored} 人"


def county_claims(actor: Any) -> tuple[Any, dict[int, Any], str]:
    """The county's current claims as a snapshot table (person_key, hukou_area_code,
    claimant_key, program_id): one row per subject and programme, the latest year's case
    and its claimant. Returns the table, the subjects by key and the county's code."""
    import pyarrow as pa

    from huimin.accounts.access import cases_for

    require_role(actor, (Role.COUNTY_APPROVER,))
    cases = cases_for(actor).select_related("subject__area", "applicant", "program").exclude(
        state__in=("rejected", "stopped", "transferred")).order_by("claim_year", "pk")
    latest = {(c.subject_id, c.program.code): c for c in cases}
    own = list(latest.values())
    by_key = {person_key(c.subject.id_hash): c.subject for c in own}
    county = own[0].subject.area.code[:6] if own else ""
    table = pa.table({
        "person_key": pa.array([person_key(c.subject.id_hash) for c in own], pa.int64()),
        "hukou_area_code": pa.array([c.subject.area.code for c in own], pa.string()),
        "claimant_key": pa.array([person_key((c.applicant or c.subject).id_hash) for c in own],
                                 pa.int64()),
        "program_id": pa.array([c.program.code for c in own], pa.string())})
    return table, by_key, county


def write_claims(actor: Any, out_dir: Path) -> tuple[Path, int]:
    """The county's claims as a Parquet file for the province's duplicate-claim check
    (``claims-<county>-<date>.parquet``; keys, area codes and programme ids, no name or
    number). Written whole or not at all; an existing file is never overwritten."""
    import pyarrow.parquet as pq
    from django.utils import timezone

    from huimin.identity.match import MatchInputError

    table, _, county = county_claims(actor)
    if not county:
        raise MatchInputError("本县没有在办的申领，未写出文件")
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise MatchInputError(f"--out：目录 {out_dir} 不存在")
    path = out_dir / f"claims-{county}-{timezone.localdate().isoformat()}.parquet"
    if path.exists():
        raise MatchInputError(f"--out：{path.name} 已存在，不覆盖")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        with transaction.atomic():
            record(actor, "identity.claims_export", actor, area_code=actor_area_code(actor),
                   file=path.name, rows=table.num_rows)
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, table.num_rows


def run_claims(actor: Any, snapshot: Path) -> ClaimsResult:
    """The county's current claims (one per subject and programme, with its claimant) among
    themselves and against the snapshot's claims of other counties, by the rules' stacking
    groups: each subject with a conflicting claim becomes an open ``DuplicateClaim`` (which
    holds the case's payment back while open)."""
    import duckdb

    from huimin.identity.match import claims
    from huimin.programs import entitlement

    table, by_key, county = county_claims(actor)
    con = duckdb.connect()
    con.register("local_claims", table)
    claims.open_snapshot(con, [snapshot])  # refuses another schema before anything changes
    claims.against(con, [snapshot], county, "local_claims",
                   groups=entitlement.catalog().exclusive_groups())
    found = con.execute("SELECT person_key, kind, claims, counties FROM dup_claims").fetchall()
    result = ClaimsResult()
    with transaction.atomic():
        for key, kind, n, counties in found:
            person = by_key[int(key)]
            open_ = DuplicateClaim.objects.filter(person=person, status__in=PENDING).first()
            if open_ is not None:
                result.rescored += 1
                continue
            dc = DuplicateClaim.objects.create(
                person=person, kind=kind, counties=list(counties), claims=int(n),
                snapshot=snapshot.name,
                fingerprint=hashlib.sha256(person_print(person).encode()).hexdigest(),
                status=PairStatus.OPEN)
            record(actor, "identity.claim_found", dc, person_id=person.pk,
                   area_code=person.area.code, kind=kind, counties=list(counties),
                   snapshot=snapshot.name)
            hold_for_claim(actor, dc)
            result.new += 1
        record(actor, "identity.scan", actor, area_code=actor_area_code(actor),
               scope="claims", snapshot=snapshot.name, new=result.new)
    return result
