"""What waits for a user in the register: change requests to confirm (home page tiles)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huimin.front.tiles import Tile
from huimin.registry.changes import CONFIRM_ROLES, pending_for


def pending(user: Any) -> list[Tile]:
    role = getattr(user, "role", "")
    if not any(role in roles for roles in CONFIRM_ROLES.values()):
        return []
    url = reverse("registry:changes") + "?status=pending"
    return [Tile("changes.pending", "待确认的变更登记", pending_for(user).count(), url,
                 note="他人提交、由您这一级确认")]
