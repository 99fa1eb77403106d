"""Account pages every user has: password change, and the second factor (TOTP enrolment with a
QR code and the secret, then a code at each later login)."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from huimin.accounts import actions

PENDING_KEY = "huimin_totp_pending_key"


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change (old password, the new one twice, the validators), audited."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        user = self.request.user
        actions.set_password(user, user, form.cleaned_data["new_password1"],  # type: ignore[arg-type]
                             via="web")
        update_session_auth_hash(self.request, user)  # type: ignore[arg-type]
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return str(settings.LOGIN_REDIRECT_URL)


def _devices(user: Any) -> Any:
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def _code(request: HttpRequest) -> str:
    return "".join(request.POST.get("code", "").split())


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg: str = image.to_string(encoding="unicode")
    return svg


@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """First login of a user without a device: the QR code and the secret, confirmed with a
    code from the authenticator app. The key lives in the session until it is confirmed."""
    if _devices(request.user).exists():
        return redirect(f"{reverse('totp_verify')}?{urlencode({'next': _next(request)})}")
    key = request.session.get(PENDING_KEY)
    if not key:
        key = random_hex(20)
        request.session[PENDING_KEY] = key
    device = TOTPDevice(user=request.user, key=key)
    error = ""
    if request.method == "POST":
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
        totp.time = time.time()
        code = _code(request)
        if code.isdigit() and totp.verify(int(code), tolerance=device.tolerance):
            enrolled = actions.enrol_totp(request.user, request.user, key,  # type: ignore[arg-type]
                                          via="web")
            enrolled.last_t = totp.t()
            enrolled.save(update_fields=["last_t"])
            del request.session[PENDING_KEY]
            otp_login(request, enrolled)
            return redirect(_next(request))
        error = "动态口令不正确：请输入身份验证器中当前显示的 6 位数字。"
    secret = base64.b32encode(device.bin_key).decode()
    return render(request, "registration/totp_enrol.html", {
        "qr_svg": _qr_svg(device.config_url),
        "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "error": error,
        "next": _next(request),
    }, status=400 if error else 200)


@login_required
def totp_verify(request: HttpRequest) -> HttpResponse:
    """Later logins: a code from the enrolled authenticator."""
    devices = list(_devices(request.user))
    if not devices:
        return redirect(f"{reverse('totp_enrol')}?{urlencode({'next': _next(request)})}")
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    error = ""
    if request.method == "POST":
        code = _code(request)
        for device in devices:
            allowed, _ = device.verify_is_allowed()
            if not allowed:
                error = "动态口令错误次数过多，请稍后再试。"
                continue
            if device.verify_token(code):
                otp_login(request, device)
                actions.audit(request.user, "account.totp_verify", request.user,  # type: ignore[arg-type]
                              username=request.user.get_username(), device=device.pk)
                return redirect(_next(request))
        error = error or "动态口令不正确或已过期，请重新输入。"
        actions.audit(request.user, "account.totp_failed", request.user,  # type: ignore[arg-type]
                      username=request.user.get_username())
    return render(request, "registration/totp_verify.html",
                  {"error": error, "next": _next(request)}, status=400 if error else 200)
