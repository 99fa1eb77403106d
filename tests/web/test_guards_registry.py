"""Refusals of the register's actions (``huimin.registry.actions``) no other test reaches.

Each refused call asserts its Chinese message and that nothing changed: no audit event, no
person, household, parent link or bank account written or altered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Forbidden
from huimin.registry import actions
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from tests.conftest import COUNTY, ID_SEQ, VILLAGE_A, VILLAGE_B, Family, Personas, new_id

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, Any]:
    return {
        "events": list(AuditEvent.objects.order_by("id").values_list("id", flat=True)),
        "persons": list(Person.objects.order_by("id").values_list(
            "id", "name", "sex", "birth_date", "id_hash", "area_id", "household_id",
            "death_date", "moved_out_on")),
        "households": list(Household.objects.order_by("id").values_list("id", "head_id",
                                                                        "area_id")),
        "links": list(ParentChild.objects.order_by("id").values_list("id", "parent_id",
                                                                     "child_id")),
        "accounts": list(BankAccount.objects.order_by("id").values_list("id", "active")),
    }


def refused(exc: type[Exception], match: str, call: Callable[[], object]) -> None:
    before = snapshot()
    with pytest.raises(exc, match=match):
        call()
    assert snapshot() == before


def luhn(prefix: str) -> str:
    """``prefix`` with its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return prefix + str((10 - total % 10) % 10)


def household(village: str = VILLAGE_A) -> Household:
    return Household.objects.create(number=f"{village}-{next(ID_SEQ):05d}",
                                    area=Area.objects.get(code=village), hukou_type="rural")


def person(actor: Any, name: str = "张三", village: str = VILLAGE_A, *,
           born: date = date(1980, 1, 1), sex: str = "M", hh: Household | None = None) -> Person:
    return actions.create_person(actor, name=name, id_number=new_id(born, sex), sex=sex,
                                 birth_date=born, area=Area.objects.get(code=village),
                                 hukou_type="rural", household=hh)


def test_registration_refusals(personas: Personas, family_a: Family) -> None:
    area = Area.objects.get(code=VILLAGE_A)
    born = date(1980, 1, 1)

    def create(actor: Any, where: Area = area, number: str | None = None) -> Callable[[], Any]:
        return lambda: actions.create_person(
            actor, name="张三", id_number=number or new_id(born, "M"), sex="M",
            birth_date=born, area=where, hukou_type="rural")

    refused(Forbidden, "您的角色不能登记人员", create(personas.finance))
    refused(ActionError, "户籍地须为村（居）委会", create(personas.cadre_a,
                                                       Area.objects.get(code=COUNTY)))
    refused(Forbidden, "不在您的管辖范围内", create(personas.cadre_a,
                                                  Area.objects.get(code=VILLAGE_B)))
    father = family_a.father
    refused(ActionError, "身份证号码：该号码已在本辖区登记", lambda: actions.create_person(
        personas.cadre_a, name="张三", id_number=father.id_number, sex="M",
        birth_date=father.birth_date, area=area, hukou_type="rural"))
    refused(Forbidden, "您的角色不能登记银行账户", lambda: actions.add_bank_account(
        personas.finance, family_a.father, bank_name="农行", account="6228480012345678901"))
    refused(Forbidden, "该人员不在您的管辖范围内", lambda: actions.add_bank_account(
        personas.cadre_b, family_a.father, bank_name="农行", account="6228480012345678901"))


def test_death_and_move_refusals(personas: Personas, family_a: Family) -> None:
    refused(ActionError, "死亡日期：不是有效日期", lambda: actions.record_death(
        personas.county, family_a.father, death_date="2026-01-01",  # type: ignore[arg-type]
        source="民政"))
    refused(ActionError, "迁移日期：不是有效日期", lambda: actions.move_person(
        personas.county, family_a.father, to_code=VILLAGE_B,
        moved_on="2026-01-01"))  # type: ignore[arg-type]
    refused(ActionError, "说明：", lambda: actions.move_person(
        personas.county, family_a.father, to_code=VILLAGE_B, moved_on=date(2026, 1, 5),
        note="很" * 201))


