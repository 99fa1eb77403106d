"""The access helpers' refusals for a visitor who is not logged in, or has no area.

Each scoped helper of ``huimin.accounts.access``, ``huimin.payments.access``,
``huimin.registry.changes`` and ``huimin.verification.apply`` gives an anonymous visitor
nothing (never an unfiltered queryset), and a user without an area sees no row.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from huimin.accounts import access
from huimin.accounts import actions as account_actions
from huimin.accounts.models import User
from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.payments import access as pay_access
from huimin.programs.models import Program
from huimin.registry.changes import changes_for
from huimin.registry.models import Person
from huimin.verification.apply import effects_for
from tests.conftest import Family, Personas

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_sees_nothing(personas: Personas, family_a: Family) -> None:
    case_actions.submit_application(
        personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
        subject=family_a.child, claim_year=2026, applicant=family_a.mother,
        bank_account=family_a.account)
    nobody = AnonymousUser()
    assert access.area_prefixes(nobody) == []
    assert not access.in_user_area(nobody, family_a.child.area.code)
    assert list(access.persons_for(nobody)) == []
    assert list(access.cases_for(nobody)) == []
    assert list(pay_access.cycles_for(nobody)) == []
    assert list(changes_for(nobody)) == []
    assert list(effects_for(nobody)) == []
    # the same helpers give an area's user its rows: the refusal is the visitor's
    assert access.persons_for(personas.cadre_a).filter(pk=family_a.child.pk).exists()
    assert access.cases_for(personas.cadre_a).count() == 1


def test_require_role_refuses_an_anonymous_visitor() -> None:
    with pytest.raises(PermissionDenied, match="请先登录"):
        access.require_role(AnonymousUser(), ["county_approver"])


def test_a_user_without_an_area_sees_no_row(personas: Personas, family_a: Family) -> None:
    stray = User.objects.create_user(username="stray", password="x-Long-enough-9",
                                     role="village_cadre")
    assert access.area_prefixes(stray) == []
    assert list(access.persons_for(stray)) == []
    assert Person.objects.filter(pk=family_a.child.pk).exists()


def test_a_user_without_a_password_cannot_log_in(personas: Personas) -> None:
    before_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    user: Any = account_actions.create_user(personas.admin, username="no_password",
                                            password=None, role="auditor")
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert not user.check_password("")
    assert list(AuditEvent.objects.filter(pk__gt=before_id).values_list("action", flat=True)
                ) == ["account.create"]
