"""A county's register as a Parquet snapshot for the province's cluster (``huimin rules
snapshot``; the file format is ``huimin.rules.snapshot``, the procedure docs/scale-out.md).

Who: a county approver or an administrator, for a county within their areas (the persons
come from ``persons_for``). What: every person on the county's register with the columns the
rules read (``registry_view.registry_rows``), persons who moved out of the county left out
(the county they moved to registers them). Ids are pseudonymised with the province's key
unless asked otherwise; then ``person_id`` is the register's own person number, as in the
county's other rules runs — the identity number is never written. One audit event records
the file, its date and row count, in the transaction that makes the file final.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area, persons_for
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.programs.registry_view import registry_rows
from huimin.registry.crypto import box
from huimin.registry.models import Area, Person
from huimin.rules import snapshot
from huimin.rules.columns import COLUMNS
from huimin.rules.snapshot import SnapshotError

SNAPSHOT_ROLES = (Role.COUNTY_APPROVER, Role.ADMIN)
#: persons read and written at a time (the registry view is built per chunk)
CHUNK = 5000


@dataclass(frozen=True)
class Snapshot:
    path: Path
    rows: int
    county: str
    day: date
    moved_out: int
    key_id: str


def _county(actor: Any, county: str | None) -> Area:
    if getattr(actor, "role", None) not in SNAPSHOT_ROLES:
        role = Role(actor.role).label if actor.role in Role.values else "未设置"
        raise SnapshotError(f"导出登记快照仅限县级审批员、系统管理员；用户 {actor.username} "
                            f"的角色是{role}")
    if county:
        code = county.strip()
        if not re.fullmatch(r"\d{6}", code):
            raise SnapshotError(f"--county：应为 6 位县级区划代码，不是 {county!r}")
        area = Area.objects.filter(code=code + "000000", level="county").first()
        if area is None or not in_user_area(actor, area.code):
            raise SnapshotError(f"县级区划 {code} 不在用户 {actor.username} 的管辖范围内")
        return area
    counties: list[Area] = [a for a in actor.areas.all() if a.level == "county"]
    if len(counties) == 1:
        return counties[0]
    if not counties:
        raise SnapshotError(f"用户 {actor.username} 的管辖范围不是整县，无法导出县登记快照")
    names = "、".join(f"{a.name}（{a.code[:6]}）" for a in counties)
    raise SnapshotError(f"用户 {actor.username} 负责多个县：{names}；请用 --county 指定其一")


def pseudonym_key(explicit: str | None = None) -> str:
    key = explicit if explicit is not None else settings.SNAPSHOT_KEY
    if not key:
        raise SnapshotError("未设置假名密钥：请设置 HUIMIN_SNAPSHOT_KEY（或 "
                            "HUIMIN_SNAPSHOT_KEY_FILE，或用 --key-file）为全省统一的密钥；"
                            "只在本县使用时可改用 "
                            "--no-pseudonymise（写出本县人员编号）")
    if key == settings.DATA_KEY:
        raise SnapshotError("假名密钥不能与本县的数据加密密钥（HUIMIN_DATA_KEY）相同")
    snapshot.key_id(key)  # refuses a short key
    return key


def write_snapshot(actor: Any, out_dir: Path, *, day: date | None = None,
                   county: str | None = None, pseudonymise: bool = True,
                   key: str | None = None) -> Snapshot:
    """Write the county's snapshot into ``out_dir``; refusals raise ``SnapshotError``."""
    area = _county(actor, county)
    today = timezone.localdate()
    day = day or today
    if day > today:
        raise SnapshotError(f"--date：{day.isoformat()} 晚于今天")
    secret = pseudonym_key(key) if pseudonymise else None
    kid = snapshot.key_id(secret) if secret is not None else ""
    prefix = area.code[:6]
    # a duplicate merged into another record is not on the register: it would be counted twice
    register = persons_for(actor).filter(area__code__startswith=prefix, merged_into=None)
    moved_out = register.exclude(moved_out_on=None).count()
    ids = list(register.filter(moved_out_on=None).order_by("pk").values_list("pk", flat=True))
    path = Path(out_dir).resolve() / snapshot.file_name(prefix, day)
    meta = {
        "snapshot_date": day.isoformat(), "county": prefix, "county_name": area.name,
        "written_at": timezone.now().isoformat(timespec="seconds"),
        "person_id": "hmac-sha256" if secret is not None else "register",
        "key_id": kid, "moved_out_excluded": str(moved_out), "columns": ",".join(COLUMNS),
    }
    with transaction.atomic(), snapshot.SnapshotWriter(path, meta) as out:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows = registry_rows(Person.objects.filter(pk__in=chunk).order_by("pk"))
            if secret is not None:
                sealed = dict(Person.objects.filter(pk__in=chunk)
                              .values_list("pk", "id_sealed"))
                for row in rows:
                    number = box().unseal(sealed[int(row["person_id"])])
                    row["person_id"] = snapshot.pseudonym(secret, number)
            out.write(rows)
        record(actor, "registry.snapshot", area, area_code=area.code, file=path.name,
               rows=out.rows, snapshot_date=day.isoformat(),
               pseudonymised=secret is not None, key_id=kid, moved_out_excluded=moved_out)
    return Snapshot(path, out.rows, prefix, day, moved_out, kid)
