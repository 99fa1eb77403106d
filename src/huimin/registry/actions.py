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
from huimin.registry.crypto import account_hash, box, id_hash
from huimin.registry.models import Area, BankAccount, Handover, Household, ParentChild, Person
from huimin.registry.validation import (
    FieldError,
    check_account,
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


def seal_id(id_number: str) -> dict[str, str]:
    return {"id_hash": id_hash(id_number), "id_sealed": box().seal(id_number),
            "id_masked": mask_id_number(id_number)}


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
        hukou_type=hukou_type, death_date=death_date, **seal_id(number),
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
