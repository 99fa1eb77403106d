"""Audit events are append-only (model, manager, admin and, on PostgreSQL, a trigger), and
every change to an account is audited with actor, subject, old and new values."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from huimin.accounts import actions
from huimin.accounts.models import User
from huimin.audit.events import record
from huimin.audit.models import AppendOnlyError, AuditEvent
from huimin.registry.models import Area
from tests.conftest import COUNTY, PASSWORD, VILLAGE_A, VILLAGE_B, Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(personas: Personas) -> Any:
    user = personas.admin
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def _event(personas: Personas) -> AuditEvent:
    return record(personas.cadre_a, "person.view", personas.cadre_a, area_code=VILLAGE_A)


# --- append-only --------------------------------------------------------------------------

def test_an_event_cannot_be_changed_or_deleted_through_the_model(personas: Personas) -> None:
    event = _event(personas)
    event.actor = personas.county
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor=personas.county)
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["actor"])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor == personas.cadre_a


def test_the_admin_cannot_add_change_or_delete_events(personas: Personas,
                                                      admin_client: Client) -> None:
    event = _event(personas)
    listing = admin_client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and "/admin/audit/auditevent/add/" not in \
        listing.content.decode()
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    forged = admin_client.post("/admin/audit/auditevent/add/", {
        "actor": personas.county.pk, "action": "case.approve", "object_type": "case",
        "object_id": "1", "data": "{}"})
    assert forged.status_code == 403
    change = admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {
        "actor": personas.county.pk, "action": "case.approve", "object_type": "case",
        "object_id": "1", "data": "{}"})
    assert change.status_code in (302, 403)  # read-only view: nothing is saved
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    bulk = admin_client.post("/admin/audit/auditevent/", {
        "action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.action) == (personas.cadre_a, "person.view")
    assert AuditEvent.objects.filter(action="case.approve").count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_refuses_update_and_delete_in_sql(personas: Personas) -> None:
    event = _event(personas)
    for sql in ("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
                "DELETE FROM audit_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "person.view"


# --- account changes ----------------------------------------------------------------------

def _change_form(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "", "role": user.role,
        "display_name": user.display_name,
        "areas": [a.pk for a in user.areas.all()],
        "last_login_0": "", "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_admin_giving_a_cadre_another_village_is_audited(personas: Personas,
                                                         superuser: Any,
                                                         admin_client: Client) -> None:
    cadre = personas.cadre_a
    village_b = Area.objects.get(code=VILLAGE_B)
    url = f"/admin/accounts/user/{cadre.pk}/change/"
    resp = admin_client.post(url, _change_form(cadre, areas=[
        Area.objects.get(code=VILLAGE_A).pk, village_b.pk], role="township_reviewer"))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    cadre.refresh_from_db()
    assert cadre.role == "township_reviewer"
    areas = AuditEvent.objects.get(action="account.areas_change", object_id=str(cadre.pk),
                                   actor=superuser)
    assert areas.data["old"] == [VILLAGE_A] and areas.data["added"] == [VILLAGE_B]
    assert areas.data["via"] == "admin"
    role = AuditEvent.objects.get(action="account.role_change", object_id=str(cadre.pk))
    assert (role.actor, role.data["old"], role.data["new"]) == (
        superuser, "village_cadre", "township_reviewer")

    admin_client.post(url, _change_form(cadre, is_active=""))
    off = AuditEvent.objects.get(action="account.deactivate", object_id=str(cadre.pk))
    assert off.actor == superuser and off.data["new"] is False


def test_admin_creating_a_user_and_resetting_a_password_is_audited(
        personas: Personas, superuser: Any, admin_client: Client) -> None:
    resp = admin_client.post("/admin/accounts/user/add/", {
        "username": "cadre_new", "password1": "Qingshan-Road-77",
        "password2": "Qingshan-Road-77", "usable_password": "true"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    new = User.objects.get(username="cadre_new")
    created = AuditEvent.objects.get(action="account.create", object_id=str(new.pk))
    assert created.actor == superuser and created.data["via"] == "admin"

    weak = admin_client.post(f"/admin/accounts/user/{personas.county.pk}/password/", {
        "password1": "12345678", "password2": "12345678", "usable_password": "true"})
    assert weak.status_code == 200  # refused by the validators
    resp = admin_client.post(f"/admin/accounts/user/{personas.county.pk}/password/", {
        "password1": "Qingshan-Road-77", "password2": "Qingshan-Road-77",
        "usable_password": "true"})
    assert resp.status_code == 302
    reset = AuditEvent.objects.get(action="account.password_reset",
                                   object_id=str(personas.county.pk))
    assert reset.actor == superuser and "Qingshan" not in str(reset.data)


def test_admin_removing_a_totp_device_is_audited(personas: Personas, superuser: Any,
                                                 admin_client: Client) -> None:
    device = actions.enrol_totp(personas.county, personas.county, "ab" * 20)
    resp = admin_client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/",
                             {"post": "yes"})
    assert resp.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    removed = AuditEvent.objects.get(action="account.totp_remove")
    assert removed.actor == superuser and removed.object_id == str(personas.county.pk)


def test_actions_record_old_and_new_values(personas: Personas) -> None:
    county = Area.objects.get(code=COUNTY)
    events = actions.update_user(personas.admin, personas.cadre_b, role="auditor",
                                 areas=[county])
    assert sorted(e.action for e in events) == ["account.areas_change", "account.role_change"]
    areas = next(e for e in events if e.action == "account.areas_change")
    assert (areas.data["old"], areas.data["new"]) == ([VILLAGE_B], [COUNTY])
    assert areas.actor == personas.admin
    user = actions.create_user(personas.admin, username="new_one", password=PASSWORD,
                               role="village_cadre", areas=[county])
    assert AuditEvent.objects.get(action="account.create", object_id=str(user.pk)).actor == \
        personas.admin
    with pytest.raises(ValidationError, match=r"太短|常见|数字"):
        actions.set_password(personas.admin, user, "12345678")


def test_changes_made_around_the_actions_are_still_audited(personas: Personas) -> None:
    """Django's createsuperuser/changepassword and the shell save users directly."""
    user = personas.township
    since = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    user.set_password("Qingshan-Road-77")
    user.save()
    reset = AuditEvent.objects.get(action="account.password_reset", object_id=str(user.pk))
    assert reset.actor is None and reset.data["via"] == "direct"
    user.areas.add(Area.objects.get(code=VILLAGE_B))
    areas = AuditEvent.objects.filter(action="account.areas_change", object_id=str(user.pk),
                                      id__gt=since)
    assert areas.count() == 1 and areas[0].data["added"] == [VILLAGE_B]
    user.role = "county_approver"
    user.save()
    assert AuditEvent.objects.get(action="account.role_change", object_id=str(user.pk)
                                  ).data["new"] == "county_approver"
    fresh = User.objects.create_user("shell_user", password=PASSWORD, role="auditor")
    assert AuditEvent.objects.filter(action="account.create", object_id=str(fresh.pk)).exists()


def test_the_totp_reset_command_is_audited(personas: Personas) -> None:
    from django.core.management import call_command

    actions.enrol_totp(personas.finance, personas.finance, "cd" * 20)
    call_command("totp_reset", "finance", "--actor", "admin_user")
    assert not TOTPDevice.objects.filter(user=personas.finance).exists()
    removed = AuditEvent.objects.get(action="account.totp_remove")
    assert removed.actor == personas.admin and removed.data["via"] == "command"
    assert removed.object_id == str(personas.finance.pk)
