"""Logins: lockout after repeated failures, password rules, idle timeout, password change,
the second factor for county approvers and finance officers, security headers; every login,
failure, logout and lockout audited."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

import huimin
from huimin.audit.events import ACTION_LABELS
from huimin.audit.models import AuditEvent
from huimin.demo import DEMO_PASSWORD
from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def _login_form(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _logged_in(client: Client) -> bool:
    return client.get("/").status_code == 200


# --- lockout ------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
        personas: Personas, axes_on: None) -> None:
    client = Client()
    for _ in range(4):
        resp = _login_form(client, "cadre_a", "wrong-password-1")
        assert resp.status_code == 200 and "用户名或密码错误" in resp.content.decode()
    locked = _login_form(client, "cadre_a", "wrong-password-1")
    assert locked.status_code == 429
    assert "账户已暂时锁定" in locked.content.decode() and "15 分钟" in locked.content.decode()
    # the right password no longer works, from any client
    again = _login_form(Client(), "cadre_a", PASSWORD)
    assert again.status_code == 429 and not _logged_in(client)
    # another user is not affected
    other = Client()
    assert _login_form(other, "cadre_b", PASSWORD).status_code == 302 and _logged_in(other)

    failed = AuditEvent.objects.filter(action="account.login_failed",
                                       data__username="cadre_a")
    assert failed.count() >= 5
    assert all(e.object_id == str(personas.cadre_a.pk) for e in failed)
    assert all("wrong-password" not in str(e.data) for e in failed)
    assert AuditEvent.objects.filter(action="account.lockout", data__username="cadre_a",
                                     object_id=str(personas.cadre_a.pk)).exists()


def test_lockout_ends_after_the_cool_off(personas: Personas, axes_on: None) -> None:
    start = datetime(2026, 6, 15, 9, 0, tzinfo=SH)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _login_form(Client(), "county", "wrong-password-1")
        assert _login_form(Client(), "county", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        client = Client()
        assert _login_form(client, "county", PASSWORD).status_code == 302
        assert _logged_in(client)


def test_a_failed_login_for_an_unknown_name_is_audited_without_the_password(
        db: Any) -> None:
    _login_form(Client(), "nobody-here", "Secret-Guess-99")
    event = AuditEvent.objects.get(action="account.login_failed")
    assert event.data["username"] == "nobody-here" and event.object_id == ""
    assert "Secret-Guess-99" not in str(event.data)


def test_login_and_logout_are_audited(personas: Personas) -> None:
    client = Client()
    assert _login_form(client, "auditor", PASSWORD).status_code == 302
    login = AuditEvent.objects.get(action="account.login")
    assert login.actor == personas.auditor and login.data["ip"] == "127.0.0.1"
    client.post("/logout/")
    assert AuditEvent.objects.filter(action="account.logout", actor=personas.auditor).exists()


# --- passwords ----------------------------------------------------------------------------

@pytest.mark.parametrize("weak", ["12345678", "1234567890123", "password123", "short1!"])
def test_weak_passwords_are_refused(personas: Personas, weak: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(weak, personas.cadre_a)


def test_the_demo_and_test_passwords_pass_the_validators(personas: Personas) -> None:
    for user in (personas.cadre_a, personas.county, personas.admin):
        validate_password(DEMO_PASSWORD, user)
        validate_password(PASSWORD, user)


def test_password_change_page(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.cadre_a)
    page = client.get("/account/password/")
    assert page.status_code == 200 and "修改密码" in page.content.decode()
    assert 'href="/account/password/"' in client.get("/").content.decode()  # in the header

    weak = client.post("/account/password/", {"old_password": PASSWORD,
                                              "new_password1": "12345678",
                                              "new_password2": "12345678"})
    text = weak.content.decode()
    assert weak.status_code == 200 and "新密码：" in text and "太短" in text and "数字" in text
    wrong = client.post("/account/password/", {"old_password": "not-my-password",
                                               "new_password1": "Qingshan-Road-77",
                                               "new_password2": "Qingshan-Road-77"})
    assert wrong.status_code == 200 and "原密码：" in wrong.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="account.password").exists()

    done = client.post("/account/password/", {"old_password": PASSWORD,
                                              "new_password1": "Qingshan-Road-77",
                                              "new_password2": "Qingshan-Road-77"})
    assert done.status_code == 302 and done["Location"] == "/account/password/done/"
    assert _logged_in(client)  # still logged in after the change
    personas.cadre_a.refresh_from_db()
    assert personas.cadre_a.check_password("Qingshan-Road-77")
    event = AuditEvent.objects.get(action="account.password_change")
    assert event.actor == personas.cadre_a and event.object_id == str(personas.cadre_a.pk)
    assert "Qingshan" not in str(event.data)


# --- idle timeout -------------------------------------------------------------------------

def test_sessions_end_after_thirty_idle_minutes(personas: Personas, settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = 30 * 60  # the production default (conftest lengthens it)
    start = datetime(2026, 6, 15, 9, 0, tzinfo=SH)
    client = Client()
    with time_machine.travel(start, tick=False):
        client.force_login(personas.township)
    for minutes in (29, 58, 87):  # each request renews the session
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=87 + 31), tick=False):
        resp = client.get("/")
        assert resp.status_code == 302 and resp["Location"].startswith("/login/")


# --- headers ------------------------------------------------------------------------------

def test_security_headers(personas: Personas) -> None:
    anon = Client().get("/login/")
    csp = anon["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert anon["X-Content-Type-Options"] == "nosniff"
    assert anon["Referrer-Policy"] == "same-origin"
    assert anon["X-Frame-Options"] == "DENY"
    client = Client()
    client.force_login(personas.cadre_a)
    for url in ("/", "/registry/persons/", "/api/persons"):
        resp = client.get(url)
        assert resp.status_code == 200
        assert "no-store" in resp["Cache-Control"] and "private" in resp["Cache-Control"]


def test_cookies_are_secure_http_only_and_same_site(personas: Personas, settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True  # as in production
    client = Client()
    resp = client.post("/login/", {"username": "cadre_a", "password": PASSWORD}, secure=True)
    cookie = resp.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE


# --- second factor ------------------------------------------------------------------------

def _token(key_hex: str, *, ahead: int = 0) -> str:
    totp = TOTP(bytes.fromhex(key_hex))
    totp.time = time.time() + ahead
    return f"{totp.token():06d}"


def test_county_approver_enrols_then_gives_a_code_at_each_login(
        personas: Personas, totp_on: list[str]) -> None:
    client = Client()
    client.force_login(personas.county)
    resp = client.get("/cases/")
    assert resp.status_code == 302 and resp["Location"].startswith("/account/totp/enrol/")
    assert client.get("/api/cases").status_code == 403  # the API too
    page = client.get(resp["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and "<svg" in text and "绑定动态口令" in text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', text)
    assert secret is not None
    key = client.session["huimin_totp_pending_key"]
    import base64
    assert base64.b32decode(secret.group(1).replace(" ", "")).hex() == key

    bad = client.post("/account/totp/enrol/", {"code": "000000", "next": "/cases/"})
    if bad.status_code != 302:  # 000000 could by chance be the right code
        assert bad.status_code == 400 and "动态口令不正确" in bad.content.decode()
        assert not TOTPDevice.objects.filter(user=personas.county).exists()
    good = client.post("/account/totp/enrol/", {"code": _token(key), "next": "/cases/"})
    assert good.status_code == 302 and good["Location"] == "/cases/"
    assert client.get("/cases/").status_code == 200
    device = TOTPDevice.objects.get(user=personas.county, confirmed=True)
    assert device.key == key
    assert AuditEvent.objects.filter(action="account.totp_enrol", actor=personas.county,
                                     object_id=str(personas.county.pk)).exists()

    later = Client()
    assert _login_form(later, "county", PASSWORD).status_code == 302
    resp = later.get("/")
    assert resp.status_code == 302 and resp["Location"].startswith("/account/totp/verify/")
    assert later.get("/account/totp/enrol/").status_code == 302  # no second enrolment
    wrong = later.post("/account/totp/verify/", {"code": "12345", "next": "/"})
    assert wrong.status_code == 400 and "动态口令不正确" in wrong.content.decode()
    assert AuditEvent.objects.filter(action="account.totp_failed").count() == 1
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the failed code started the throttle's back-off
    device.throttling_failure_timestamp = None
    device.save()
    ok = later.post("/account/totp/verify/", {"code": _token(key, ahead=30), "next": "/"})
    assert ok.status_code == 302 and later.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="account.totp_verify").count() == 1


def test_other_roles_need_no_second_factor(personas: Personas, totp_on: list[str]) -> None:
    for user in (personas.cadre_a, personas.township, personas.auditor):
        client = Client()
        client.force_login(user)
        assert client.get("/").status_code == 200
    client = Client()
    client.force_login(personas.finance)
    assert client.get("/payments/").status_code == 302  # finance does


def test_every_account_action_has_a_label() -> None:
    root = Path(huimin.__file__).parent
    pattern = re.compile(r'"((?:account|system)\.[a-z_]+)"')
    found = {m for f in root.rglob("*.py") if "migrations" not in f.parts
             for m in pattern.findall(f.read_text(encoding="utf-8"))}
    assert {"account.login", "account.login_failed", "account.lockout", "account.totp_enrol",
            "system.rotate_data_key"} <= found
    assert sorted(found - set(ACTION_LABELS)) == []


def test_no_menu_before_the_code(personas: Personas, totp_on: list[str]) -> None:
    client = Client()
    client.force_login(personas.finance)
    page = client.get("/account/totp/enrol/").content.decode()
    assert "<nav>" not in page and "/account/password/" not in page and "退出" in page
