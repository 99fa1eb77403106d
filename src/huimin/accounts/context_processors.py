from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from huimin.accounts.middleware import needs_second_factor
from huimin.accounts.models import Role


def role(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    r = getattr(user, "role", "")
    owes = needs_second_factor(user) and not getattr(user, "is_verified", lambda: True)()
    return {
        "role": r,
        "Role": Role,
        "is_cadre": r in (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER),
        "is_finance": r == Role.FINANCE_OFFICER,
        "is_auditor": r == Role.AUDITOR,
        # logged in with the password but the TOTP code still to come: no menu yet
        "owes_second_factor": owes,
    }
