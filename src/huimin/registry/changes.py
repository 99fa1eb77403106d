"""Register changes (变更登记) as reviewed change requests.

A request records who asked and why, the old and the new values (masked where personal; a
full identity or card number is kept sealed), and an evidence document (sealed at rest).
It is frozen once submitted. Another user confirms it, at the level the change needs
(identity fields and deaths: a township reviewer or above of the area; everything else: a
village cadre or above), which applies it through ``registry.actions`` in the same
transaction; or rejects it, with a reason. The same parsing serves the web form, the API and
the CLI: each kind reads a dict of strings and names the field of every error.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from huimin.accounts.access import area_q, in_user_area
from huimin.audit.events import record
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.masking import mask_id_number
from huimin.registry import actions
from huimin.registry.crypto import box, id_hash
from huimin.registry.models import (
    BankAccount,
    ChangeKind,
    ChangeRequest,
    ChangeStatus,
    Household,
    ParentChild,
    Person,
    Relation,
    Sex,
)
from huimin.registry.validation import (
    FieldError,
    check_account_kind,
    check_account_of_kind,
    check_bank_name,
    check_death_date,
    check_id,
    check_name,
    check_text,
    parse_date,
    parse_sex,
)

SUBMIT_ROLES = ("village_cadre", "township_reviewer", "county_approver", "admin")
#: who may confirm at each level (never the user who submitted)
CONFIRM_ROLES = {
    "township": ("township_reviewer", "county_approver", "admin"),
    "village": ("village_cadre", "township_reviewer", "county_approver", "admin"),
}
#: the roles that confirm at some level (who is offered bulk confirmation)
DECIDE_ROLES = tuple(dict.fromkeys(r for roles in CONFIRM_ROLES.values() for r in roles))
LEVEL_LABELS = {"township": "乡镇审核员（或以上）", "village": "村级专干（或以上）"}
REASON_MAX = 500
APPLICANT_MAX = 50
RELATION_WORDS = {"父亲": "father", "母亲": "mother", "监护人": "guardian",
                  "father": "father", "mother": "mother", "guardian": "guardian"}


@dataclass
class Field:
    name: str
    label: str
    type: str = "text"  # text, date, select, checkbox, members
    required: bool = True
    help: str = ""


@dataclass
class Parsed:
    params: dict[str, Any]
    old: dict[str, str]
    new: dict[str, str]
    secret: dict[str, str] = field(default_factory=dict)


@dataclass
class Kind:
    code: str
    target: str  # "person" or "household"
    level: str
    fields: list[Field]
    parse: Callable[[Any, Any, Mapping[str, str]], Parsed]
    apply: Callable[[Any, ChangeRequest, dict[str, str]], None]
    evidence_required: bool = False

    @property
    def label(self) -> str:
        return str(ChangeKind(self.code).label)


def _err(exc: FieldError) -> ActionError:
    return ActionError(f"{exc.column}：{exc.reason}")


def _text(values: Mapping[str, str], name: str) -> str:
    return str(values.get(name, "") or "").strip()


def _date(values: Mapping[str, str], name: str, label: str) -> date:
    text = _text(values, name)
    if not text:
        raise ActionError(f"{label}：不能为空")
    try:
        return parse_date(text, label)
    except FieldError as exc:
        raise _err(exc) from None


def _int(values: Mapping[str, str], name: str, label: str) -> int:
    text = _text(values, name)
    if not text.isascii() or not text.isdigit():
        raise ActionError(f"{label}：请选择")
    return int(text)


def _person_by_id_number(actor: Any, number: str, label: str) -> Person:
    from huimin.accounts.access import persons_for

    try:
        parsed = check_id(number, birth_date=None, sex=None, today=timezone.localdate(),
                          column=label)
    except FieldError as exc:
        raise _err(exc) from None
    person = persons_for(actor).filter(id_hash=id_hash(parsed.value)).first()
    if person is None:
        raise ActionError(f"{label}：{actions.NOT_HERE}")
    return person


def _note(req: ChangeRequest) -> str:
    return f"变更申请 {req.number}"


def _alive(person: Person) -> None:
    from huimin.registry.merge import merged_message

    if person.merged_into_id is not None:
        raise Conflict(merged_message(person))
    if person.moved_out_on is not None:
        raise Conflict(f"{person.name} 已于 {person.moved_out_on:%Y-%m-%d} 迁出本县")


# ------------------------------------------------------------------------ identity and death

def parse_identity(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    today = timezone.localdate()
    try:
        name = check_name(_text(values, "name")) if _text(values, "name") else person.name
        birth = (parse_date(_text(values, "birth_date"), "出生日期")
                 if _text(values, "birth_date") else person.birth_date)
        sex = parse_sex(_text(values, "sex")) if _text(values, "sex") else person.sex
        if birth > today:
            raise FieldError("出生日期", "晚于今天")
        raw = _text(values, "id_number").upper()
        number = check_id(raw or person.id_number, birth_date=birth, sex=sex, today=today)
        check_death_date(person.death_date, birth=birth, today=today,
                         column="出生日期（与已登记的死亡日期）")
    except FieldError as exc:
        raise _err(exc) from None
    old = {"name": person.name, "birth_date": person.birth_date.isoformat(),
           "sex": person.get_sex_display(), "id_number": person.id_masked}
    new = {"name": name, "birth_date": birth.isoformat(), "sex": Sex(sex).label,
           "id_number": mask_id_number(number.value)}
    params: dict[str, Any] = {}
    secret: dict[str, str] = {}
    if name != person.name:
        params["name"] = name
    if birth != person.birth_date:
        params["birth_date"] = birth.isoformat()
    if sex != person.sex:
        params["sex"] = sex
    if number.value != person.id_number:
        if Person.objects.filter(id_hash=id_hash(number.value)).exists():
            raise ActionError("身份证号码：该号码已有登记，不能更正为该号码")
        secret["id_number"] = number.value
    if not params and not secret:
        raise ActionError("更正内容：与现登记内容相同，没有需要更正的项目")
    keep = set(params) | set(secret)
    return Parsed(params, {k: v for k, v in old.items() if k in keep},
                  {k: v for k, v in new.items() if k in keep}, secret)


def apply_identity(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    p = req.params
    assert req.person is not None
    actions.correct_identity(
        actor, req.person, name=p.get("name"),
        birth_date=date.fromisoformat(p["birth_date"]) if p.get("birth_date") else None,
        sex=p.get("sex"), id_number=secret.get("id_number"), note=_note(req))


def parse_death(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    died = _date(values, "death_date", "死亡日期")
    try:
        check_death_date(died, birth=person.birth_date, today=timezone.localdate())
        source = check_text(_text(values, "source"), "死亡信息来源", actions.SOURCE_MAX)
        cert = check_text(_text(values, "certificate"), "死亡证明编号", actions.CERTIFICATE_MAX,
                          required=False)
    except FieldError as exc:
        raise _err(exc) from None
    if person.death_date is not None:
        raise ActionError(f"死亡日期：已登记死亡日期 {person.death_date:%Y-%m-%d}")
    return Parsed({"death_date": died.isoformat(), "source": source, "certificate": cert},
                  {"death_date": ""},
                  {"death_date": died.isoformat(), "source": source, "certificate": cert})


def apply_death(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    p = req.params
    assert req.person is not None
    actions.record_death(actor, req.person, death_date=date.fromisoformat(p["death_date"]),
                         source=p["source"], certificate=p.get("certificate", ""),
                         note=_note(req))


# ------------------------------------------------------------------------ moves

def parse_move(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    from huimin.registry.snapshot import full_name

    moved_on = _date(values, "moved_on", "迁移日期")
    if moved_on > timezone.localdate():
        raise ActionError("迁移日期：晚于今天")
    if moved_on < person.birth_date:
        raise ActionError("迁移日期：早于出生日期")
    if person.death_date is not None:
        raise ActionError(f"迁移：{person.name} 已登记死亡，不能办理迁移")
    to_code = actions.check_destination(_text(values, "to_code"))
    if to_code == person.area.code:
        raise ActionError(f"迁往区划代码：{person.name} 的户籍已在{person.area.name}")
    whole = _text(values, "whole_household") in ("1", "on", "true", "是")
    if whole and person.household_id is None:
        raise ActionError("全户迁移：该人员未登记户号")
    inside = to_code[:6] == person.area.code[:6]
    where = full_name(to_code)
    return Parsed({"to_code": to_code, "moved_on": moved_on.isoformat(), "whole": whole},
                  {"area": person.area.full_name()},
                  {"area": where + ("" if inside else "（迁出本县）"),
                   "whole_household": "全户" if whole else "本人"})


def apply_move(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    p = req.params
    assert req.person is not None
    moved_on = date.fromisoformat(p["moved_on"])
    people = [req.person]
    if p.get("whole") and req.person.household_id is not None:
        people = list(Person.objects.filter(household_id=req.person.household_id,
                                            moved_out_on=None, death_date=None)
                      .select_related("area").order_by("id"))
    for member in people:
        actions.move_person(actor, member, to_code=p["to_code"], moved_on=moved_on,
                            note=_note(req))


# ------------------------------------------------------------------------ households

def _members(hh: Household) -> dict[int, Person]:
    return {p.pk: p for p in hh.members.filter(moved_out_on=None).order_by("id")}


def parse_split(actor: Any, hh: Household, values: Mapping[str, str]) -> Parsed:
    raw = [x for x in _text(values, "members").replace("，", ",").split(",") if x.strip()]
    members = _members(hh)
    ids: list[int] = []
    for x in raw:
        if not x.strip().isdigit() or int(x) not in members:
            raise ActionError(f"分出成员：{x} 不是本户成员")
        ids.append(int(x))
    if not ids:
        raise ActionError("分出成员：请至少选择一人")
    if len(set(ids)) == len(members):
        raise ActionError("分出成员：不能把全部成员分出，原户至少应留一人")
    try:
        address = check_text(_text(values, "address"), "住址", 200, required=False)
    except FieldError as exc:
        raise _err(exc) from None
    names = "、".join(members[i].name for i in ids)
    return Parsed({"members": sorted(set(ids)), "address": address},
                  {"household": hh.number}, {"household": "新立户", "members": names})


def apply_split(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.household is not None
    people = list(Person.objects.filter(pk__in=req.params["members"]).order_by("id"))
    actions.split_household(actor, req.household, people, address=req.params["address"],
                            note=_note(req))


def parse_merge(actor: Any, hh: Household, values: Mapping[str, str]) -> Parsed:
    from huimin.accounts.access import households_for

    number = _text(values, "into")
    if not number:
        raise ActionError("并入户号：不能为空")
    into = households_for(actor).filter(number=number).first()
    if into is None:
        raise ActionError(f"并入户号：{number} 未在本辖区登记")
    if into.pk == hh.pk:
        raise ActionError("并入户号：不能并入本户")
    if into.area_id != hh.area_id:
        raise ActionError(f"并入户号：{number} 不在{hh.area.name}，请先办理迁移")
    return Parsed({"into": into.pk}, {"household": hh.number}, {"household": into.number})


def apply_merge(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.household is not None
    actions.merge_households(actor, req.household,
                             Household.objects.get(pk=req.params["into"]), note=_note(req))


def parse_head(actor: Any, hh: Household, values: Mapping[str, str]) -> Parsed:
    pk = _int(values, "person", "户主")
    members = _members(hh)
    if pk not in members:
        raise ActionError("户主：须为本户成员")
    if members[pk].death_date is not None:
        raise ActionError(f"户主：{members[pk].name} 已死亡")
    if hh.head_id == pk:
        raise ActionError(f"户主：{members[pk].name} 已是户主")
    return Parsed({"person": pk}, {"head": hh.head.name if hh.head else ""},
                  {"head": members[pk].name})


def apply_head(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.household is not None
    actions.set_head(actor, req.household, Person.objects.get(pk=req.params["person"]),
                     note=_note(req))


def parse_member_add(actor: Any, hh: Household, values: Mapping[str, str]) -> Parsed:
    person = _person_by_id_number(actor, _text(values, "id_number").upper(), "成员身份证号码")
    _alive(person)
    if person.household_id == hh.pk:
        raise ActionError(f"成员身份证号码：{person.name} 已是本户成员")
    if person.household_id is not None:
        raise ActionError(f"成员身份证号码：{person.name} 已在户 {person.household} 中，"
                          "请先办理减少户成员或分户")
    if person.area_id != hh.area_id:
        raise ActionError(f"成员身份证号码：{person.name} 的户籍地不是{hh.area.name}，"
                          "请先办理迁移")
    return Parsed({"person": person.pk}, {"member": ""},
                  {"member": f"{person.name}（{person.id_masked}）"})


def apply_member_add(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.household is not None
    actions.add_member(actor, req.household, Person.objects.get(pk=req.params["person"]),
                       note=_note(req))


def parse_member_remove(actor: Any, hh: Household, values: Mapping[str, str]) -> Parsed:
    pk = _int(values, "person", "减少的成员")
    members = _members(hh)
    if pk not in members:
        raise ActionError("减少的成员：须为本户成员")
    return Parsed({"person": pk}, {"member": members[pk].name}, {"member": ""})


def apply_member_remove(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.household is not None
    actions.remove_member(actor, req.household, Person.objects.get(pk=req.params["person"]),
                          note=_note(req))


# ------------------------------------------------------------------------ parent–child links

def parse_parent_link(actor: Any, child: Person, values: Mapping[str, str]) -> Parsed:
    relation = RELATION_WORDS.get(_text(values, "relation"))
    if relation is None:
        raise ActionError("关系：应为 父亲、母亲 或 监护人")
    parent = _person_by_id_number(actor, _text(values, "parent_id_number").upper(),
                                  "父母身份证号码")
    if parent.pk == child.pk:
        raise ActionError("父母身份证号码：不能是子女本人")
    if relation != "guardian" and parent.birth_date >= child.birth_date:
        raise ActionError(f"父母身份证号码：{parent.name} 的出生日期不早于子女")
    if ParentChild.objects.filter(parent=parent, child=child).exists():
        raise ActionError(f"父母身份证号码：{parent.name} 与 {child.name} 的关系已登记")
    label = Relation(relation).label
    return Parsed({"parent": parent.pk, "relation": relation}, {label: ""},
                  {label: f"{parent.name}（{parent.id_masked}）"})


def apply_parent_link(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.person is not None
    actions.add_parent_link(actor, Person.objects.get(pk=req.params["parent"]), req.person,
                            req.params["relation"], note=_note(req))


def parse_parent_unlink(actor: Any, child: Person, values: Mapping[str, str]) -> Parsed:
    pk = _int(values, "link", "亲子关系")
    link = (ParentChild.objects.filter(pk=pk).filter(child=child) | ParentChild.objects.filter(
        pk=pk, parent=child)).select_related("parent", "child").first()
    if link is None:
        raise ActionError("亲子关系：须为该人员已登记的关系")
    label = link.get_relation_display()
    return Parsed({"link": link.pk}, {label: f"{link.parent.name} → {link.child.name}"},
                  {label: ""})


def apply_parent_unlink(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    link = ParentChild.objects.filter(pk=req.params["link"]).select_related(
        "parent__area", "child__area").first()
    if link is None:
        raise Conflict("亲子关系：该关系已解除")
    actions.remove_parent_link(actor, link, note=_note(req))


# ------------------------------------------------------------------------ bank accounts

def _card(values: Mapping[str, str]) -> tuple[str, str, str, str]:
    """Kind, bank, number (a card's Luhn-checked) and how it was verified."""
    try:
        kind = check_account_kind(_text(values, "account_kind"))
        return (kind, check_bank_name(_text(values, "bank_name")),
                check_account_of_kind(_text(values, "account"), kind),
                check_text(_text(values, "verified_how"), "核验方式", actions.VERIFY_MAX))
    except FieldError as exc:
        raise _err(exc) from None


def _shown(kind: str, bank: str, number: str) -> str:
    from huimin.lib.masking import mask_account

    return f"{bank}{' 存折' if kind == 'passbook' else ''} {mask_account(number)}"


def _account_of(person: Person, values: Mapping[str, str], label: str) -> BankAccount:
    pk = _int(values, "account_id", label)
    acct = person.bank_accounts.filter(pk=pk, active=True).first()
    if acct is None:
        raise ActionError(f"{label}：须为该人员的有效账户")
    return acct


def parse_account_add(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    kind, bank, number, how = _card(values)
    return Parsed({"account_kind": kind, "bank_name": bank, "verified_how": how},
                  {"account": ""},
                  {"account": _shown(kind, bank, number), "verified_how": how},
                  {"account": number})


def apply_account_add(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    assert req.person is not None
    actions.register_account(actor, req.person, bank_name=req.params["bank_name"],
                             account=secret["account"], verified_how=req.params["verified_how"],
                             kind=req.params.get("account_kind", "card"),
                             verified_by=req.submitted_by, note=_note(req))


def parse_account_replace(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    old = _account_of(person, values, "原账户")
    kind, bank, number, how = _card(values)
    return Parsed({"account_id": old.pk, "account_kind": kind, "bank_name": bank,
                   "verified_how": how},
                  {"account": actions.account_label(old)},
                  {"account": _shown(kind, bank, number), "verified_how": how},
                  {"account": number})


def apply_account_replace(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    actions.replace_account(actor, BankAccount.objects.get(pk=req.params["account_id"]),
                            bank_name=req.params["bank_name"], account=secret["account"],
                            verified_how=req.params["verified_how"],
                            kind=req.params.get("account_kind", "card"),
                            verified_by=req.submitted_by, note=_note(req))


def parse_account_deactivate(actor: Any, person: Person, values: Mapping[str, str]) -> Parsed:
    old = _account_of(person, values, "账户")
    return Parsed({"account_id": old.pk}, {"account": f"{old.bank_name} {old.account_masked}"},
                  {"account": "停用"})


def apply_account_deactivate(actor: Any, req: ChangeRequest, secret: dict[str, str]) -> None:
    actions.deactivate_account(actor, BankAccount.objects.get(pk=req.params["account_id"]),
                               note=_note(req))


_CARD_FIELDS = [Field("account_kind", "账户类型", "account_kind",
                      help="银行卡号做 Luhn 校验；存折（一折通）账号不做"),
                Field("bank_name", "开户银行"),
                Field("account", "银行卡号或存折账号", help="8–30 位数字"),
                Field("verified_how", "核验方式", help="如：本人持卡到场核对、银行开户回执")]

KINDS: dict[str, Kind] = {k.code: k for k in [
    Kind("identity", "person", "township", [
        Field("name", "姓名", required=False), Field("birth_date", "出生日期", "date", False),
        Field("sex", "性别", "select", False),
        Field("id_number", "身份证号码", required=False, help="不更正的项目留空")],
        parse_identity, apply_identity, evidence_required=True),
    Kind("death", "person", "township", [
        Field("death_date", "死亡日期", "date"), Field("source", "死亡信息来源",
                                                      help="如：县卫生健康局、派出所"),
        Field("certificate", "死亡证明编号", required=False)], parse_death, apply_death),
    Kind("move", "person", "village", [
        Field("to_code", "迁往区划代码", help="12 位统计用区划代码（村、居委会）"),
        Field("moved_on", "迁移日期", "date"),
        Field("whole_household", "全户迁移", "checkbox", False)], parse_move, apply_move),
    Kind("split", "household", "village", [
        Field("members", "分出成员", "members"), Field("address", "新户住址", required=False)],
        parse_split, apply_split),
    Kind("merge", "household", "village", [Field("into", "并入户号")], parse_merge,
         apply_merge),
    Kind("head", "household", "village", [Field("person", "新户主", "member")], parse_head,
         apply_head),
    Kind("member_add", "household", "village", [Field("id_number", "成员身份证号码")],
         parse_member_add, apply_member_add),
    Kind("member_remove", "household", "village", [Field("person", "减少的成员", "member")],
         parse_member_remove, apply_member_remove),
    Kind("parent_link", "person", "village", [
        Field("parent_id_number", "父母身份证号码"), Field("relation", "关系", "relation")],
        parse_parent_link, apply_parent_link),
    Kind("parent_unlink", "person", "village", [Field("link", "亲子关系", "link")],
         parse_parent_unlink, apply_parent_unlink),
    Kind("account_add", "person", "village", list(_CARD_FIELDS), parse_account_add,
         apply_account_add),
    Kind("account_replace", "person", "village",
         [Field("account_id", "原账户", "account"), *_CARD_FIELDS], parse_account_replace,
         apply_account_replace),
    Kind("account_deactivate", "person", "village", [Field("account_id", "账户", "account")],
         parse_account_deactivate, apply_account_deactivate),
]}
PERSON_KINDS = [k for k in KINDS.values() if k.target == "person"]
HOUSEHOLD_KINDS = [k for k in KINDS.values() if k.target == "household"]
VALUE_LABELS = {"name": "姓名", "birth_date": "出生日期", "sex": "性别",
                "id_number": "身份证号码", "death_date": "死亡日期", "source": "信息来源",
                "certificate": "死亡证明编号", "area": "户籍地", "whole_household": "迁移范围",
                "household": "户号", "members": "分出成员", "head": "户主", "member": "户成员",
                "account": "银行账户", "verified_how": "核验方式"}


def kind_of(code: str) -> Kind:
    kind = KINDS.get(code)
    if kind is None:
        raise ActionError(f"变更类型：未知的类型「{code}」，可选：{'、'.join(KINDS)}")
    return kind


def changes_of(req: ChangeRequest) -> list[dict[str, str]]:
    """Old → new of a request, labelled, for its page and its audit events."""
    keys = list(dict.fromkeys([*req.old_values, *req.new_values]))
    return [{"field": VALUE_LABELS.get(k, k), "old": str(req.old_values.get(k, "")),
             "new": str(req.new_values.get(k, ""))} for k in keys]


# ------------------------------------------------------------------------ the workflow

def changes_for(user: Any) -> QuerySet[ChangeRequest]:
    """Change requests in the user's areas."""
    from huimin.accounts.access import READ_ROLES

    if not getattr(user, "is_authenticated", False) or user.role not in READ_ROLES:
        return ChangeRequest.objects.none()
    return (ChangeRequest.objects.filter(area_q(user, "area__code"))
            .select_related("person", "household", "area", "submitted_by", "decided_by"))


def pending_for(user: Any) -> QuerySet[ChangeRequest]:
    """What this user may confirm: submitted, at a level their role confirms, not their own."""
    levels = [lv for lv, roles in CONFIRM_ROLES.items() if getattr(user, "role", "") in roles]
    return (changes_for(user).filter(status=ChangeStatus.SUBMITTED, confirm_level__in=levels)
            .exclude(submitted_by=user).order_by("submitted_at", "id"))


def _evidence(req: ChangeRequest, data: bytes, filename: str) -> None:
    from huimin.cases.actions import check_upload

    ext, content_type = check_upload(data, filename)
    req.evidence_stored = f"{uuid.uuid4().hex}.{ext}"
    req.evidence_name = filename[:200]
    req.evidence_type = content_type
    req.evidence_size = len(data)
    req.evidence_sha256 = hashlib.sha256(data).hexdigest()
    req.write_evidence(data)


@transaction.atomic
def submit_change(actor: Any, *, kind: str, reason: str, values: Mapping[str, str],
                  person: Person | None = None, household: Household | None = None,
                  applicant: str = "", evidence: tuple[bytes, str] | None = None
                  ) -> ChangeRequest:
    """Record a change request (nothing in the register changes until it is confirmed)."""
    spec = kind_of(kind)
    if getattr(actor, "role", None) not in SUBMIT_ROLES:
        raise Forbidden("您的角色不能提交变更申请")
    target: Any = person if spec.target == "person" else household
    if target is None:
        raise ActionError(f"{'人员' if spec.target == 'person' else '户'}：请指定变更对象")
    if not in_user_area(actor, target.area.code):
        raise Forbidden("该变更对象不在您的管辖范围内")
    if isinstance(target, Person):
        _alive(target)
    try:
        reason = check_text(reason, "变更原因", REASON_MAX)
        applicant = check_text(applicant, "申请人", APPLICANT_MAX, required=False)
    except FieldError as exc:
        raise _err(exc) from None
    if spec.evidence_required and evidence is None:
        raise ActionError("证明材料：更正身份信息须上传证明材料（户口簿、身份证等扫描件）")
    pending = ChangeRequest.objects.filter(
        kind=kind, status=ChangeStatus.SUBMITTED,
        **({"person": target} if isinstance(target, Person) else {"household": target})).first()
    if pending is not None:
        raise Conflict(f"变更类型：已有待确认的同类申请 {pending.number}，请等待确认或驳回后再提交")
    parsed = spec.parse(actor, target, values)
    req = ChangeRequest(
        kind=kind, person=target if isinstance(target, Person) else None,
        household=target if isinstance(target, Household) else None, area=target.area,
        confirm_level=spec.level, applicant=applicant, reason=reason, old_values=parsed.old,
        new_values=parsed.new, params=parsed.params, submitted_by=actor,
        secret_sealed=box().seal(json.dumps(parsed.secret)) if parsed.secret else "")
    if evidence is not None:
        _evidence(req, *evidence)
    req.save()
    record(actor, "change.submit", req, person_id=req.person_id or _head_id(req),
           area_code=req.area.code, kind=kind, number=req.number, comment=reason,
           changes=changes_of(req))
    return req


def _head_id(req: ChangeRequest) -> int | None:
    """The person a household's request is filed under in the audit log (its head, or its
    first member), so that the household's timeline shows it. Only a household's request
    asks: a person's names its person (the link is protected from deletion)."""
    hh = req.household
    assert hh is not None
    if hh.head_id:
        return int(hh.head_id)
    first = hh.members.order_by("id").values_list("pk", flat=True).first()
    return int(first) if first is not None else None


def refusal(actor: Any, req: ChangeRequest) -> ActionError | None:
    """Why ``actor`` may not decide ``req`` (as it stands in ``req``), or None."""
    if not in_user_area(actor, req.area.code):
        return Forbidden("该变更申请不在您的管辖范围内")
    if getattr(actor, "role", None) not in CONFIRM_ROLES[req.confirm_level]:
        return Forbidden(f"该变更须由{LEVEL_LABELS[req.confirm_level]}确认")
    if req.submitted_by_id == actor.pk:
        return Forbidden("不能确认或驳回本人提交的变更申请（须由另一人办理）")
    if req.status != ChangeStatus.SUBMITTED:
        return Conflict(f"变更申请 {req.number} {req.get_status_display()}，不能再确认或驳回")
    return None


def _deciding(actor: Any, req: ChangeRequest) -> ChangeRequest:
    locked = (ChangeRequest.objects.select_for_update(of=("self",))
              .select_related("person__area", "household__area", "area", "submitted_by")
              .get(pk=req.pk))
    refused = refusal(actor, locked)
    if refused is not None:
        raise refused
    return locked


@transaction.atomic
def confirm_change(actor: Any, req: ChangeRequest) -> ChangeRequest:
    """Confirm and apply: the register changes through ``registry.actions`` (with their audit
    events and ``person_changed``) in this transaction, or nothing does."""
    locked = _deciding(actor, req)
    secret = json.loads(box().unseal(locked.secret_sealed)) if locked.secret_sealed else {}
    KINDS[locked.kind].apply(actor, locked, secret)
    locked.status = ChangeStatus.CONFIRMED
    locked.decided_by, locked.decided_at = actor, timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    record(actor, "change.confirm", locked, person_id=locked.person_id or _head_id(locked),
           area_code=locked.area.code, kind=locked.kind, number=locked.number)
    return locked


@transaction.atomic
def reject_change(actor: Any, req: ChangeRequest, *, reason: str) -> ChangeRequest:
    locked = _deciding(actor, req)
    try:
        reason = check_text(reason, "驳回理由", REASON_MAX)
    except FieldError as exc:
        raise _err(exc) from None
    locked.status = ChangeStatus.REJECTED
    locked.decided_by, locked.decided_at = actor, timezone.now()
    locked.decision_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    record(actor, "change.reject", locked, person_id=locked.person_id or _head_id(locked),
           area_code=locked.area.code, kind=locked.kind, number=locked.number, comment=reason)
    return locked


# ------------------------------------------------------------------------ several at once

#: at most this many requests confirmed in one go
BULK_MAX = 1000


def _named(req: ChangeRequest, exc: ActionError) -> str:
    """The reason, naming the request (unless it names it already)."""
    return exc.message if req.number in exc.message else f"变更申请 {req.number}：{exc.message}"


def check_changes(actor: Any, requests: list[ChangeRequest]) -> None:
    """Refuse, naming every request the actor may not decide and why (nothing is read but
    the requests themselves). The refusal is ``Forbidden`` when any request is not the
    actor's to decide, ``Conflict`` when all of them are, but some are decided already."""
    if not requests:
        raise ActionError("没有选择要确认的变更申请")
    if len(requests) > BULK_MAX:
        raise ActionError(f"一次最多确认 {BULK_MAX} 项变更申请")
    refused = [(req, exc) for req in requests if (exc := refusal(actor, req)) is not None]
    if not refused:
        return
    text = "；".join(_named(req, exc) for req, exc in refused)
    if any(isinstance(exc, Forbidden) for _, exc in refused):
        raise Forbidden(text)
    raise Conflict(text)


@transaction.atomic
def confirm_changes(actor: Any, requests: list[ChangeRequest]) -> list[ChangeRequest]:
    """Confirm several requests at once, all or none, in one transaction.

    Every request is first checked as :func:`confirm_change` checks it (area, the level its
    kind needs, never the submitter's own, still waiting): any refusal names every refused
    request and its reason, and nothing is applied. Then each is confirmed through
    :func:`confirm_change`, in the order submitted, each leaving its audit events as it does
    alone; if one cannot be applied (the register changed meanwhile, or an earlier request
    of the same batch changed what it needs), the whole batch is rolled back and the error
    names that request."""
    requests = list({r.pk: r for r in requests}.values())
    check_changes(actor, requests)
    done = []
    for req in sorted(requests, key=lambda r: (r.submitted_at, r.pk)):
        try:
            done.append(confirm_change(actor, req))
        except ActionError as exc:
            raise _same_kind(exc, _named(req, exc)) from None
    return done


def _same_kind(exc: ActionError, message: str) -> ActionError:
    for cls in (Forbidden, Conflict):
        if isinstance(exc, cls):
            return cls(message)
    return ActionError(message)
