"""Finding 4: the import and the single-person form look up households, parents and ID
numbers within the user's areas only, and answer the same whether a number exists elsewhere."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, FileRejected
from huimin.registry import actions, importer
from huimin.registry.crypto import id_hash
from huimin.registry.models import Area, Household, ParentChild, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Family, Personas, new_id

pytestmark = pytest.mark.django_db
OTHER_VILLAGE_A = "445224100001"  # 祚通社区居委会, also in 惠城镇 (the township's area)


def row(household: str, id_number: str, *, name: str = "郑小雨", born: date = date(2024, 8, 8),
        village: str = VILLAGE_A, father: str = "", mother: str = "") -> list[str]:
    return [household, name, id_number, "女", born.isoformat(), village, "农业", "", father,
            mother, "", ""]


def reasons(actor: object, rows: list[list[str]]) -> dict[str, str]:
    with pytest.raises(FileRejected) as info:
        importer.import_registry(actor, importer.rows_to_csv(rows), "x.csv")
    return {e.column: e.reason for e in info.value.errors}


def girl() -> str:
    return new_id(date(2024, 8, 8), "F")


def test_a_household_of_another_village_is_not_joined(personas: Personas,
                                                      family_b: Family) -> None:
    theirs = family_b.child.household
    assert theirs is not None
    members = set(theirs.members.values_list("pk", flat=True))
    existing = reasons(personas.cadre_a, [row(theirs.number, girl())])
    missing = reasons(personas.cadre_a, [row(f"{VILLAGE_B}-99999", girl())])
    assert existing["户号"] == missing["户号"]  # the same answer whether it exists or not
    assert "未找到本辖区的此户" in existing["户号"]
    assert set(theirs.members.values_list("pk", flat=True)) == members
    assert Person.objects.count() == 3


def test_a_household_of_the_users_area_must_be_the_rows_village(personas: Personas) -> None:
    other = Household.objects.create(number=f"{OTHER_VILLAGE_A}-0001", hukou_type="rural",
                                     area=Area.objects.get(code=OTHER_VILLAGE_A))
    got = reasons(personas.township, [row(other.number, girl())])
    assert "祚通社区居委会" in got["户号"] and "与户籍地" in got["户号"]
    assert not other.members.exists()


def test_a_parent_outside_the_area_reads_as_unknown(personas: Personas,
                                                   family_b: Family) -> None:
    outside = reasons(personas.cadre_a, [row(f"{VILLAGE_A}-8001", girl(),
                                             mother=family_b.mother.id_number)])
    unknown = new_id(date(1991, 1, 1), "F")
    nowhere = reasons(personas.cadre_a, [row(f"{VILLAGE_A}-8001", girl(), mother=unknown)])
    assert outside["母亲身份证号码"] == f"{family_b.mother.id_number} 未在本文件或本辖区登记"
    assert nowhere["母亲身份证号码"] == f"{unknown} 未在本文件或本辖区登记"
    assert "林" not in outside["母亲身份证号码"] and "黄" not in outside["母亲身份证号码"]
    assert not ParentChild.objects.filter(parent=family_b.mother).exclude(
        child=family_b.child).exists()


def test_an_id_registered_here_and_elsewhere(personas: Personas, family_a: Family,
                                             family_b: Family) -> None:
    here = reasons(personas.cadre_a, [row(f"{VILLAGE_A}-8002", family_a.child.id_number,
                                          born=family_a.child.birth_date)])
    assert here["身份证号码"] == "该号码已在本辖区登记"
    b = family_b.child
    before = AuditEvent.objects.count()
    elsewhere = reasons(personas.cadre_a, [row(f"{VILLAGE_A}-8002", b.id_number,
                                               born=b.birth_date)])
    assert elsewhere["身份证号码"] == actions.ID_ELSEWHERE
    assert "已登记" not in elsewhere["身份证号码"] and "隆江" not in elsewhere["身份证号码"]
    probe = AuditEvent.objects.get(action="registry.id_elsewhere")
    assert AuditEvent.objects.count() == before + 1
    assert probe.actor == personas.cadre_a and probe.area_code == VILLAGE_A
    assert probe.data["id_hash"] == id_hash(b.id_number)
    assert b.id_number not in str(probe.data) and b.id_number[6:14] not in str(probe.data)
    assert Person.objects.filter(area__code=VILLAGE_A).count() == 3


def test_create_person_answers_the_same_way(personas: Personas, family_b: Family) -> None:
    b = family_b.child
    with pytest.raises(ActionError, match=actions.ID_ELSEWHERE):
        actions.create_person(personas.cadre_a, name="郑小雨", id_number=b.id_number,
                              sex=b.sex, birth_date=b.birth_date,
                              area=Area.objects.get(code=VILLAGE_A), hukou_type="rural")
    assert AuditEvent.objects.filter(action="registry.id_elsewhere",
                                     data__id_hash=id_hash(b.id_number)).count() == 1
    with pytest.raises(ActionError, match="户号"):
        actions.create_person(personas.township, name="郑小雨", id_number=girl(), sex="F",
                              birth_date=date(2024, 8, 8), household=family_b.child.household,
                              area=Area.objects.get(code=VILLAGE_A), hukou_type="rural")


def form_post(client: Client, **over: str) -> str:
    values = {"name": "郑小雨", "id_number": girl(), "sex": "女", "birth_date": "2024-08-08",
              "area_code": VILLAGE_A, "hukou_type": "农业", "household": "", "new_household": "1",
              "death_date": "",
              "father_id": "", "mother_id": "", "bank_name": "", "account": ""}
    values.update(over)
    resp = client.post(reverse("registry:person_new"), values)
    assert resp.status_code == 400
    return resp.content.decode()


def test_the_single_person_form_is_scoped_too(personas: Personas, family_b: Family) -> None:
    c = Client()
    assert c.login(username="cadre_a", password=PASSWORD)
    theirs = family_b.child.household
    assert theirs is not None
    assert "未找到本辖区的此户" in form_post(c, household=theirs.number, new_household="0")
    page = form_post(c, mother_id=family_b.mother.id_number)
    assert "未在本文件或本辖区登记" in page and family_b.mother.name not in page
    b = family_b.child
    page = form_post(c, id_number=b.id_number, birth_date=b.birth_date.isoformat())
    assert actions.ID_ELSEWHERE in page
    assert AuditEvent.objects.filter(action="registry.id_elsewhere").count() == 1
    assert not Person.objects.filter(area__code=VILLAGE_A).exists()


def test_a_village_number_held_outside_the_area_is_never_joined(personas: Personas) -> None:
    stray = Household.objects.create(number=f"{VILLAGE_A}-0500", hukou_type="rural",
                                     area=Area.objects.get(code=VILLAGE_B))
    got = reasons(personas.cadre_a, [row(stray.number, girl())])
    assert got["户号"] == actions.HOUSEHOLD_ELSEWHERE and "竹湖" not in got["户号"]
    assert not stray.members.exists()
