"""登记人员: a household number that is not registered is refused unless 新户 is chosen."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.registry.models import Household, Person
from tests.conftest import PASSWORD, VILLAGE_A, Family, Personas, new_id

pytestmark = pytest.mark.django_db


def post(**over: str) -> tuple[int, str]:
    values = {"name": "蔡思琪", "id_number": new_id(date(1991, 1, 2), "F"), "sex": "女",
              "birth_date": "1991-01-02", "area_code": VILLAGE_A, "hukou_type": "农业",
              "household": "", "death_date": "", "father_id": "", "mother_id": "",
              "bank_name": "", "account": ""}
    values.update(over)
    c = Client()
    assert c.login(username="cadre_a", password=PASSWORD)
    r = c.post(reverse("registry:person_new"), values)
    return r.status_code, r.content.decode()


def nothing_saved(households: int) -> None:
    assert not Person.objects.filter(name="蔡思琪").exists()
    assert Household.objects.count() == households
    assert not AuditEvent.objects.filter(action="registry.import").exists()


def test_a_household_number_not_registered_is_refused(personas: Personas) -> None:
    status, page = post(household=f"{VILLAGE_A}-0999", new_household="0")
    assert status == 400
    assert (f"户号：未找到本辖区的此户（{VILLAGE_A}-0999）；如为新户，请选择「新户」，"
            "户号由系统编号") in page
    nothing_saved(0)


def test_no_number_without_choosing_a_new_household_is_refused(personas: Personas) -> None:
    status, page = post()
    assert status == 400 and "户号：请填写已登记的户号，或选择「新户」" in page
    nothing_saved(0)


def test_a_number_with_new_household_chosen_is_refused(personas: Personas) -> None:
    status, page = post(household=f"{VILLAGE_A}-0999", new_household="1")
    assert status == 400
    assert "户号：选择「新户」时户号由系统编号，请清空户号" in page
    nothing_saved(0)


def test_new_household_chosen_numbers_one(personas: Personas) -> None:
    status, _ = post(new_household="1")
    assert status == 302
    person = Person.objects.get(name="蔡思琪")
    assert person.household is not None
    assert person.household.number == f"{VILLAGE_A}-0001"


def test_a_registered_household_is_joined(personas: Personas, family_a: Family) -> None:
    hh = family_a.child.household
    status, _ = post(household=hh.number, new_household="0")
    assert status == 302
    assert Person.objects.get(name="蔡思琪").household == hh


def test_the_form_offers_the_choice(personas: Personas) -> None:
    c = Client()
    assert c.login(username="cadre_a", password=PASSWORD)
    page = c.get(reverse("registry:person_new")).content.decode()
    assert 'data-testid="household-choice"' in page and "新户（户号由系统编号）" in page
