"""Refusals of register change requests (``huimin.registry.changes``) no other test reaches.

Each refused submission asserts its Chinese message (naming the field) and that nothing
changed: no request, no audit event, no register row altered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict
from huimin.registry import actions, changes
from huimin.registry.models import Area, ChangeRequest, Household, ParentChild, Person
from tests.conftest import ID_SEQ, VILLAGE_A, VILLAGE_B, Family, Personas, new_id
from tests.web.changes_helpers import _media_root, submit

pytestmark = pytest.mark.django_db
__all__ = ["_media_root"]


def snapshot() -> dict[str, Any]:
    return {
        "events": list(AuditEvent.objects.order_by("id").values_list("id", flat=True)),
        "requests": list(ChangeRequest.objects.order_by("id").values_list("id", "status")),
        "persons": list(Person.objects.order_by("id").values_list(
            "id", "area_id", "household_id", "death_date", "moved_out_on")),
        "households": list(Household.objects.order_by("id").values_list("id", "head_id")),
        "links": ParentChild.objects.count(),
    }


def refused(exc: type[Exception], match: str, call: Callable[[], object]) -> None:
    before = snapshot()
    with pytest.raises(exc, match=match):
        call()
    assert snapshot() == before


def person(actor: Any, village: str = VILLAGE_A, *, born: date = date(1980, 1, 1),
           hh: Household | None = None) -> Person:
    return actions.create_person(actor, name="张三", id_number=new_id(born, "M"), sex="M",
                                 birth_date=born, area=Area.objects.get(code=village),
                                 hukou_type="rural", household=hh)


def household(village: str = VILLAGE_A) -> Household:
    return Household.objects.create(number=f"{village}-{next(ID_SEQ):05d}",
                                    area=Area.objects.get(code=village), hukou_type="rural")


def test_kind_and_target_refusals(personas: Personas, family_a: Family) -> None:
    refused(ActionError, "变更类型：未知的类型「bogus」", lambda: changes.submit_change(
        personas.cadre_a, kind="bogus", reason="x", values={}, person=family_a.father))
    refused(ActionError, "人员：请指定变更对象", lambda: changes.submit_change(
        personas.cadre_a, kind="death", reason="x", values={}))
    gone = person(personas.cadre_a)
    actions.move_person(personas.county, gone, to_code="150102001001",
                        moved_on=date(2026, 1, 5))
    gone.refresh_from_db()
    refused(Conflict, "迁出本县", lambda: submit(personas.cadre_a, "death", gone,
                                               {"death_date": "2026-02-01", "source": "民政"}))


def test_person_change_refusals(personas: Personas, family_a: Family) -> None:
    f = family_a.father
    dead = person(personas.cadre_a)
    actions.record_death(personas.county, dead, death_date=date(2026, 1, 2), source="民政")
    dead.refresh_from_db()
    refused(ActionError, "死亡日期：已登记死亡日期 2026-01-02", lambda: submit(
        personas.cadre_a, "death", dead, {"death_date": "2026-01-03", "source": "民政"}))
    refused(ActionError, "迁移日期：早于出生日期", lambda: submit(
        personas.cadre_a, "move", f, {"to_code": VILLAGE_B, "moved_on": "1980-01-01"}))
    refused(ActionError, "已登记死亡，不能办理迁移", lambda: submit(
        personas.cadre_a, "move", dead, {"to_code": VILLAGE_B, "moved_on": "2026-01-05"}))
    alone = person(personas.cadre_a)
    refused(ActionError, "全户迁移：该人员未登记户号", lambda: submit(
        personas.cadre_a, "move", alone, {"to_code": VILLAGE_B, "moved_on": "2026-01-05",
                                          "whole_household": "1"}))
    refused(ActionError, "父母身份证号码：不能是子女本人", lambda: submit(
        personas.cadre_a, "parent_link", f, {"relation": "监护人",
                                             "parent_id_number": f.id_number}))
    refused(ActionError, "关系已登记", lambda: submit(
        personas.cadre_a, "parent_link", family_a.child,
        {"relation": "父亲", "parent_id_number": f.id_number}))
    stranger = person(personas.cadre_b, VILLAGE_B)
    refused(ActionError, "父母身份证号码：", lambda: submit(
        personas.cadre_a, "parent_link", family_a.child,
        {"relation": "监护人", "parent_id_number": stranger.id_number}))
    other_link = ParentChild.objects.get(parent=family_a.mother, child=family_a.child)
    refused(ActionError, "亲子关系：须为该人员已登记的关系", lambda: submit(
        personas.cadre_a, "parent_unlink", alone, {"link": str(other_link.pk)}))


def test_a_sex_correction_is_kept_in_the_request(personas: Personas) -> None:
    p = person(personas.cadre_a)
    req = submit(personas.cadre_a, "identity", p,
                 {"sex": "女", "id_number": new_id(p.birth_date, "F")})
    assert req.params["sex"] == "F" and req.new_values["sex"] == "女"


def test_household_change_refusals(personas: Personas, family_a: Family) -> None:
    hh = family_a.father.household
    refused(ActionError, "住址：", lambda: submit(
        personas.cadre_a, "split", hh, {"members": str(family_a.child.pk),
                                        "address": "很" * 201}))
    refused(ActionError, "并入户号：不能为空", lambda: submit(personas.cadre_a, "merge", hh,
                                                            {"into": " "}))
    far = household(VILLAGE_B)
    person(personas.cadre_b, VILLAGE_B, hh=far)
    refused(ActionError, "不在.*请先办理迁移", lambda: submit(personas.county, "merge", hh,
                                                            {"into": far.number}))
    hh = actions.set_head(personas.cadre_a, hh, family_a.father)
    refused(ActionError, "户主：.*已是户主", lambda: submit(
        personas.cadre_a, "head", hh, {"person": str(family_a.father.pk)}))
    dead = person(personas.cadre_a, hh=hh)
    actions.record_death(personas.county, dead, death_date=date(2026, 1, 2), source="民政")
    refused(ActionError, "户主：.*已死亡", lambda: submit(
        personas.cadre_a, "head", hh, {"person": str(dead.pk)}))
    refused(ActionError, "成员身份证号码：.*已是本户成员", lambda: submit(
        personas.cadre_a, "member_add", hh, {"id_number": family_a.mother.id_number}))
    elsewhere = person(personas.cadre_b, VILLAGE_B)
    refused(ActionError, "的户籍地不是", lambda: submit(
        personas.county, "member_add", hh, {"id_number": elsewhere.id_number}))
    refused(ActionError, "成员身份证号码：", lambda: submit(
        personas.cadre_a, "member_add", hh, {"id_number": elsewhere.id_number}))
    refused(ActionError, "减少的成员：须为本户成员", lambda: submit(
        personas.cadre_a, "member_remove", hh, {"person": str(elsewhere.pk)}))


def test_a_household_request_is_filed_under_its_head(personas: Personas,
                                                    family_a: Family) -> None:
    hh = actions.set_head(personas.cadre_a, family_a.father.household, family_a.father)
    req = submit(personas.cadre_a, "member_remove", hh, {"person": str(family_a.child.pk)})
    ev = AuditEvent.objects.get(action="change.submit", object_id=str(req.pk))
    assert ev.person_id == family_a.father.pk


def test_an_unlink_of_a_link_already_gone_is_refused(personas: Personas,
                                                     family_a: Family) -> None:
    link = ParentChild.objects.get(parent=family_a.father, child=family_a.child)
    req = submit(personas.cadre_a, "parent_unlink", family_a.child, {"link": str(link.pk)})
    actions.remove_parent_link(personas.county, link)
    refused(Conflict, "亲子关系：该关系已解除", lambda: changes.confirm_change(
        personas.township, req))
