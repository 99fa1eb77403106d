"""Writes to the registry: atomic, audited, validated the same way everywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.cells import ascii_digits
from huimin.lib.masking import mask_account, mask_id_number
from huimin.registry.crypto import account_hash, box, id_hash, id_last4_hash
from huimin.registry.models import Area, BankAccount, Handover, Household, ParentChild, Person
from huimin.registry.validation import (
    FieldError,
    check_account,
    check_account_kind,
    check_account_of_kind,
    check_bank_name,
    check_death_date,
    check_id,
    check_name,
    check_text,
)

WRITE_ROLES = ("village_cadre", "township_reviewer", "admin")
# The answers to "is this ID number registered?": within the user's areas it may say so;
# outside them it says neither where nor who, and the attempt is audited (``audit_elsewhere``).
ID_HERE = "该号码已在本辖区登记"
ID_ELSEWHERE = "该号码无法在本辖区新登记；如该人已迁入，请通过上级办理"
NOT_HERE = "未在本文件或本辖区登记"
HOUSEHOLD_ELSEWHERE = "该户号无法在本辖区新建；请核对户号，或通过上级办理"


def registered(actor: Any, hashes: list[str]) -> tuple[set[str], set[str]]:
    """Of these keyed hashes of ID numbers, those registered in the actor's areas and those
    registered elsewhere. Only the hash and the area code are read: the uniqueness of an ID
    number is county-wide, the answer given to the user is not."""
    here: set[str] = set()
    elsewhere: set[str] = set()
    for h, code in Person.objects.filter(id_hash__in=hashes).values_list("id_hash", "area__code"):
        (here if in_user_area(actor, code) else elsewhere).add(h)
    return here, elsewhere


def audit_elsewhere(actor: Any, attempts: list[tuple[str, str]], via: str) -> None:
    """Attempts to register ID numbers registered outside the actor's areas, as (keyed hash,
    area code tried in): one event each, visible to the county; never the number."""
    AuditEvent.objects.bulk_create([
        event(actor, "registry.id_elsewhere", actor, area_code=code, id_hash=hashed, via=via)
        for hashed, code in attempts])


def seal_id(id_number: str, area_code: str) -> dict[str, str]:
    """The stored forms of an identity number: keyed hash, sealed text, mask, and the keyed
    hash of its last four characters within the county of ``area_code``."""
    return {"id_hash": id_hash(id_number), "id_sealed": box().seal(id_number),
            "id_masked": mask_id_number(id_number),
            "id_last4_hash": id_last4_hash(id_number, area_code)}


def seal_account(account: str) -> dict[str, str]:
    return {"account_hash": account_hash(account), "account_sealed": box().seal(account),
            "account_masked": mask_account(account)}


def create_person(
    actor: Any, *, name: str, id_number: str, sex: str, birth_date: date, area: Area,
    hukou_type: str, household: Household | None = None, death_date: date | None = None,
) -> Person:
    if getattr(actor, "role", None) not in WRITE_ROLES:
        raise Forbidden("您的角色不能登记人员")
    if area.level != "village":
        raise ActionError("户籍地须为村（居）委会")
    if not in_user_area(actor, area.code):
        raise Forbidden(f"{area.name} 不在您的管辖范围内")
    today = timezone.localdate()
    try:
        name = check_name(name)
        number = check_id(id_number, birth_date=birth_date, sex=sex, today=today)
        check_death_date(death_date, birth=birth_date, today=today)
    except FieldError as exc:
        raise ActionError(f"{exc.column}：{exc.reason}") from None
    if household is not None and household.area_id != area.pk:
        raise ActionError(f"户号：{household.number} 不属于{area.name}")
    hashed = id_hash(number.value)
    here, elsewhere = registered(actor, [hashed])
    if here:
        raise ActionError(f"身份证号码：{ID_HERE}")
    if elsewhere:  # audited outside the write's transaction, so that the refusal keeps it
        audit_elsewhere(actor, [(hashed, area.code)], "create_person")
        raise ActionError(f"身份证号码：{ID_ELSEWHERE}")
    return _create_person(actor, name=name, number=number.value, sex=sex, birth_date=birth_date,
                          area=area, hukou_type=hukou_type, household=household,
                          death_date=death_date)


@transaction.atomic
def _create_person(actor: Any, *, name: str, number: str, sex: str, birth_date: date, area: Area,
                   hukou_type: str, household: Household | None,
                   death_date: date | None) -> Person:
    if Person.objects.filter(id_hash=id_hash(number)).exists():
        raise ActionError("身份证号码：该号码刚被登记，请稍后核对")  # a concurrent registration
    person = Person.objects.create(
        household=household, name=name, sex=sex, birth_date=birth_date, area=area,
        hukou_type=hukou_type, death_date=death_date, **seal_id(number, area.code),
    )
    record(actor, "person.create", person, person_id=person.pk, area_code=area.code)
    return person


@transaction.atomic
def add_bank_account(actor: Any, person: Person, *, bank_name: str, account: str) -> BankAccount:
    if getattr(actor, "role", None) not in WRITE_ROLES:
        raise Forbidden("您的角色不能登记银行账户")
    if not in_user_area(actor, person.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    try:
        bank_name = check_bank_name(bank_name)
        account = check_account(account)
    except FieldError as exc:
        raise ActionError(f"{exc.column}：{exc.reason}") from None
    acct = BankAccount.objects.create(person=person, bank_name=bank_name,
                                      **seal_account(account))
    record(actor, "person.add_account", acct, person_id=person.pk, area_code=person.area.code,
           account=acct.account_masked)
    return acct


def link_parent(parent: Person, child: Person, relation: str) -> ParentChild:
    link, _ = ParentChild.objects.get_or_create(parent=parent, child=child,
                                                defaults={"relation": relation})
    return link


# ------------------------------------------------------------------------ deaths and moves

DEATH_ROLES = ("township_reviewer", "county_approver", "admin")
MOVE_ROLES = ("village_cadre", "township_reviewer", "county_approver", "admin")
SOURCE_MAX = 100
CERTIFICATE_MAX = 60
NOTE_MAX = 200


def _field(exc: FieldError) -> ActionError:
    return ActionError(f"{exc.column}：{exc.reason}")


def _lock_person(person: Person) -> Person:
    return (Person.objects.select_for_update(of=("self",))
            .select_related("area", "household").get(pk=person.pk))


def _in_register(person: Person) -> None:
    if person.moved_out_on is not None:
        raise Conflict(f"{person.name} 已于 {person.moved_out_on:%Y-%m-%d} 迁出本县，"
                       "不能再变更登记")


def _changed(actor: Any, person: Person, kind: str, *, effective_on: date | None, via: str,
             old: dict[str, Any], new: dict[str, Any]) -> None:
    from huimin.registry.signals import person_changed

    person_changed.send(sender=Person, person=person, kind=kind, actor=actor,
                        effective_on=effective_on, via=via, data={"old": old, "new": new})


def changes_list(labels: dict[str, str], old: dict[str, Any],
                 new: dict[str, Any]) -> list[dict[str, str]]:
    """Old → new of each field that changed, for the audit event and the timeline
    (values already masked where personal)."""
    return [{"field": labels.get(k, k), "old": "" if old.get(k) is None else str(old.get(k)),
             "new": "" if new.get(k) is None else str(new.get(k))}
            for k in new if old.get(k) != new.get(k)]


@transaction.atomic
def record_death(actor: Any, person: Person, *, death_date: date, source: str,
                 certificate: str = "", via: str = "change_request", note: str = "") -> Person:
    """Record a death: the date (not before birth, not in the future), where it is known
    from, the certificate number. The same date again changes nothing; another date is a
    conflict (a correction is a change request of its own)."""
    if getattr(actor, "role", None) not in DEATH_ROLES:
        raise Forbidden("死亡登记须由乡镇审核员或县级审批员办理")
    locked = _lock_person(person)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    _in_register(locked)
    if not isinstance(death_date, date):
        raise ActionError("死亡日期：不是有效日期")
    try:
        check_death_date(death_date, birth=locked.birth_date, today=timezone.localdate())
        source = check_text(source, "死亡信息来源", SOURCE_MAX)
        certificate = check_text(certificate, "死亡证明编号", CERTIFICATE_MAX, required=False)
        note = check_text(note, "说明", NOTE_MAX, required=False)
    except FieldError as exc:
        raise _field(exc) from None
    if locked.death_date == death_date:
        return locked
    if locked.death_date is not None:
        raise Conflict(f"死亡日期：{locked.name} 已登记死亡日期 {locked.death_date:%Y-%m-%d}，"
                       f"与 {death_date:%Y-%m-%d} 不一致；请核实后以更正申请办理")
    old = {"death_date": None, "death_source": locked.death_source,
           "death_certificate": locked.death_certificate}
    locked.death_date, locked.death_source = death_date, source
    locked.death_certificate = certificate
    locked.save(update_fields=["death_date", "death_source", "death_certificate"])
    new = {"death_date": death_date.isoformat(), "death_source": source,
           "death_certificate": certificate}
    record(actor, "person.death", locked, person_id=locked.pk, area_code=locked.area.code,
           via=via, comment=note, death_date=death_date.isoformat(), source=source,
           certificate=certificate, changes=changes_list(DEATH_LABELS, old, new))
    _changed(actor, locked, "death", effective_on=death_date, via=via, old=old, new=new)
    return locked


DEATH_LABELS = {"death_date": "死亡日期", "death_source": "信息来源",
                "death_certificate": "死亡证明编号"}


def check_destination(code: object, column: str = "迁往区划代码") -> str:
    """A 12-digit village code known to the national division snapshot."""
    from huimin.registry.snapshot import lookup

    text = str(code).strip()
    if len(text) != 12 or not ascii_digits(text):
        raise ActionError(f"{column}：「{text}」应为 12 位数字的统计用区划代码")
    found = lookup(text)
    if found is None:
        raise ActionError(f"{column}：{text} 不是已知的区划代码（2023 年统计用区划代码）")
    if found[1] != "village":
        raise ActionError(f"{column}：{text}（{found[0]}）不是村（居）委会一级的代码")
    return text


@transaction.atomic
def move_person(actor: Any, person: Person, *, to_code: str, moved_on: date,
                via: str = "change_request", note: str = "") -> Person:
    """A move to another village: within the county the person's area changes and their open
    cases follow (history kept; a household whose members have all moved follows too);
    out of the county the person is recorded as moved out and their open cases end with a
    hand-over record (``Handover``) the other county can import."""
    from huimin.cases import actions as case_actions

    if getattr(actor, "role", None) not in MOVE_ROLES:
        raise Forbidden("您的角色不能办理迁移登记")
    locked = _lock_person(person)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    _in_register(locked)
    if locked.death_date is not None:
        raise ActionError(f"迁移：{locked.name} 已登记死亡，不能办理迁移")
    today = timezone.localdate()
    if not isinstance(moved_on, date):
        raise ActionError("迁移日期：不是有效日期")
    if moved_on > today:
        raise ActionError("迁移日期：晚于今天")
    if moved_on < locked.birth_date:
        raise ActionError("迁移日期：早于出生日期")
    try:
        note = check_text(note, "说明", NOTE_MAX, required=False)
    except FieldError as exc:
        raise _field(exc) from None
    to_code = check_destination(to_code)
    from_area = locked.area
    if to_code == from_area.code:
        raise ActionError(f"迁往区划代码：{locked.name} 的户籍已在{from_area.name}")
    old = {"area": from_area.code, "area_name": from_area.full_name()}
    cases = list(locked.cases.exclude(state__in=case_actions.ENDED_FOR_MOVES)
                 .order_by("id"))
    if to_code[:6] == from_area.code[:6]:
        area = Area.objects.filter(code=to_code, level="village").first()
        if area is None:
            raise ActionError(f"迁往区划代码：{to_code} 未在本县区划中登记")
        locked.area = area
        fields = ["area"]
        household = locked.household
        if household is not None and household.area_id != area.pk:
            others = household.members.exclude(pk=locked.pk).filter(
                moved_out_on=None, death_date=None).exclude(area=area)
            if others.exists():
                locked.household = None  # the others stay: the person leaves the household
            else:
                household.area = area
                household.save(update_fields=["area"])
            fields.append("household")
        locked.save(update_fields=fields)
        for case in cases:
            case_actions.move_case(actor, case, to_area=area, moved_on=moved_on, note=note)
        new = {"area": area.code, "area_name": area.full_name()}
        handover = None
    else:
        for case in cases:
            case_actions.check_transferable(case)
        from huimin.registry.snapshot import full_name

        to_name = full_name(to_code)
        locked.moved_out_on, locked.moved_to_code = moved_on, to_code
        locked.save(update_fields=["moved_out_on", "moved_to_code"])
        handover = Handover.objects.create(
            person=locked, from_code=from_area.code, to_code=to_code, to_name=to_name[:200],
            moved_on=moved_on, case_ids=[c.pk for c in cases], note=note, created_by=actor)
        for case in cases:
            case_actions.transfer_out(actor, case, moved_on=moved_on, to_code=to_code,
                                      note=note or f"迁出至{to_name}")
        new = {"area": to_code, "area_name": to_name}
    record(actor, "person.move", locked, person_id=locked.pk, area_code=from_area.code,
           via=via, comment=note, moved_on=moved_on.isoformat(), from_code=from_area.code,
           to_code=to_code, out_of_county=handover is not None,
           handover=handover.pk if handover else None, cases=[c.pk for c in cases],
           changes=[{"field": "户籍地", "old": old["area_name"], "new": new["area_name"]}])
    _changed(actor, locked, "move", effective_on=moved_on, via=via, old=old, new=new)
    return locked


# ------------------------------------------------------------------------ identity

IDENTITY_ROLES = DEATH_ROLES
CHANGE_ROLES = ("village_cadre", "township_reviewer", "county_approver", "admin")
IDENTITY_LABELS = {"name": "姓名", "birth_date": "出生日期", "sex": "性别",
                   "id_number": "身份证号码"}


def _editable(actor: Any, person: Person, roles: tuple[str, ...], what: str) -> Person:
    if getattr(actor, "role", None) not in roles:
        raise Forbidden(f"您的角色不能办理{what}")
    locked = _lock_person(person)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    _in_register(locked)
    return locked


@transaction.atomic
def correct_identity(actor: Any, person: Person, *, name: str | None = None,
                     birth_date: date | None = None, sex: str | None = None,
                     id_number: str | None = None, via: str = "change_request",
                     note: str = "") -> Person:
    """Correct a name, birth date, sex or identity number (None: unchanged). The identity
    number is checked (GB 11643) against the birth date and sex as they will stand."""
    locked = _editable(actor, person, IDENTITY_ROLES, "身份信息更正")
    today = timezone.localdate()
    new_birth = birth_date if birth_date is not None else locked.birth_date
    new_sex = sex if sex is not None else locked.sex
    try:
        new_name = check_name(name) if name is not None else locked.name
        if new_sex not in ("M", "F"):
            raise FieldError("性别", "应为 男 或 女")
        if new_birth > today:
            raise FieldError("出生日期", "晚于今天")
        number = check_id(id_number if id_number is not None else locked.id_number,
                          birth_date=new_birth, sex=new_sex, today=today)
        check_death_date(locked.death_date, birth=new_birth, today=today,
                         column="出生日期（与已登记的死亡日期）")
    except FieldError as exc:
        raise _field(exc) from None
    old = {"name": locked.name, "birth_date": locked.birth_date.isoformat(),
           "sex": locked.get_sex_display(), "id_number": locked.id_masked}
    fields = ["name", "birth_date", "sex"]
    if number.value != locked.id_number:
        hashed = id_hash(number.value)
        if Person.objects.filter(id_hash=hashed).exclude(pk=locked.pk).exists():
            here = registered(actor, [hashed])[0]
            raise ActionError(f"身份证号码：{ID_HERE if here else ID_ELSEWHERE}")
        for key, value in seal_id(number.value, locked.area.code).items():
            setattr(locked, key, value)
        fields += ["id_hash", "id_sealed", "id_masked", "id_last4_hash"]
    locked.name, locked.birth_date, locked.sex = new_name, new_birth, new_sex
    new = {"name": locked.name, "birth_date": new_birth.isoformat(),
           "sex": locked.get_sex_display(), "id_number": locked.id_masked}
    if old == new and number.value == person.id_number:
        raise ActionError("更正内容：与现登记内容相同，没有需要更正的项目")
    locked.save(update_fields=fields)
    changes = changes_list(IDENTITY_LABELS, old, new)
    if "id_hash" in fields and not any(c["field"] == "身份证号码" for c in changes):
        changes.append({"field": "身份证号码", "old": old["id_number"], "new": new["id_number"]})
    record(actor, "person.identity", locked, person_id=locked.pk, area_code=locked.area.code,
           via=via, comment=note, changes=changes)
    _changed(actor, locked, "identity", effective_on=None, via=via, old=old, new=new)
    return locked


# ------------------------------------------------------------------------ households

def _household_locked(actor: Any, household: Household) -> Household:
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("您的角色不能办理户籍变更")
    locked = Household.objects.select_for_update(of=("self",)).select_related("area").get(
        pk=household.pk)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该户不在您的管辖范围内")
    return locked


def _living(household: Household) -> Any:
    return household.members.filter(moved_out_on=None)


def _household_event(actor: Any, action: str, household: Household, person: Person,
                     via: str, note: str, changes: list[dict[str, str]], **data: Any) -> None:
    record(actor, action, household, person_id=person.pk,
           area_code=household.area.code, via=via, comment=note, household=household.number,
           changes=changes, **data)
    _changed(actor, person, "household", effective_on=None, via=via,
             old={c["field"]: c["old"] for c in changes},
             new={c["field"]: c["new"] for c in changes})


def _member_of(household: Household, person: Person, column: str = "成员") -> Person:
    locked = _lock_person(person)
    if locked.household_id != household.pk:
        raise ActionError(f"{column}：{locked.name} 不是户 {household.number} 的成员")
    return locked


@transaction.atomic
def set_head(actor: Any, household: Household, person: Person, *,
             via: str = "change_request", note: str = "") -> Household:
    hh = _household_locked(actor, household)
    head = _member_of(hh, person, "户主")
    if head.death_date is not None or head.moved_out_on is not None:
        raise ActionError(f"户主：{head.name} 已死亡或已迁出，不能作为户主")
    if hh.head_id == head.pk:
        raise ActionError(f"户主：{head.name} 已是户主")
    old = hh.head.name if hh.head else ""
    hh.head = head
    hh.save(update_fields=["head"])
    _household_event(actor, "household.head", hh, head, via, note,
                     [{"field": "户主", "old": old, "new": head.name}])
    return hh


@transaction.atomic
def add_member(actor: Any, household: Household, person: Person, *,
               via: str = "change_request", note: str = "") -> Household:
    hh = _household_locked(actor, household)
    member = _lock_person(person)
    if not in_user_area(actor, member.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    _in_register(member)
    if member.household_id == hh.pk:
        raise ActionError(f"成员：{member.name} 已是本户成员")
    if member.household_id is not None:
        raise ActionError(f"成员：{member.name} 已在户 {member.household} 中，"
                          "请先办理减少户成员或分户")
    if member.area_id != hh.area_id:
        raise ActionError(f"成员：{member.name} 的户籍地不是{hh.area.name}，请先办理迁移")
    member.household = hh
    member.save(update_fields=["household"])
    _household_event(actor, "household.member_add", hh, member, via, note,
                     [{"field": "户号", "old": "", "new": hh.number}])
    return hh


@transaction.atomic
def remove_member(actor: Any, household: Household, person: Person, *,
                  via: str = "change_request", note: str = "") -> Household:
    hh = _household_locked(actor, household)
    member = _member_of(hh, person)
    member.household = None
    member.save(update_fields=["household"])
    if hh.head_id == member.pk:
        hh.head = None
        hh.save(update_fields=["head"])
    _household_event(actor, "household.member_remove", hh, member, via, note,
                     [{"field": "户号", "old": hh.number, "new": ""}])
    return hh


@transaction.atomic
def split_household(actor: Any, household: Household, members: list[Person], *,
                    address: str = "", via: str = "change_request",
                    note: str = "") -> Household:
    """分户: these members leave for a new household of the same village (the first one is
    its head); at least one member stays."""
    from huimin.registry.importer import next_household_number

    hh = _household_locked(actor, household)
    if not members:
        raise ActionError("分出成员：请至少选择一人")
    moving = [_member_of(hh, p, "分出成员") for p in members]
    staying = _living(hh).exclude(pk__in=[p.pk for p in moving])
    if not staying.exists():
        raise ActionError("分出成员：不能把全部成员分出，原户至少应留一人")
    try:
        address = check_text(address, "住址", 200, required=False)
    except FieldError as exc:
        raise _field(exc) from None
    list(Area.objects.select_for_update().filter(pk=hh.area_id))
    new = Household.objects.create(number=next_household_number(hh.area), area=hh.area,
                                   address=address or hh.address, hukou_type=hh.hukou_type,
                                   head=moving[0])
    Person.objects.filter(pk__in=[p.pk for p in moving]).update(household=new)
    if hh.head_id in {p.pk for p in moving}:
        hh.head = None
        hh.save(update_fields=["head"])
    for p in moving:
        _household_event(actor, "household.split", hh, p, via, note,
                         [{"field": "户号", "old": hh.number, "new": new.number}],
                         new_household=new.number)
    return new


@transaction.atomic
def merge_households(actor: Any, household: Household, into: Household, *,
                     via: str = "change_request", note: str = "") -> Household:
    """合户: every member of ``household`` joins ``into`` (same village); the emptied
    household stays on the register, with its history."""
    hh = _household_locked(actor, household)
    target = _household_locked(actor, into)
    if target.pk == hh.pk:
        raise ActionError("并入户号：不能并入本户")
    if target.area_id != hh.area_id:
        raise ActionError(f"并入户号：{target.number} 不在{hh.area.name}，请先办理迁移")
    moving = list(hh.members.select_for_update(of=("self",)).order_by("id"))
    if not moving:
        raise ActionError(f"户号：{hh.number} 没有成员可并入")
    Person.objects.filter(pk__in=[p.pk for p in moving]).update(household=target)
    if hh.head_id is not None:
        hh.head = None
        hh.save(update_fields=["head"])
    for p in moving:
        _household_event(actor, "household.merge", hh, p, via, note,
                         [{"field": "户号", "old": hh.number, "new": target.number}],
                         into_household=target.number)
    return target


# ------------------------------------------------------------------------ parent–child links

@transaction.atomic
def add_parent_link(actor: Any, parent: Person, child: Person, relation: str, *,
                    via: str = "change_request", note: str = "") -> ParentChild:
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("您的角色不能登记亲子关系")
    for p in (parent, child):
        if not in_user_area(actor, p.area.code):
            raise Forbidden("该人员不在您的管辖范围内")
    if relation not in ("father", "mother", "guardian"):
        raise ActionError("关系：应为 父亲、母亲 或 监护人")
    if parent.pk == child.pk:
        raise ActionError("父母：不能是子女本人")
    if relation != "guardian" and parent.birth_date >= child.birth_date:
        raise ActionError(f"父母：{parent.name} 的出生日期不早于子女 {child.name}")
    if (relation, parent.sex) in (("father", "F"), ("mother", "M")):
        raise ActionError(f"关系：{parent.name} 的性别与「"
                          f"{'父亲' if relation == 'father' else '母亲'}」不符")
    if ParentChild.objects.filter(parent=parent, child=child).exists():
        raise ActionError(f"父母：{parent.name} 与 {child.name} 的亲子关系已登记")
    if relation != "guardian" and ParentChild.objects.filter(child=child,
                                                             relation=relation).exists():
        raise ActionError(f"关系：{child.name} 已登记{'父亲' if relation == 'father' else '母亲'}")
    link = ParentChild.objects.create(parent=parent, child=child, relation=relation)
    label = link.get_relation_display()
    record(actor, "person.parent_link", link, person_id=child.pk, area_code=child.area.code,
           via=via, comment=note,
           changes=[{"field": label, "old": "", "new": parent.name}])
    _changed(actor, child, "household", effective_on=None, via=via, old={label: ""},
             new={label: parent.name})
    return link


@transaction.atomic
def remove_parent_link(actor: Any, link: ParentChild, *, via: str = "change_request",
                       note: str = "") -> None:
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("您的角色不能解除亲子关系")
    child, parent = link.child, link.parent
    if not in_user_area(actor, child.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    label = link.get_relation_display()
    record(actor, "person.parent_unlink", link, person_id=child.pk, area_code=child.area.code,
           via=via, comment=note, changes=[{"field": label, "old": parent.name, "new": ""}])
    link.delete()
    _changed(actor, child, "household", effective_on=None, via=via, old={label: parent.name},
             new={label: ""})


# ------------------------------------------------------------------------ bank accounts

ACCOUNT_ROLES = CHANGE_ROLES
VERIFY_MAX = 100


def _account_fields(kind: str, bank_name: str, account: str,
                    verified_how: str) -> tuple[str, str, str, str]:
    """The kind (``AccountKind``), bank, number (Luhn-checked for a card) and how it was
    verified, each checked."""
    try:
        kind = check_account_kind(kind)
        return (kind, check_bank_name(bank_name), check_account_of_kind(account, kind),
                check_text(verified_how, "核验方式", VERIFY_MAX))
    except FieldError as exc:
        raise _field(exc) from None


def _new_account(actor: Any, person: Person, kind: str, bank_name: str, account: str,
                 verified_how: str, verified_by: Any) -> BankAccount:
    if BankAccount.objects.filter(person=person, account_hash=account_hash(account),
                                  active=True).exists():
        raise ActionError(f"{'存折账号' if kind == 'passbook' else '银行卡号'}：该账户已登记且有效")
    return BankAccount.objects.create(person=person, kind=kind, bank_name=bank_name,
                                      verified_by=verified_by or actor,
                                      verified_how=verified_how, **seal_account(account))


def _account_event(actor: Any, action: str, person: Person, acct: BankAccount, via: str,
                   note: str, changes: list[dict[str, str]]) -> None:
    record(actor, action, acct, person_id=person.pk, area_code=person.area.code, via=via,
           comment=note, account=acct.account_masked, changes=changes)
    _changed(actor, person, "account", effective_on=None, via=via,
             old={c["field"]: c["old"] for c in changes},
             new={c["field"]: c["new"] for c in changes})


def account_label(acct: BankAccount) -> str:
    """An account in words, masked: 惠来农商银行 存折 6228********0903 (a card says no kind)."""
    kind = " 存折" if acct.kind == "passbook" else ""
    return f"{acct.bank_name}{kind} {acct.account_masked}"


@transaction.atomic
def register_account(actor: Any, person: Person, *, bank_name: str, account: str,
                     verified_how: str, verified_by: Any = None, kind: str = "card",
                     via: str = "change_request", note: str = "") -> BankAccount:
    """A new bank card (Luhn-checked) or passbook (``kind``), with who checked it against
    the card or passbook and how."""
    locked = _editable(actor, person, ACCOUNT_ROLES, "银行账户登记")
    kind, bank_name, account, verified_how = _account_fields(kind, bank_name, account,
                                                             verified_how)
    acct = _new_account(actor, locked, kind, bank_name, account, verified_how, verified_by)
    _account_event(actor, "person.add_account", locked, acct, via, note,
                   [{"field": "银行账户", "old": "", "new": account_label(acct)}])
    return acct


def _open_cases_paid_to(acct: BankAccount) -> Any:
    from huimin.cases.actions import ENDED_FOR_MOVES
    from huimin.cases.models import Case

    return Case.objects.filter(bank_account=acct).exclude(state__in=ENDED_FOR_MOVES)


@transaction.atomic
def replace_account(actor: Any, old: BankAccount, *, bank_name: str, account: str,
                    verified_how: str, verified_by: Any = None, kind: str = "card",
                    via: str = "change_request", note: str = "") -> BankAccount:
    """The old account is deactivated, the new one registered, and the open cases paid into
    the old one are paid into the new one from now on."""
    from huimin.cases.actions import change_account

    locked = _editable(actor, old.person, ACCOUNT_ROLES, "银行账户更换")
    acct_old = BankAccount.objects.select_for_update().get(pk=old.pk)
    if not acct_old.active:
        raise ActionError("原账户：该账户已停用")
    kind, bank_name, account, verified_how = _account_fields(kind, bank_name, account,
                                                             verified_how)
    acct_old.active = False
    acct_old.deactivated_on = timezone.localdate()
    acct_old.save(update_fields=["active", "deactivated_on"])
    acct = _new_account(actor, locked, kind, bank_name, account, verified_how, verified_by)
    for case in _open_cases_paid_to(acct_old):
        change_account(actor, case, acct, note=note)
    _account_event(actor, "person.replace_account", locked, acct, via, note,
                   [{"field": "银行账户", "old": account_label(acct_old),
                     "new": account_label(acct)}])
    return acct


@transaction.atomic
def deactivate_account(actor: Any, acct: BankAccount, *, via: str = "change_request",
                       note: str = "") -> BankAccount:
    locked = _editable(actor, acct.person, ACCOUNT_ROLES, "银行账户停用")
    row = BankAccount.objects.select_for_update().get(pk=acct.pk)
    if not row.active:
        raise ActionError("账户：该账户已停用")
    using = list(_open_cases_paid_to(row)[:3])
    if using:
        raise ActionError("账户：该账户是案件 " + "、".join(c.number for c in using)
                          + " 的收款账户，请以「更换银行账户」办理")
    row.active = False
    row.deactivated_on = timezone.localdate()
    row.save(update_fields=["active", "deactivated_on"])
    _account_event(actor, "person.deactivate_account", locked, row, via, note,
                   [{"field": "银行账户", "old": f"{row.bank_name} {row.account_masked}（有效）",
                     "new": "停用"}])
    return row
from huimin.registry.merge import merge_persons  # noqa: E402, F401  (identity: person merge)
