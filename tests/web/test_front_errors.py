"""Chinese error pages: the reason the code gave when it is one written for users, never a
traceback; the 500 page asks the database nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import reverse

from huimin import urls
from huimin.errors import ActionError
from huimin.front import errors
from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.django_db


def logged_in(personas: Personas, role: str = "cadre_a") -> Client:
    client = Client(raise_request_exception=False)
    client.login(username=getattr(personas, role).username, password=PASSWORD)
    return client


def test_handlers_are_the_fronts() -> None:
    assert urls.handler403 == "huimin.front.errors.permission_denied"
    assert urls.handler404 == "huimin.front.errors.page_not_found"
    assert urls.handler500 == "huimin.front.errors.server_error"


def test_unknown_address_is_a_chinese_404_with_the_menu(personas: Personas) -> None:
    resp = logged_in(personas).get("/no-such-page/")
    html = resp.content.decode()
    assert resp.status_code == 404
    assert "找不到页面（404）" in html and 'aria-label="主菜单"' in html
    assert 'data-testid="reason"' not in html  # Django's own message is not for users
    assert "Page not found" not in html and "tried" not in html


def test_a_record_of_another_area_says_why(personas: Personas, family_a: Any) -> None:
    resp = logged_in(personas, "cadre_b").get(reverse("registry:person",
                                                      args=[family_a.child.pk]))
    html = resp.content.decode()
    assert resp.status_code == 404
    assert '<p class="reason" data-testid="reason">记录不存在或不在您的管辖范围内</p>' in html
    assert family_a.child.name not in html


def test_wrong_role_gets_the_reason_in_chinese(personas: Personas) -> None:
    resp = logged_in(personas, "county").get(reverse("cases:new"))
    html = resp.content.decode()
    assert resp.status_code == 403
    assert "无权办理（403）" in html and "此操作仅限村级专干、乡镇审核员" in html
    assert f'href="{reverse("home")}"' in html  # navigation back


@pytest.mark.urls("tests.web.front_error_urls")
def test_english_404_messages_are_not_shown(personas: Personas) -> None:
    resp = logged_in(personas).get("/test-errors/english-404/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "No Case matches" not in html and "找不到页面" in html


@pytest.mark.urls("tests.web.front_error_urls")
def test_permission_denied_message_is_shown(personas: Personas) -> None:
    resp = logged_in(personas).get("/test-errors/chinese-403/")
    assert resp.status_code == 403 and "此操作仅限县级审批员" in resp.content.decode()


@pytest.mark.urls("tests.web.front_error_urls")
@pytest.mark.parametrize(("path", "status", "text"), [
    ("/test-errors/forbidden/", 403, "不能审批本人提交的申请"),
    ("/test-errors/conflict/", 409, "案件 A0001 已被他人办理"),
])
def test_an_uncaught_action_error_is_its_page(path: str, status: int, text: str,
                                              personas: Personas) -> None:
    resp = logged_in(personas).get(path)
    html = resp.content.decode()
    assert resp.status_code == status and text in html
    assert f'data-status="{status}"' in html


@pytest.mark.urls("tests.web.front_error_urls")
def test_500_is_chinese_without_the_detail(personas: Personas) -> None:
    resp = logged_in(personas).get("/test-errors/boom/")
    html = resp.content.decode()
    assert resp.status_code == 500
    assert "系统出错（500）" in html and 'aria-label="主菜单"' in html
    assert "hunter2" not in html and "Traceback" not in html and "RuntimeError" not in html


def test_500_page_asks_the_database_nothing(django_assert_num_queries: Any) -> None:
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        resp = errors.server_error(request)
    assert resp.status_code == 500 and "系统出错" in resp.content.decode()


def test_500_page_falls_back_when_its_template_fails(settings: Any) -> None:
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [], "APP_DIRS": False}]
    resp = errors.server_error(RequestFactory().get("/"))
    assert resp.status_code == 500
    assert resp.content.decode() == errors.BARE_500


@pytest.mark.parametrize(("exc", "shown"), [
    (PermissionDenied("此操作仅限财务人员"), "此操作仅限财务人员"),
    (Http404("记录不存在或不在您的管辖范围内"), "记录不存在或不在您的管辖范围内"),
    (ActionError("金额：须为正数"), "金额：须为正数"),
    (Http404("No Person matches the given query."), ""),
    (Http404({"path": "x", "tried": []}), ""),
    (PermissionDenied(), ""),
    (RuntimeError("内部错误：连接失败"), ""),  # not raised for users: never shown
    (None, ""),
    (PermissionDenied("长" * 400), "长" * 300 + "…"),
])
def test_reason_is_shown_only_when_written_for_users(exc: Any, shown: str) -> None:
    assert errors.reason(exc) == shown


def test_a_refused_form_says_what_to_do_in_chinese(personas: Personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.login(username="cadre_a", password=PASSWORD)
    resp = client.post(reverse("logout"))
    html = resp.content.decode()
    assert resp.status_code == 403
    assert errors.CSRF_REASON in html and "CSRF" not in html
