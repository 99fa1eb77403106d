"""Change requests: household split, merge, change of head, members, parent–child links."""

from __future__ import annotations

from datetime import date

import pytest

from huimin.errors import ActionError, Forbidden
from huimin.registry import actions, changes
from huimin.registry.models import ChangeRequest, Household, ParentChild, Person
from tests.conftest import VILLAGE_A, VILLAGE_B, Personas, new_id
from tests.web.cases_helpers import make_rural_couple
from tests.web.changes_helpers import (
    _media_root,  # noqa: F401  (autouse)
    assert_roles,
    submit,
)

pytestmark = pytest.mark.django_db


def loner(personas: Personas, village: str = VILLAGE_A, born: date = date(2001, 1, 1),
          sex: str = "F") -> Person:
    from huimin.registry.models import Area

    return actions.create_person(personas.cadre_a if village == VILLAGE_A else personas.cadre_b,
                                 name="张小红", id_number=new_id(born, sex), sex=sex,
                                 birth_date=born, area=Area.objects.get(code=village),
                                 hukou_type="rural")




def test_split_works(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "split", couple.household,
                 {"members": str(couple.child.pk), "address": "四香村新村路 3 号"})
    changes.confirm_change(personas.township, req)
    child = Person.objects.get(pk=couple.child.pk)
    assert child.household != couple.household
    assert child.household.head == child and child.household.address == "四香村新村路 3 号"
    assert Person.objects.filter(household=couple.household).count() == 2


def test_merge_works(personas: Personas) -> None:
    one = make_rural_couple(personas.cadre_a, VILLAGE_A)
    two = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")
    req = submit(personas.cadre_a, "merge", two.household, {"into": one.household.number})
    changes.confirm_change(personas.township, req)
    assert Person.objects.filter(household=one.household).count() == 6
    assert not Person.objects.filter(household=two.household).exists()


def test_head_works(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "head", couple.household, {"person": str(couple.wife.pk)})
    assert req.new_values == {"head": "王桂兰"}
    changes.confirm_change(personas.township, req)
    assert Household.objects.get(pk=couple.household.pk).head == couple.wife


