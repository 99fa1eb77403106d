from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from huimin.accounts.models import Role


def role(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    r = getattr(user, "role", "")
    return {
        "role": r,
        "Role": Role,
        "is_cadre": r in (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER),
        "is_finance": r == Role.FINANCE_OFFICER,
        "is_auditor": r == Role.AUDITOR,
    }
