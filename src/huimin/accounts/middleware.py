"""Second factor for the roles that need it, and no caching of pages for logged-in users."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers

#: pages a user who still owes the second factor may open
OPEN_BEFORE_SECOND_FACTOR = frozenset({"totp_enrol", "totp_verify", "logout", "login"})


def needs_second_factor(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False)
                and getattr(user, "role", "") in settings.HUIMIN_TOTP_ROLES)


class SecondFactorMiddleware:
    """Users of the roles in ``HUIMIN_TOTP_ROLES`` reach nothing but the enrolment or code
    page (and logout) until a TOTP code has verified this session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if needs_second_factor(user) and not user.is_verified():  # type: ignore[union-attr]
            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            if name not in OPEN_BEFORE_SECOND_FACTOR:
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"detail": "请先完成动态口令验证"}, status=403)
                from django_otp.plugins.otp_totp.models import TOTPDevice

                enrolled = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
                target = "totp_verify" if enrolled else "totp_enrol"
                url = redirect(target).url + "?" + urlencode({"next": request.get_full_path()})
                return redirect(url)
        return self.get_response(request)


class NoStoreMiddleware:
    """Every response to a logged-in user may carry personal data: never cache it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request.user, "is_authenticated", False):
            add_never_cache_headers(response)
        return response
