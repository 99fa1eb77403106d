"""What waits for a reviewer in identity resolution: duplicate pairs to adjudicate and, for
the county, duplicate claims to decide (home page tiles)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huimin.front.tiles import Tile
from huimin.identity.actions import CLAIM_ROLES, REVIEW_ROLES, claims_for, pairs_for
from huimin.identity.models import PENDING


def pending(user: Any) -> list[Tile]:
    role = getattr(user, "role", "")
    if role not in set(REVIEW_ROLES):
        return []
    url = reverse("identity:queue")
    tiles = [Tile("identity.pairs", "待裁决的疑似重复人员",
                  pairs_for(user).filter(status__in=PENDING).count(), url,
                  note="同一人是否登记了两次：合并、不同的人或实地核查")]
    if role in set(CLAIM_ROLES):
        tiles.append(Tile("identity.claims", "待裁定的疑似重复申领",
                          claims_for(user).filter(status__in=PENDING).count(),
                          url + "#claims", note="裁定前该人员的发放暂停", tone="warning"))
    return tiles
