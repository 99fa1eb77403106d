"""Area-scoped access helpers: every query of personal data goes through these.

Outsiders (the object lies outside the user's areas) get 404, so that they learn nothing of
its existence; a user who may see an object but not do what was asked gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from huimin.accounts.models import Role, User

if TYPE_CHECKING:
    from huimin.cases.models import Case
    from huimin.payments.models import PaymentBatch
    from huimin.registry.models import Household, Person

M = TypeVar("M", bound=Model)

READ_ROLES = frozenset(Role.values)


def area_prefixes(user: Any) -> list[str]:
    """The code prefixes of the user's areas (cached on the user object)."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached: list[str] | None = getattr(user, "_area_prefixes", None)
    if cached is None:
        cached = sorted({a.prefix for a in user.areas.all()})
        user._area_prefixes = cached
    return cached


def area_q(user: Any, field: str) -> Q:
    """A filter keeping rows whose area code (``field``) lies in one of the user's areas."""
    prefixes = area_prefixes(user)
    if not prefixes:
        return Q(pk__in=[])
    q = Q()
    for p in prefixes:
        q |= Q(**{f"{field}__startswith": p})
    return q


def in_user_area(user: Any, code: str) -> bool:
    return any(code.startswith(p) for p in area_prefixes(user))


def require_role(user: Any, roles: Iterable[str]) -> None:
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied("请先登录")
    allowed = set(roles)
    if user.role not in allowed:
        labels = "、".join(Role(r).label for r in Role.values if r in allowed)
        raise PermissionDenied(f"此操作仅限{labels}")


def _scoped(user: Any, qs: QuerySet[M], field: str) -> QuerySet[M]:
    if not getattr(user, "is_authenticated", False) or user.role not in READ_ROLES:
        return qs.none()
    return qs.filter(area_q(user, field))


def persons_for(user: Any) -> QuerySet[Person]:
    from huimin.registry.models import Person

    return _scoped(user, Person.objects.select_related("area"), "area__code")


def households_for(user: Any) -> QuerySet[Household]:
    from huimin.registry.models import Household

    return _scoped(user, Household.objects.select_related("area"), "area__code")


def cases_for(user: Any) -> QuerySet[Case]:
    from huimin.cases.models import Case

    qs = Case.objects.select_related("subject", "area", "program", "applicant")
    return _scoped(user, qs, "area__code")


def batches_for(user: Any) -> QuerySet[PaymentBatch]:
    from huimin.payments.models import PaymentBatch

    return _scoped(user, PaymentBatch.objects.select_related("program", "area"), "area__code")


def _get(qs: QuerySet[M], pk: object) -> M:
    try:
        return qs.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("记录不存在或不在您的管辖范围内") from None


def get_person_for_user(user: Any, pk: object) -> Person:
    return _get(persons_for(user), pk)


def get_household_for_user(user: Any, pk: object) -> Household:
    return _get(households_for(user), pk)


def get_case_for_user(
    user: Any, pk: object, *, write: bool = False, roles: Iterable[str] | None = None
) -> Case:
    """The case if it lies in the user's areas (else 404); with write, also check the role."""
    case = _get(cases_for(user), pk)
    if write:
        require_role(user, roles or ())
    return case


def get_batch_for_user(
    user: Any, pk: object, *, write: bool = False, roles: Iterable[str] | None = None
) -> PaymentBatch:
    batch = _get(batches_for(user), pk)
    if write:
        require_role(user, roles or ())
    return batch


def user_can(user: Any, roles: Iterable[str]) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.role in set(roles))


__all__ = [
    "User",
    "area_q",
    "batches_for",
    "cases_for",
    "get_batch_for_user",
    "get_case_for_user",
    "get_household_for_user",
    "get_person_for_user",
    "households_for",
    "in_user_area",
    "persons_for",
    "require_role",
    "user_can",
]