def test_a_person_without_a_household_moves_alone(personas: Personas) -> None:
    alone = person(personas.cadre_a)
    moved = actions.move_person(personas.county, alone, to_code=VILLAGE_B,
                                moved_on=date(2026, 1, 5))
    assert moved.area.code == VILLAGE_B and moved.household_id is None


def test_identity_correction_refusals(personas: Personas, family_a: Family) -> None:
    father = family_a.father
    refused(Forbidden, "您的角色不能办理身份信息更正", lambda: actions.correct_identity(
        personas.finance, father, name="林建华"))
    refused(Forbidden, "该人员不在您的管辖范围内", lambda: actions.correct_identity(
        personas.township_b, father, name="林建华"))
    refused(ActionError, "性别：应为 男 或 女", lambda: actions.correct_identity(
        personas.county, father, sex="X"))
    refused(ActionError, "出生日期：晚于今天", lambda: actions.correct_identity(
        personas.county, father, birth_date=date(2999, 1, 1)))
    refused(ActionError, "身份证号码：", lambda: actions.correct_identity(
        personas.county, father, id_number=family_a.mother.id_number, sex="F",
        birth_date=family_a.mother.birth_date))
    refused(ActionError, "与现登记内容相同", lambda: actions.correct_identity(
        personas.county, father, name=father.name))


def test_identity_number_alone_is_named_in_the_changes(personas: Personas) -> None:
    """Another number of the same birth date and sex: only the masked number may read the
    same, and the change still names the number."""
    alone = person(personas.cadre_a)
    number = new_id(alone.birth_date, "M")
    while number[-1] != alone.id_number[-1]:
        number = new_id(alone.birth_date, "M")
    fixed = actions.correct_identity(personas.county, alone, id_number=number)
    ev = AuditEvent.objects.filter(action="person.identity").latest("id")
    assert fixed.id_hash != alone.id_hash
    assert [c["field"] for c in ev.data["changes"]] == ["身份证号码"]


def test_household_refusals(personas: Personas, family_a: Family, family_b: Family) -> None:
    hh = family_a.father.household
    other_hh = household()
    refused(Forbidden, "您的角色不能办理户籍变更",
            lambda: actions.set_head(personas.finance, hh, family_a.father))
    refused(Forbidden, "该户不在您的管辖范围内",
            lambda: actions.set_head(personas.cadre_b, hh, family_a.father))
    refused(ActionError, "户主：.* 不是户 .* 的成员",
            lambda: actions.set_head(personas.cadre_a, other_hh, family_a.father))
    actions.set_head(personas.cadre_a, hh, family_a.father)
    refused(ActionError, "已是户主",
            lambda: actions.set_head(personas.cadre_a, hh, family_a.father))
    dead = person(personas.cadre_a, "王五", hh=hh)
    actions.record_death(personas.county, dead, death_date=date(2026, 1, 2), source="民政")
    refused(ActionError, "已死亡或已迁出，不能作为户主",
            lambda: actions.set_head(personas.cadre_a, hh, dead))
    refused(Forbidden, "该人员不在您的管辖范围内",
            lambda: actions.add_member(personas.township, hh, family_b.father))
    refused(ActionError, "已是本户成员",
            lambda: actions.add_member(personas.cadre_a, hh, family_a.mother))
    elsewhere = person(personas.cadre_b, "赵六", VILLAGE_B)
    refused(ActionError, "的户籍地不是", lambda: actions.add_member(personas.county, hh,
                                                                   elsewhere))


def test_removing_the_head_leaves_the_household_without_one(personas: Personas,
                                                            family_a: Family) -> None:
    hh = actions.set_head(personas.cadre_a, family_a.father.household, family_a.father)
    hh = actions.remove_member(personas.cadre_a, hh, family_a.father)
    hh.refresh_from_db()
    assert hh.head_id is None
    family_a.father.refresh_from_db()
    assert family_a.father.household_id is None


