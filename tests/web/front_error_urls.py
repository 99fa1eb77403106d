"""The site's URLs plus views that fail on purpose, for the error page tests."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

from huimin.errors import Conflict, Forbidden
from huimin.urls import handler403, handler404, handler500
from huimin.urls import urlpatterns as site


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail: password=hunter2")


def english_404(request: HttpRequest) -> HttpResponse:
    raise Http404("No Case matches the given query.")


def chinese_403(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("此操作仅限县级审批员")


def action_forbidden(request: HttpRequest) -> HttpResponse:
    raise Forbidden("不能审批本人提交的申请")


def action_conflict(request: HttpRequest) -> HttpResponse:
    raise Conflict("案件 A0001 已被他人办理")


urlpatterns = [
    path("test-errors/boom/", boom),
    path("test-errors/english-404/", english_404),
    path("test-errors/chinese-403/", chinese_403),
    path("test-errors/forbidden/", action_forbidden),
    path("test-errors/conflict/", action_conflict),
    *site,
]
__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
