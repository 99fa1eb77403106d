"""Change requests: bank accounts added, replaced, deactivated (village level)."""

from __future__ import annotations

import pytest

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Forbidden
from huimin.registry import changes
from huimin.registry.models import BankAccount, ChangeRequest
from tests.conftest import VILLAGE_A, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple
from tests.web.changes_helpers import (
    BAD_CARD,
    CARD,
    CARD_2,
    _media_root,  # noqa: F401  (autouse)
    assert_roles,
    submit,
)

pytestmark = pytest.mark.django_db
HOW = "本人持卡到村委会核对"


def test_account_add_records_who_verified_and_how(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "account_add", couple.wife,
                 {"bank_name": "惠来农商银行", "account": CARD, "verified_how": HOW})
    assert CARD not in str(req.new_values) and CARD not in str(
        AuditEvent.objects.get(action="change.submit").data)
    changes.confirm_change(personas.township, req)
    acct = BankAccount.objects.get(person=couple.wife)
    assert acct.account_number == CARD and acct.active
    assert acct.verified_by == personas.cadre_a and acct.verified_how == HOW


def test_account_replace_moves_open_cases_to_the_new_account(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    assert case.bank_account == couple.account
    req = submit(personas.cadre_a, "account_replace", couple.husband,
                 {"account_id": str(couple.account.pk), "bank_name": "惠来农商银行",
                  "account": CARD_2, "verified_how": HOW})
    changes.confirm_change(personas.township, req)
    couple.account.refresh_from_db()
    case.refresh_from_db()
    assert not couple.account.active and couple.account.deactivated_on is not None
    assert case.bank_account is not None and case.bank_account.account_number == CARD_2
    assert AuditEvent.objects.filter(action="case.account", case_id=case.pk).exists()


def test_account_deactivate_works_and_refuses_an_account_in_use(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "account_deactivate", couple.husband,
                 {"account_id": str(couple.account.pk)})
    apply_rural(personas.cadre_a, couple.husband)  # meanwhile a case is paid into it
    with pytest.raises(ActionError, match=r"账户：该账户是案件 .* 的收款账户"):
        changes.confirm_change(personas.township, req)
    assert BankAccount.objects.get(pk=couple.account.pk).active
    spare = submit(personas.cadre_a, "account_add", couple.wife,
                   {"bank_name": "惠来农商银行", "account": CARD, "verified_how": HOW})
    changes.confirm_change(personas.township, spare)
    acct = BankAccount.objects.get(person=couple.wife)
    changes.confirm_change(personas.township, submit(
        personas.cadre_a, "account_deactivate", couple.wife, {"account_id": str(acct.pk)}))
    assert not BankAccount.objects.get(pk=acct.pk).active


@pytest.mark.parametrize("kind", ["account_add", "account_replace", "account_deactivate"])
def test_account_kinds_wrong_role_and_outsiders(personas: Personas, kind: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    values = {"account_id": str(couple.account.pk), "bank_name": "惠来农商银行",
              "account": CARD, "verified_how": HOW}
    with pytest.raises(Forbidden):
        submit(personas.finance, kind, couple.wife, values)
    with pytest.raises(Forbidden):
        submit(personas.cadre_b, kind, couple.husband, values)
    req = submit(personas.cadre_a, kind, couple.husband, values)
    assert_roles(personas, req, wrong=[personas.finance, personas.auditor],
                 outsiders=[personas.cadre_b, personas.township_b, personas.finance_b])
    assert BankAccount.objects.filter(person=couple.husband).count() == 1


@pytest.mark.parametrize(("values", "message"), [
    ({"account": BAD_CARD}, "银行卡号：校验位不符（Luhn 校验未通过）"),
    ({"account": "6228 480"}, "银行卡号：应为 8–30 位数字"),
    ({"account": "６２２８４８００１２３４５６７８９０３"}, "银行卡号：应为"),
    ({"bank_name": ""}, "开户银行：不能为空"),
    ({"verified_how": ""}, "核验方式：不能为空"),
])
def test_account_bad_input(personas: Personas, values: dict[str, str], message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match=message):
        submit(personas.cadre_a, "account_add", couple.wife,
               {"bank_name": "惠来农商银行", "account": CARD, "verified_how": HOW, **values})
    with pytest.raises(ActionError, match="原账户：须为该人员的有效账户"):
        submit(personas.cadre_a, "account_replace", couple.wife,
               {"account_id": str(couple.account.pk), "bank_name": "惠来农商银行",
                "account": CARD, "verified_how": HOW})
    assert not ChangeRequest.objects.exists()


def test_a_passbook_is_registered_without_the_card_check(personas: Personas) -> None:
    """一折通 and passbook numbers carry no Luhn check digit: the kind says which check applies,
    and the person's file shows it."""
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match="银行卡号：校验位不符"):
        submit(personas.cadre_a, "account_add", couple.wife,
               {"account_kind": "card", "bank_name": "惠来农商银行", "account": BAD_CARD,
                "verified_how": HOW})
    req = submit(personas.cadre_a, "account_add", couple.wife,
                 {"account_kind": "passbook", "bank_name": "惠来农商银行", "account": BAD_CARD,
                  "verified_how": "本人持存折到村委会核对"})
    assert "存折" in str(req.new_values) and BAD_CARD not in str(req.new_values)
    changes.confirm_change(personas.township, req)
    acct = BankAccount.objects.get(person=couple.wife)
    assert (acct.kind, acct.account_number) == ("passbook", BAD_CARD)
    assert acct.get_kind_display() == "存折（一折通）"
    # replaced by a card: the card is checked again
    with pytest.raises(ActionError, match="银行卡号：校验位不符"):
        submit(personas.cadre_a, "account_replace", couple.wife,
               {"account_id": str(acct.pk), "bank_name": "惠来农商银行", "account": BAD_CARD,
                "verified_how": HOW})
    changes.confirm_change(personas.township, submit(
        personas.cadre_a, "account_replace", couple.wife,
        {"account_id": str(acct.pk), "account_kind": "card", "bank_name": "惠来农商银行",
         "account": CARD, "verified_how": HOW}))
    new = BankAccount.objects.get(person=couple.wife, active=True)
    assert (new.kind, new.account_number) == ("card", CARD)


@pytest.mark.parametrize("value", ["cheque", "信用卡", "x" * 30])
def test_an_unknown_account_kind_is_named(personas: Personas, value: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match="账户类型：应为「银行卡」或「存折（一折通）」"):
        submit(personas.cadre_a, "account_add", couple.wife,
               {"account_kind": value, "bank_name": "惠来农商银行", "account": CARD,
                "verified_how": HOW})
    assert not ChangeRequest.objects.exists()
