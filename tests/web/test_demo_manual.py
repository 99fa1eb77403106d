"""帮助: the manual of each role renders with its tasks and pictures, from every main page's
menu; anonymous users are sent to the login page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.django_db

TASKS = {
    "village_cadre": ["登记一户", "提交申请", "村级审核", "公示与异议", "变更登记",
                      "查看本村发放结果"],
    "township_reviewer": ["审核", "公示与异议", "确认变更登记", "批量确认", "死亡登记"],
    "county_approver": ["审批", "放行发放批次", "确认处理事项", "暂停发放的复核",
                        "政策测算"],
    "finance_officer": ["建立发放周期", "生成发放批次", "导出银行文件", "导入银行回盘",
                        "更正失败明细", "导入银行对账单", "发放花名册", "更换格式、作废",
                        "对账", "追回"],
    "auditor": ["查看审计日志", "查看对账", "导出"],
    "admin": ["用户账户", "重置密码", "动态口令", "登录锁定", "数据接口令牌", "审计日志",
              "管理员不能做的事"],
}
USERS = {"village_cadre": "cadre_a", "township_reviewer": "township",
         "county_approver": "county", "finance_officer": "finance", "auditor": "auditor",
         "admin": "admin_user"}


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
    headings = re.findall(r"<h[23]>(.*?)</h[23]>", html)
    for task in TASKS[role]:
        assert any(task in h for h in headings), (role, task, headings)
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images
    for src in images:
        img = client.get(src)
        assert img.status_code == 200, src
        assert img["Content-Type"] == "image/png"
        assert img.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/help/{role}/").content.decode().count("<h2>") == html.count("<h2>")


def test_unknown_manuals_and_images_are_404(personas: Personas) -> None:
    client = _client("cadre_a")
    assert client.get("/help/nobody/").status_code == 404
    assert client.get("/help/images/nothing.png").status_code == 404
    assert client.get("/help/images/..%2Fvillage_cadre.md").status_code == 404


def test_the_admin_manual_is_listed_and_open_to_every_role(personas: Personas) -> None:
    html = _client("cadre_a").get("/help/admin/").content.decode()
    assert "系统管理员操作手册" in html
    roles = html.split('data-testid="manual-roles"')[1].split("</nav>")[0]
    assert 'href="/help/admin/"' in roles and "系统管理员" in roles


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