def test_member_add_and_remove_work(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    her = loner(personas)
    req = submit(personas.township, "member_add", couple.household, {"id_number": her.id_number})
    assert her.id_number not in str(req.new_values)
    changes.confirm_change(personas.cadre_a, req)
    assert Person.objects.get(pk=her.pk).household == couple.household
    req = submit(personas.cadre_a, "member_remove", couple.household, {"person": str(her.pk)})
    changes.confirm_change(personas.township, req)
    assert Person.objects.get(pk=her.pk).household is None


def test_parent_link_and_unlink_work(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    kid = loner(personas, born=date(2020, 2, 2))
    req = submit(personas.cadre_a, "parent_link", kid,
                 {"parent_id_number": couple.wife.id_number, "relation": "母亲"})
    changes.confirm_change(personas.township, req)
    link = ParentChild.objects.get(child=kid)
    assert link.parent == couple.wife and link.relation == "mother"
    req = submit(personas.cadre_a, "parent_unlink", kid, {"link": str(link.pk)})
    changes.confirm_change(personas.township, req)
    assert not ParentChild.objects.filter(child=kid).exists()


@pytest.mark.parametrize("kind", ["split", "merge", "head", "member_add", "member_remove"])
def test_household_kinds_wrong_role_and_outsiders(personas: Personas, kind: str) -> None:
    one = make_rural_couple(personas.cadre_a, VILLAGE_A)
    two = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")
    values = {"split": {"members": str(one.child.pk)}, "merge": {"into": two.household.number},
              "head": {"person": str(one.wife.pk)},
              "member_add": {"id_number": loner(personas).id_number},
              "member_remove": {"person": str(one.child.pk)}}[kind]
    with pytest.raises(Forbidden):
        submit(personas.finance, kind, one.household, values)
    with pytest.raises(Forbidden):
        submit(personas.cadre_b, kind, one.household, values)
    req = submit(personas.cadre_a, kind, one.household, values)
    before = sorted(Person.objects.values_list("pk", "household_id"))
    assert_roles(personas, req, wrong=[personas.finance, personas.auditor],
                 outsiders=[personas.cadre_b, personas.township_b, personas.cadre_c])
    assert sorted(Person.objects.values_list("pk", "household_id")) == before
    changes.confirm_change(personas.township, req)  # the right person can
    assert sorted(Person.objects.values_list("pk", "household_id")) != before or kind == "head"


@pytest.mark.parametrize("kind", ["parent_link", "parent_unlink"])
def test_link_kinds_wrong_role_and_outsiders(personas: Personas, kind: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    kid = loner(personas, born=date(2020, 2, 2))
    if kind == "parent_link":
        target, values = kid, {"parent_id_number": couple.wife.id_number, "relation": "母亲"}
    else:
        link = ParentChild.objects.filter(child=couple.child).first()
        assert link is not None
        target, values = couple.child, {"link": str(link.pk)}
    with pytest.raises(Forbidden):
        submit(personas.auditor, kind, target, values)
    with pytest.raises(Forbidden):
        submit(personas.cadre_c, kind, target, values)
    req = submit(personas.cadre_a, kind, target, values)
    assert_roles(personas, req, wrong=[personas.finance, personas.auditor],
                 outsiders=[personas.cadre_b, personas.township_c])


def test_household_bad_input(personas: Personas) -> None:
    one = make_rural_couple(personas.cadre_a, VILLAGE_A)
    two = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")
    elsewhere = make_rural_couple(personas.cadre_b, VILLAGE_B, surname="黄")
    everyone = ",".join(str(p.pk) for p in Person.objects.filter(household=one.household))
    bad = [
        ("split", {"members": everyone}, "分出成员：不能把全部成员分出"),
        ("split", {"members": str(two.wife.pk)}, "分出成员：.*不是本户成员"),
        ("split", {"members": ""}, "分出成员：请至少选择一人"),
        ("merge", {"into": one.household.number}, "并入户号：不能并入本户"),
        ("merge", {"into": elsewhere.household.number}, "并入户号：.*未在本辖区登记"),
        ("merge", {"into": "NO-SUCH"}, "并入户号：.*未在本辖区登记"),
        ("head", {"person": str(two.wife.pk)}, "户主：须为本户成员"),
        ("member_add", {"id_number": two.wife.id_number}, "成员身份证号码：.*已在户"),
        ("member_add", {"id_number": "445224199001011234"}, "成员身份证号码："),
        ("member_remove", {"person": "abc"}, "减少的成员：请选择"),
    ]
    for kind, values, message in bad:
        with pytest.raises(ActionError, match=message):
            submit(personas.cadre_a, kind, one.household, values)
    with pytest.raises(ActionError, match=r"父母身份证号码：.*出生日期不早于子女"):
        submit(personas.cadre_a, "parent_link", one.wife,
               {"parent_id_number": one.child.id_number, "relation": "母亲"})
    with pytest.raises(ActionError, match="关系：应为"):
        submit(personas.cadre_a, "parent_link", one.child,
               {"parent_id_number": one.wife.id_number, "relation": "舅舅"})
    assert not ChangeRequest.objects.exists()


def test_a_member_who_joined_another_household_meanwhile_is_refused(personas: Personas) -> None:
    one = make_rural_couple(personas.cadre_a, VILLAGE_A)
    two = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")
    her = loner(personas)
    first = submit(personas.cadre_a, "member_add", one.household, {"id_number": her.id_number})
    second = submit(personas.cadre_a, "member_add", two.household, {"id_number": her.id_number})
    changes.confirm_change(personas.township, first)
    with pytest.raises(ActionError, match=r"成员：.*已在户"):
        changes.confirm_change(personas.township, second)
    second.refresh_from_db()
    assert second.status == "submitted"
    assert Person.objects.get(pk=her.pk).household == one.household
