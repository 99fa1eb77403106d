"""Duplicate-person test data, built through actions."""

from __future__ import annotations

from typing import Any

from huimin.identity.match.model import MODEL_VERSION


def duplicate_of(actor: Any, person: Any, *, name: str | None = None,
                 area: Any = None) -> Any:
    """A second register record of ``person``: the same birth date and sex, its own valid ID
    number (the register refuses an invalid one), the name given or the same."""
    from huimin.registry import actions
    from tests.conftest import new_id

    return actions.create_person(actor, name=name or person.name,
                                 id_number=new_id(person.birth_date, person.sex),
                                 sex=person.sex, birth_date=person.birth_date,
                                 area=area or person.area, hukou_type=person.hukou_type)


def scored_row(a: Any, b: Any, p: float = 0.97) -> dict[str, Any]:
    """A row as ``pairs.rows`` gives it (for tests that queue without running the model)."""
    lo, hi = sorted([a, b], key=lambda x: x.pk)
    return {"person_id_a": lo.pk, "person_id_b": hi.pk, "match_probability": p,
            "model_version": MODEL_VERSION,
            "id_level": "two_valid", "id_weight": -13.2, "name_level": "exact",
            "name_weight": 11.6, "birth_level": "exact", "birth_weight": 13.6,
            "sex_level": "exact", "sex_weight": 1.0, "area_level": "village",
            "area_weight": 8.2}


def queued_pair(actor: Any, a: Any, b: Any, p: float = 0.97) -> Any:
    from huimin.identity.actions import queue_pairs
    from huimin.identity.models import CandidatePair

    queue_pairs(actor, [scored_row(a, b, p)], scope="county")
    lo, hi = sorted([a, b], key=lambda x: x.pk)
    return CandidatePair.objects.get(person_a=lo, person_b=hi)


def identity_world(w: Any) -> Any:
    """For the authorization matrix: a duplicate of the world's child, queued. Built once."""
    cached = getattr(w, "_identity", None)
    if cached is not None:
        return cached
    from huimin.accounts.models import User

    cadre = User.objects.get(username="cadre_a")
    county = User.objects.get(username="county")
    dup = duplicate_of(cadre, w.person)
    w._identity = queued_pair(county, w.person, dup)
    return w._identity


def claim_world(w: Any) -> Any:
    """For the authorization matrix: the world's person claimed in another county too (per a
    national snapshot), an open duplicate claim. Built once."""
    cached = getattr(w, "_claim", None)
    if cached is not None:
        return cached
    import tempfile
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from huimin.accounts.models import User
    from huimin.identity import runs
    from huimin.identity.models import DuplicateClaim

    county = User.objects.get(username="county")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "national.parquet"
        pq.write_table(pa.table({
            "person_key": pa.array([runs.person_key(w.person.id_hash)], pa.int64()),
            "hukou_area_code": ["440524101001"]}), path)
        runs.run_claims(county, path)
    w._claim = DuplicateClaim.objects.get(person=w.person)
    return w._claim
