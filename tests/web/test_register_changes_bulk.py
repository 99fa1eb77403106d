"""批量确认 of register change requests: the chosen requests, a preview of what each will
change, then one confirmation for all — in the action, the web pages, the API and the CLI.
All or none: a refusal names each refused request and its reason, and nothing is applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cli import app
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.registry import changes
from huimin.registry.models import BankAccount, ChangeRequest, ChangeStatus, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, VILLAGE_C, Personas, make_user
from tests.web.cases_helpers import Couple, apply_rural, make_rural_couple
from tests.web.changes_helpers import (
    CARD,
    CARD_2,
    _media_root,  # noqa: F401  (autouse)
    submit,
)

pytestmark = pytest.mark.django_db
HOW = "本人持卡到村委会核对"


@dataclass
class Bulk:
    couple: Couple
    card: ChangeRequest  # 增加银行账户 for the wife (village level)
    name: ChangeRequest  # 更正身份信息 of the child (township level)
    stop: ChangeRequest  # 停用银行账户 of the husband (village level)
    other_township: ChangeRequest  # 隆江镇, same county
    other_county: ChangeRequest  # 揭西县


def card(bank: str = "惠来农商银行", number: str = CARD) -> dict[str, str]:
    return {"bank_name": bank, "account": number, "verified_how": HOW}


@pytest.fixture
def bulk(personas: Personas) -> Bulk:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    far = make_rural_couple(personas.cadre_b, VILLAGE_B, surname="黄")
    outside = make_rural_couple(personas.cadre_c, VILLAGE_C, surname="郑")
    return Bulk(
        couple,
        card=submit(personas.cadre_a, "account_add", couple.wife, card()),
        name=submit(personas.cadre_a, "identity", couple.child, {"name": "李春燕"}),
        stop=submit(personas.cadre_a, "account_deactivate", couple.husband,
                    {"account_id": str(couple.account.pk)}),
        other_township=submit(personas.cadre_b, "account_add", far.wife, card()),
        other_county=submit(personas.cadre_c, "account_add", outside.wife,
                            card(number=CARD_2)))


def waiting(*reqs: ChangeRequest) -> bool:
    return all(ChangeRequest.objects.get(pk=r.pk).status == ChangeStatus.SUBMITTED
               for r in reqs)


def nothing_applied(b: Bulk) -> None:
    assert waiting(b.card, b.name, b.stop, b.other_township, b.other_county)
    assert not AuditEvent.objects.filter(action="change.confirm").exists()
    assert not BankAccount.objects.filter(person=b.couple.wife).exists()
    assert Person.objects.get(pk=b.couple.child.pk).name == b.couple.child.name
    assert BankAccount.objects.get(pk=b.couple.account.pk).active


# ------------------------------------------------------------------------ the action

def test_confirms_each_through_its_action_with_its_audit_events(bulk: Bulk,
                                                                 personas: Personas) -> None:
    done = changes.confirm_changes(personas.township, [bulk.stop, bulk.card, bulk.name])
    assert [r.pk for r in done] == [bulk.card.pk, bulk.name.pk, bulk.stop.pk]  # as submitted
    assert all(r.status == ChangeStatus.CONFIRMED and r.decided_by == personas.township
               for r in ChangeRequest.objects.filter(pk__in=[r.pk for r in done]))
    assert BankAccount.objects.get(person=bulk.couple.wife).account_number == CARD
    assert Person.objects.get(pk=bulk.couple.child.pk).name == "李春燕"
    assert not BankAccount.objects.get(pk=bulk.couple.account.pk).active
    confirms = AuditEvent.objects.filter(action="change.confirm", actor=personas.township)
    assert sorted(e.data["number"] for e in confirms) == sorted(r.number for r in done)
    for action in ("person.add_account", "person.identity", "person.deactivate_account"):
        assert AuditEvent.objects.filter(action=action, actor=personas.township).count() == 1
    assert waiting(bulk.other_township, bulk.other_county)


def test_wrong_role_is_refused_naming_the_request_and_nothing_is_applied(
        bulk: Bulk, personas: Personas) -> None:
    cadre = make_user("cadre_a2", "village_cadre", VILLAGE_A)  # may confirm village level
    with pytest.raises(Forbidden) as refused:
        changes.confirm_changes(cadre, [bulk.card, bulk.name, bulk.stop])
    assert refused.value.message == (f"变更申请 {bulk.name.number}：该变更须由乡镇审核员"
                                     "（或以上）确认")
    with pytest.raises(Forbidden, match="本人提交"):  # the submitter, at any level
        changes.confirm_changes(personas.cadre_a, [bulk.card])
    for wrong in (personas.finance, personas.auditor):
        with pytest.raises(Forbidden, match=bulk.card.number):
            changes.confirm_changes(wrong, [bulk.card])
    nothing_applied(bulk)
    assert changes.confirm_changes(cadre, [bulk.card, bulk.stop])  # its own level goes


def test_outsiders_are_refused_and_nothing_is_applied(bulk: Bulk, personas: Personas) -> None:
    with pytest.raises(Forbidden) as refused:
        changes.confirm_changes(personas.township, [bulk.card, bulk.other_township,
                                                    bulk.other_county])
    assert refused.value.message == "；".join(
        f"变更申请 {r.number}：该变更申请不在您的管辖范围内"
        for r in (bulk.other_township, bulk.other_county))
    with pytest.raises(Forbidden, match=bulk.other_county.number):
        changes.confirm_changes(personas.county, [bulk.other_township, bulk.other_county])
    for outsider in (personas.township_b, personas.township_c, personas.county_b):
        with pytest.raises(Forbidden, match=bulk.card.number):
            changes.confirm_changes(outsider, [bulk.card])
    nothing_applied(bulk)


def test_one_that_cannot_be_applied_rolls_back_all(bulk: Bulk, personas: Personas) -> None:
    apply_rural(personas.cadre_a, bulk.couple.husband)  # now paid into the account to stop
    with pytest.raises(ActionError) as failed:
        changes.confirm_changes(personas.township, [bulk.card, bulk.name, bulk.stop])
    assert failed.value.message.startswith(f"变更申请 {bulk.stop.number}：账户：该账户是案件")
    nothing_applied(bulk)
    changes.confirm_change(personas.county, bulk.card)
    with pytest.raises(Conflict) as decided:
        changes.confirm_changes(personas.township, [bulk.card, bulk.name])
    assert decided.value.message == (f"变更申请 {bulk.card.number} 已确认并生效，"
                                     "不能再确认或驳回")
    assert waiting(bulk.name)
    with pytest.raises(ActionError, match="没有选择"):
        changes.confirm_changes(personas.township, [])


# ------------------------------------------------------------------------ the pages

def login(username: str, **kw: Any) -> Client:
    c = Client(**kw)
    assert c.login(username=username, password=PASSWORD)
    return c


def test_list_offers_checkboxes_only_on_what_the_user_may_decide(bulk: Bulk) -> None:
    page = login("township").get(reverse("registry:changes")).content.decode()
    assert "批量确认" in page and page.count('name="change"') == 3
    for r in (bulk.card, bulk.name, bulk.stop):
        assert f'value="{r.pk}" aria-label="选择变更申请 {r.number}"' in page
    page = login("cadre_a").get(reverse("registry:changes") + "?status=submitted").content
    assert b'name="change"' not in page and "批量确认".encode() not in page  # all its own
    page = login("finance").get(reverse("registry:changes") + "?status=all").content
    assert b'name="change"' not in page


def test_preview_shows_what_changes_and_changes_nothing(bulk: Bulk) -> None:
    t = login("township")
    ids = [bulk.card.pk, bulk.name.pk, bulk.stop.pk]
    r = t.post(reverse("registry:changes_preview"), {"change": ids})
    assert r.status_code == 200
    page = r.content.decode()
    assert "共 3 项变更申请" in page and "确认以上 3 项" in page
    assert "姓名：李春一 → 李春燕" in page
    assert "银行账户：（空） → 惠来农商银行 ***************8903" in page and CARD not in page
    assert "银行账户：惠来县农村信用合作联社" in page and "→ 停用" in page
    assert bulk.couple.wife.name in page and "增加银行账户" in page
    nothing_applied(bulk)
    shown = AuditEvent.objects.filter(action="person.list", data__via="changes_preview")
    assert shown.count() == 3
    r = t.post(reverse("registry:changes_preview"), {"all": "1"})
    assert r.status_code == 200 and "共 3 项变更申请" in r.content.decode()
    r = t.post(reverse("registry:changes_confirm"), {"change": ids})
    assert r.status_code == 302
    listed = t.get(r["Location"]).content.decode()
    assert "已确认 3 项变更申请并生效" in listed and bulk.stop.number in listed
    assert not waiting(bulk.card) and not waiting(bulk.name) and not waiting(bulk.stop)
    assert AuditEvent.objects.filter(action="change.confirm").count() == 3


def test_pages_refuse_in_chinese_naming_the_request(bulk: Bulk, personas: Personas) -> None:
    t = login("township")
    for url in ("registry:changes_preview", "registry:changes_confirm"):
        r = t.post(reverse(url), {"change": [bulk.card.pk, bulk.other_county.pk]})
        assert r.status_code == 404  # not in the reviewer's areas: not there at all
    cadre = make_user("cadre_a2", "village_cadre", VILLAGE_A)
    c = login(cadre.username)
    r = c.post(reverse("registry:changes_preview"), {"change": [bulk.card.pk, bulk.name.pk]})
    page = r.content.decode()
    assert r.status_code == 403 and f"不能批量确认：变更申请 {bulk.name.number}" in page
    assert "须由乡镇审核员（或以上）确认" in page and "确认以上" not in page
    r = c.post(reverse("registry:changes_confirm"), {"change": [bulk.card.pk, bulk.name.pk]})
    assert r.status_code == 403 and "未确认任何申请" in r.content.decode()
    apply_rural(personas.cadre_a, bulk.couple.husband)
    r = t.post(reverse("registry:changes_confirm"), {"change": [bulk.card.pk, bulk.stop.pk]})
    assert r.status_code == 400
    assert f"未确认任何申请：变更申请 {bulk.stop.number}：账户：" in r.content.decode()
    for role in ("finance", "auditor"):
        assert login(role).post(reverse("registry:changes_preview"),
                                {"change": [bulk.card.pk]}).status_code == 403
    r = t.post(reverse("registry:changes_preview"), {})
    assert r.status_code == 302
    assert "请选择要确认的变更申请" in t.get(r["Location"]).content.decode()
    strict = login("township", enforce_csrf_checks=True)
    assert strict.post(reverse("registry:changes_confirm"),
                       {"change": [bulk.card.pk]}).status_code == 403
    nothing_applied(bulk)


# ------------------------------------------------------------------------ the API

def api_post(c: Client, body: dict[str, Any]) -> Any:
    return c.post("/api/registry/changes/confirm", body, content_type="application/json")


def test_api_previews_then_confirms(bulk: Bulk, personas: Personas) -> None:
    t = login("township")
    ids = [bulk.stop.pk, bulk.card.pk]
    r = api_post(t, {"ids": ids, "preview": True})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["preview"] is True and body["count"] == 2
    assert [c["number"] for c in body["changes"]] == [bulk.card.number, bulk.stop.number]
    assert body["changes"][0]["changes"][0]["new"] == "惠来农商银行 ***************8903"
    assert CARD not in r.content.decode()
    nothing_applied(bulk)
    r = api_post(t, {"ids": [bulk.card.pk, bulk.other_county.pk], "preview": False})
    assert r.status_code == 404 and str(bulk.other_county.pk) in r.json()["detail"]
    r = api_post(login("cadre_a"), {"ids": ids, "preview": True})
    assert r.status_code == 403 and bulk.card.number in r.json()["detail"]
    assert api_post(login("finance"), {"ids": ids, "preview": True}).status_code == 403
    assert api_post(t, {"ids": [], "preview": True}).status_code == 422
    assert api_post(t, {"ids": ids}).status_code == 422  # preview must be said
    nothing_applied(bulk)
    r = api_post(t, {"ids": ids, "preview": False})
    assert r.status_code == 200 and r.json()["count"] == 2
    assert {c["status"] for c in r.json()["changes"]} == {"confirmed"}
    r = api_post(t, {"ids": ids, "preview": False})
    assert r.status_code == 409 and bulk.card.number in r.json()["detail"]
    assert AuditEvent.objects.filter(action="change.confirm").count() == 2


# ------------------------------------------------------------------------ the CLI

def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["registry", "changes", "confirm", *args])
    return result.exit_code, result.output


def test_cli_confirms_several_or_all(bulk: Bulk, personas: Personas) -> None:
    code, out = run("--user", "township", "--all", "--preview")
    assert code == 0 and "preview: 3（未作任何变更）" in out and bulk.name.number in out
    assert "姓名：李春一 → 李春燕" in out and CARD not in out
    nothing_applied(bulk)
    code, out = run(str(bulk.card.pk), str(bulk.other_county.pk), "--user", "township")
    assert code == 2 and "不在您的管辖范围内" in out
    code, out = run("--user", "township")
    assert code == 2
    code, out = run(str(bulk.card.pk), str(bulk.name.pk), "--user", "cadre_a")
    assert code == 1 and "未确认任何申请" in out and bulk.name.number in out
    nothing_applied(bulk)
    code, out = run(str(bulk.card.pk), str(bulk.name.pk), "--user", "township")
    assert code == 0 and "confirmed: 2" in out
    assert f"变更申请 {bulk.name.number} 已确认并生效" in out
    code, out = run("--user", "county", "--all")
    assert code == 0 and "confirmed: 2" in out  # the husband's account and 隆江镇's card
    assert waiting(bulk.other_county)
    assert AuditEvent.objects.filter(action="change.confirm").count() == 4
