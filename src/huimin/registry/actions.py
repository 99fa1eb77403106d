"""Writes to the registry: atomic, audited, validated the same way everywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.audit.events import record
from huimin.errors import ActionError, Forbidden
from huimin.lib.masking import mask_account, mask_id_number
from huimin.registry.crypto import account_hash, box, id_hash
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from huimin.registry.validation import FieldError, check_id

WRITE_ROLES = ("village_cadre", "township_reviewer", "admin")


def seal_id(id_number: str) -> dict[str, str]:
    return {"id_hash": id_hash(id_number), "id_sealed": box().seal(id_number),
            "id_masked": mask_id_number(id_number)}


def seal_account(account: str) -> dict[str, str]:
    return {"account_hash": account_hash(account), "account_sealed": box().seal(account),
            "account_masked": mask_account(account)}


def find_by_id_number(id_number: str) -> Person | None:
    return Person.objects.filter(id_hash=id_hash(id_number.strip().upper())).first()


@transaction.atomic
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
    if not name.strip():
        raise ActionError("姓名：不能为空")
    try:
        number = check_id(id_number, birth_date=birth_date, sex=sex, today=timezone.localdate())
    except FieldError as exc:
        raise ActionError(f"{exc.column}：{exc.reason}") from None
    if find_by_id_number(number.value):
        raise ActionError("身份证号码：该号码已登记")
    person = Person.objects.create(
        household=household, name=name.strip(), sex=sex, birth_date=birth_date, area=area,
        hukou_type=hukou_type, death_date=death_date, **seal_id(number.value),
    )
    record(actor, "person.create", person, person_id=person.pk, area_code=area.code)
    return person


@transaction.atomic
def add_bank_account(actor: Any, person: Person, *, bank_name: str, account: str) -> BankAccount:
    if getattr(actor, "role", None) not in WRITE_ROLES:
        raise Forbidden("您的角色不能登记银行账户")
    if not in_user_area(actor, person.area.code):
        raise Forbidden("该人员不在您的管辖范围内")
    account = account.replace(" ", "")
    if not account.isdigit() or not 8 <= len(account) <= 30:
        raise ActionError("银行账号：应为 8–30 位数字")
    if not bank_name.strip():
        raise ActionError("开户银行：不能为空")
    acct = BankAccount.objects.create(person=person, bank_name=bank_name.strip(),
                                      **seal_account(account))
    record(actor, "person.add_account", acct, person_id=person.pk, area_code=person.area.code,
           account=acct.account_masked)
    return acct


def link_parent(parent: Person, child: Person, relation: str) -> ParentChild:
    link, _ = ParentChild.objects.get_or_create(parent=parent, child=child,
                                                defaults={"relation": relation})
    return link
