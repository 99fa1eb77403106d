"""Loading division codes into the Area tree from the shipped snapshot or a deployer's file."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from huimin.lib import divisions
from huimin.registry.models import Area
from huimin.registry.snapshot import DEMO_COUNTY, SNAPSHOT, SNAPSHOT_SOURCE, read_snapshot

__all__ = [
    "DEMO_COUNTY", "SNAPSHOT", "SNAPSHOT_SOURCE", "load_areas", "load_county", "read_snapshot",
]


@transaction.atomic
def load_areas(rows: list[tuple[str, str, str]]) -> int:
    """Insert areas parents first; existing codes keep their row (names are updated)."""
    existing = {a.code: a for a in Area.objects.all()}
    created = 0
    for code, name, level in sorted(rows, key=lambda r: (len(divisions.prefix(r[0])), r[0])):
        parent_code = divisions.parent_code(code)
        parent = existing.get(parent_code) if parent_code else None
        area = existing.get(code)
        if area is None:
            area = Area.objects.create(code=code, name=name, level=level, parent=parent)
            existing[code] = area
            created += 1
        elif area.name != name:
            area.name = name
            area.save(update_fields=["name"])
    return created


def load_county(county: str = DEMO_COUNTY, path: Path = SNAPSHOT) -> int:
    return load_areas(read_snapshot(county, path))
