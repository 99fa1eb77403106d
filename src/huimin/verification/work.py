"""What waits for a user in the data feeds: effects to confirm, 免申即享 offers to follow up."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huimin.accounts.models import Role
from huimin.front.tiles import Tile
from huimin.verification.apply import CONFIRM_ROLES, effects_for
from huimin.verification.models import EffectKind, EffectStatus


def pending(user: Any) -> list[Tile]:
    role = getattr(user, "role", "")
    effects = effects_for(user)
    tiles: list[Tile] = []
    if role in CONFIRM_ROLES:
        n = (effects.exclude(kind=EffectKind.OFFER).filter(status=EffectStatus.PROPOSED)
             .count())
        tiles.append(Tile("verification.effects", "待确认的比对事项", n,
                          reverse("feeds:effects") + f"?status={EffectStatus.PROPOSED}",
                          note="死亡、迁移等数据比对后拟处理的事项"))
    if role in (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER):
        # the offers page lists every offer not dismissed, with whether the family applied
        n = (effects.filter(kind__in=[EffectKind.OFFER, EffectKind.ENROL])
             .exclude(status=EffectStatus.DISMISSED).count())
        tiles.append(Tile("verification.offers", "免申即享名单", n, reverse("feeds:offers"),
                          note="符合条件尚未申请的家庭，请联系告知"))
    return tiles
