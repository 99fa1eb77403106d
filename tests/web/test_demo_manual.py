"""帮助: the manual of each role renders with its tasks and pictures, from every main page's
menu; anonymous users are sent to the login page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.django_db

TASKS = {
    "village_cadre": ["登记一户", "提交申请", "公示与异议", "变更登记"],
    "township_reviewer": ["审核", "公示与异议", "确认变更登记"],
    "county_approver": ["审核", "放行发放批次", "数据比对与停发"],
    "finance_officer": ["发放批次", "银行回盘", "对账", "追回"],
    "auditor": ["查看审计日志"],
}
USERS = {"village_cadre": "cadre_a", "township_reviewer": "township",
         "county_approver": "county", "finance_officer": "finance", "auditor": "auditor"}


def _client(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.parametrize("role", sorted(TASKS))
def test_the_help_page_of_each_role_has_its_tasks_and_pictures(personas: Personas,
                                                                role: str) -> None:
    client = _client(USERS[role])
    resp = client.get("/help/")  # the user's own role
    assert resp.status_code == 200
    html = resp.content.decode()
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    for task in TASKS[role]:
        assert any(task in h for h in headings), (role, task, headings)
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images
    for src in images:
        img = client.get(src)
        assert img.status_code == 200, src
        assert img["Content-Type"] == "image/png"
        assert img.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/help/{role}/").content.decode().count("<h2>") == len(headings)


def test_unknown_manuals_and_images_are_404(personas: Personas) -> None:
    client = _client("cadre_a")
    assert client.get("/help/admin/").status_code == 404
    assert client.get("/help/images/nothing.png").status_code == 404
    assert client.get("/help/images/..%2Fvillage_cadre.md").status_code == 404


def test_raw_html_in_a_manual_is_not_rendered() -> None:
    from huimin.help.views import _md

    assert "<script>" not in _md.render("<script>alert(1)</script>")


@pytest.mark.parametrize("url", ["/", "/registry/persons/", "/registry/changes/", "/cases/",
                                 "/notices/", "/payments/", "/reports/", "/feeds/"])
def test_the_help_link_is_on_every_main_page(personas: Personas, url: str) -> None:
    for username in ("township", "auditor"):
        resp = _client(username).get(url)
        assert resp.status_code == 200, (username, url)
        assert 'data-testid="help-link">帮助</a>' in resp.content.decode()


@pytest.mark.parametrize("url", ["/help/", "/help/auditor/", "/help/images/cadre-home.png"])
def test_anonymous_users_are_sent_to_login(url: str) -> None:
    resp = Client().get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")
