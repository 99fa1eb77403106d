"""Writes to the registry: atomic, audited, validated the same way everywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Forbidden
from huimin.lib.masking import mask_account, mask_id_number
from huimin.registry.crypto import account_hash, box, id_hash
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from huimin.registry.validation import (
    FieldError,
    check_account,
    check_bank_name,
    check_death_date,
    check_id,
    check_name,
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