def test_split_and_merge_refusals(personas: Personas, family_a: Family) -> None:
    hh = family_a.father.household
    everyone = list(hh.members.all())
    refused(ActionError, "分出成员：请至少选择一人",
            lambda: actions.split_household(personas.cadre_a, hh, []))
    refused(ActionError, "不能把全部成员分出",
            lambda: actions.split_household(personas.cadre_a, hh, everyone))
    refused(ActionError, "住址：", lambda: actions.split_household(
        personas.cadre_a, hh, [family_a.child], address="很" * 201))
    refused(ActionError, "并入户号：不能并入本户",
            lambda: actions.merge_households(personas.cadre_a, hh, hh))
    far = household(VILLAGE_B)
    refused(ActionError, "不在.*请先办理迁移",
            lambda: actions.merge_households(personas.county, hh, far))
    empty = household()
    refused(ActionError, "没有成员可并入",
            lambda: actions.merge_households(personas.cadre_a, empty, hh))


def test_the_head_leaving_in_a_split_or_merge_leaves_no_head(personas: Personas,
                                                             family_a: Family) -> None:
    hh = actions.set_head(personas.cadre_a, family_a.father.household, family_a.father)
    new = actions.split_household(personas.cadre_a, hh, [family_a.father])
    hh.refresh_from_db()
    assert hh.head_id is None and new.head_id == family_a.father.pk
    actions.set_head(personas.cadre_a, hh, family_a.mother)
    target = actions.merge_households(personas.cadre_a, hh, new)
    hh.refresh_from_db()
    assert hh.head_id is None and target.members.count() == 3


def test_parent_link_refusals(personas: Personas, family_a: Family, family_b: Family) -> None:
    f, m, c = family_a.father, family_a.mother, family_a.child

    def link(actor: Any, parent: Person, child: Person, relation: str) -> Callable[[], Any]:
        return lambda: actions.add_parent_link(actor, parent, child, relation)

    refused(Forbidden, "您的角色不能登记亲子关系", link(personas.finance, f, c, "father"))
    refused(Forbidden, "该人员不在您的管辖范围内", link(personas.cadre_a, family_b.father, c,
                                                        "guardian"))
    refused(ActionError, "关系：应为 父亲、母亲 或 监护人", link(personas.cadre_a, f, c, "uncle"))
    refused(ActionError, "父母：不能是子女本人", link(personas.cadre_a, c, c, "guardian"))
    refused(ActionError, "的出生日期不早于子女", link(personas.cadre_a, c, f, "father"))
    refused(ActionError, "的性别与「父亲」不符", link(personas.cadre_a, m, c, "father"))
    refused(ActionError, "的亲子关系已登记", link(personas.cadre_a, f, c, "father"))
    uncle = person(personas.cadre_a, "林二叔", born=date(1985, 1, 1))
    refused(ActionError, "已登记父亲", link(personas.cadre_a, uncle, c, "father"))
    the_link = ParentChild.objects.get(parent=f, child=c)
    refused(Forbidden, "您的角色不能解除亲子关系",
            lambda: actions.remove_parent_link(personas.finance, the_link))
    refused(Forbidden, "该人员不在您的管辖范围内",
            lambda: actions.remove_parent_link(personas.cadre_b, the_link))


def test_account_refusals(personas: Personas, family_a: Family) -> None:
    card = luhn("622848001234567890")
    acct = actions.register_account(personas.cadre_a, family_a.father, bank_name="农行",
                                    account=card, verified_how="核对银行卡原件")
    refused(ActionError, "银行卡号：该账户已登记且有效", lambda: actions.register_account(
        personas.cadre_a, family_a.father, bank_name="农行", account=card,
        verified_how="核对银行卡原件"))
    refused(ActionError, "银行卡号：", lambda: actions.register_account(
        personas.cadre_a, family_a.father, bank_name="农行", account="1234",
        verified_how="核对银行卡原件"))
    actions.deactivate_account(personas.cadre_a, acct)
    refused(ActionError, "原账户：该账户已停用", lambda: actions.replace_account(
        personas.cadre_a, acct, bank_name="农行", account=luhn("622848001234567891"),
        verified_how="核对银行卡原件"))
    refused(ActionError, "账户：该账户已停用",
            lambda: actions.deactivate_account(personas.cadre_a, acct))
