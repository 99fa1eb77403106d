"""登记人员: the single-person form, with the same checks as an imported row."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from huimin.lib.idnumber import make
from huimin.registry.models import BankAccount, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Personas

pytestmark = pytest.mark.django_db
MOTHER = make("445224", date(1991, 1, 2), 24)
CHILD = make("445224", date(2025, 3, 4), 35)


def form(**over: str) -> dict[str, str]:
    values = {"name": "蔡思琪", "id_number": MOTHER, "sex": "女", "birth_date": "1991-01-02",
              "area_code": VILLAGE_A, "hukou_type": "农业", "household": "", "new_household": "1",
              "death_date": "",
              "father_id": "", "mother_id": "", "bank_name": "", "account": ""}
    values.update(over)
    return values


def test_register_mother_then_child_with_account(personas: Personas) -> None:
    c = Client()
    c.login(username="cadre_a", password=PASSWORD)
    r = c.post(reverse("registry:person_new"), form(bank_name="农村商业银行",
                                                     account="6230000011112222"))
    assert r.status_code == 302
    mother = Person.objects.get(name="蔡思琪")
    assert mother.household is not None and mother.household.number.startswith(VILLAGE_A)
    assert BankAccount.objects.get(person=mother).account_number == "6230000011112222"
    r = c.post(reverse("registry:person_new"), form(
        name="林乐乐", id_number=CHILD, sex="男", birth_date="2025-03-04",
        household=mother.household.number, new_household="0", mother_id=MOTHER))
    assert r.status_code == 302
    child = Person.objects.get(name="林乐乐")
    assert child.household == mother.household
    assert child.parent_links.get().parent == mother


def test_errors_name_the_field_and_save_nothing(personas: Personas) -> None:
    c = Client()
    c.login(username="cadre_a", password=PASSWORD)
    r = c.post(reverse("registry:person_new"), form(birth_date="1991-01-03", sex="男"))
    assert r.status_code == 400
    page = r.content.decode()
    assert "身份证号码：号码中的出生日期 1991-01-02 与登记的出生日期 1991-01-03 不一致" in page
    r = c.post(reverse("registry:person_new"), form(area_code=VILLAGE_B))
    assert r.status_code == 400 and "不在您的管辖范围内" in r.content.decode()
    assert not Person.objects.exists()


def test_wrong_role_gets_403(personas: Personas) -> None:
    c = Client()
    c.login(username="finance", password=PASSWORD)
    assert c.post(reverse("registry:person_new"), form()).status_code == 403
    assert not Person.objects.exists()


def test_one_person_as_both_parents_is_refused(personas: Personas, family_a) -> None:  # type: ignore[no-untyped-def]
    """The same ID number as father and mother is named, not a server error (it was one:
    the second parent link broke the unique parent-child pair)."""
    c = Client()
    c.force_login(personas.cadre_a)
    parent = family_a.mother.id_number
    r = c.post(reverse("registry:person_new"), form(
        name="林乐乐", id_number=CHILD, sex="男", birth_date="2025-03-04",
        household=family_a.mother.household.number, new_household="0",
        father_id=parent, mother_id=parent.lower()))
    assert r.status_code == 400
    assert "母亲身份证号码：不能与父亲身份证号码相同" in r.content.decode()
    assert not Person.objects.filter(name="林乐乐").exists()
