"""A county approver's first login in Debian's chromium: the QR code and the secret, a code
from the authenticator, then a later login with a code; and a password change."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from django_otp.oath import TOTP

from tests.browser.conftest import logout, shot
from tests.conftest import PASSWORD, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(key: bytes, ahead: int = 0) -> str:
    totp = TOTP(key)
    totp.time = time.time() + ahead
    return f"{totp.token():06d}"


def _password_login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_totp_enrolment_and_a_later_login(page: Any, live_server: Any, personas: Personas,
                                         totp_on: list[str]) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from huimin.audit.models import AuditEvent

    base = live_server.url
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _password_login(page, base, "county")
    page.wait_for_selector("[data-testid=totp-enrol]")
    assert page.locator("[data-testid=totp-qr] svg").is_visible()
    for width, name in ((1366, "totp-01-enrol-1366"), (390, "totp-01-enrol-390")):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, name)
    secret = page.inner_text("[data-testid=totp-secret]").replace(" ", "")
    key = base64.b32decode(secret)
    page.fill("#id_code", "000000" if _code(key) != "000000" else "111111")
    page.click("button:has-text('确认绑定')")
    assert "动态口令不正确" in page.inner_text("[role=alert]")
    page.fill("#id_code", _code(key))
    page.click("button:has-text('确认绑定')")
    page.wait_for_selector("[data-testid=who]")
    assert "totp" not in page.url
    assert TOTPDevice.objects.filter(user=personas.county, confirmed=True).count() == 1

    logout(page)
    _password_login(page, base, "county")
    page.wait_for_selector("[data-testid=totp-verify]")
    for width, name in ((1366, "totp-02-verify-1366"), (390, "totp-02-verify-390")):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, name)
    page.goto(f"{base}/cases/")  # nothing else opens before the code
    page.wait_for_selector("[data-testid=totp-verify]")
    page.fill("#id_code", _code(key, ahead=30))  # the next time step: the last one is used
    page.click("button:has-text('验证')")
    page.wait_for_selector("[data-testid=who]")
    assert page.url.endswith("/cases/")
    assert AuditEvent.objects.filter(action="account.totp_verify").count() == 1
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_password_change_in_the_browser(page: Any, live_server: Any,
                                        personas: Personas) -> None:
    base = live_server.url
    _password_login(page, base, "cadre_a")
    page.wait_for_selector("[data-testid=who]")
    page.click("text=修改密码")
    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", "12345678")
    page.fill("#id_new_password2", "12345678")
    page.click("button:has-text('确认修改')")
    assert "密码太短" in page.content()
    for width, name in ((1366, "password-change-1366"), (390, "password-change-390")):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, name)
    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", "Qingshan-Road-77")
    page.fill("#id_new_password2", "Qingshan-Road-77")
    page.click("button:has-text('确认修改')")
    page.wait_for_selector("[data-testid=password-changed]")


def test_lockout_page_after_five_wrong_passwords(page: Any, live_server: Any,
                                                personas: Personas, axes_on: None) -> None:
    base = live_server.url
    for _ in range(5):
        page.goto(f"{base}/login/")
        page.fill("#id_username", "finance")
        page.fill("#id_password", "wrong-password-1")
        page.click("button:has-text('登录')")
    page.wait_for_selector("[data-testid=lockout]")
    assert "15 分钟" in page.inner_text("[data-testid=lockout]")
    for width, name in ((1366, "lockout-1366"), (390, "lockout-390")):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, name)
    _password_login(page, base, "finance")  # the right password is refused meanwhile
    page.wait_for_selector("[data-testid=lockout]")
