"""Who may see and do what with cycles, batches and lines (see huimin.accounts.access).

Outsiders (the cycle's area is not theirs) get 404; roles that may not read the payment books
get 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import Http404

from huimin.accounts.access import area_q, batches_for, require_role
from huimin.accounts.models import Role
from huimin.payments.models import PaymentCycle, PaymentLine

FINANCE = (Role.FINANCE_OFFICER,)
APPROVER = (Role.COUNTY_APPROVER,)
BOOK_READERS = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER, Role.AUDITOR, Role.ADMIN)


def cycles_for(user: Any) -> QuerySet[PaymentCycle]:
    qs = PaymentCycle.objects.select_related("program", "area")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(area_q(user, "area__code"))


def get_cycle_for_user(user: Any, pk: object, *,
                       roles: Iterable[str] = BOOK_READERS) -> PaymentCycle:
    try:
        cycle = cycles_for(user).get(pk=pk)  # type: ignore[misc]
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("记录不存在或不在您的管辖范围内") from None
    require_role(user, roles)
    return cycle


def get_line_for_user(user: Any, pk: object, *, roles: Iterable[str]) -> PaymentLine:
    try:
        line = (PaymentLine.objects.select_related("batch", "case")
                .get(pk=pk, batch__in=batches_for(user)))  # type: ignore[misc]
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("记录不存在或不在您的管辖范围内") from None
    require_role(user, roles)
    return line
