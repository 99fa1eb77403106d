"""A suspended case (暂停发放) settled by the county approver after re-verification: resumed
(the payment held for the suspension released) or stopped, on the case page, by the API
and the command line; the home tile 暂停发放待复核 counts the case list it links to.

Each refusal asserts its message and that nothing changed (cases, entitlements, audit)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import Case
from huimin.cli import app
from huimin.errors import ActionError, Forbidden
from huimin.lib.money import format_yuan
from huimin.payments import actions as pay_actions
from huimin.payments.holds import hold_case
from huimin.payments.models import Entitlement, PaymentCycle, Recovery
from huimin.payments.recoveries import paid_fen
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from tests.conftest import PASSWORD, VILLAGE_A, Family, Personas, make_family
from tests.web.feeds_helpers import NOW, balanced, childcare_case, pay

pytestmark = pytest.mark.django_db
WHY = "父亲迁出本县（150102001001），待迁入地确认"


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def case(personas: Personas, family_a: Family) -> Case:
    """Approved, frozen in a cycle, then suspended with its payment held as a feed effect's
    confirmation does (``verification.apply``)."""
    made = childcare_case(personas, family_a)
    pay_actions.build_cycle(personas.finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026)
    assert hold_case(personas.county, made, held_reason="suspended", reason=WHY,
                     from_date=date(2026, 6, 1)) == 1
    return actions.suspend_case(personas.county, made, from_date=date(2026, 6, 1), reason=WHY)


@pytest.fixture
def neighbour(personas: Personas) -> Family:
    """Another family of village A (its case stays approved, or is suspended in the test)."""
    return make_family(personas.cadre_a, VILLAGE_A, date(2024, 4, 4), surname="钱")


def snapshot() -> Any:
    # reads and logins are logged too; what must not appear is a change
    return (list(AuditEvent.objects.exclude(action__endswith="view")
                 .exclude(action__startswith="account.").order_by("id")
                 .values_list("id", flat=True)),
            list(Case.objects.order_by("id").values_list("id", "state", "version")),
            list(Entitlement.objects.order_by("id").values_list("id", "status", "held_reason")))


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def page(client: Client, case: Case) -> str:
    resp = client.get(reverse("cases:detail", args=[case.pk]))
    assert resp.status_code == 200
    return resp.content.decode()


def post(client: Client, name: str, case: Case, **data: Any) -> str:
    """POST a form, follow the redirect back to the case page, return that page."""
    resp = client.post(reverse(name, args=[case.pk]), {"version": case.version, **data})
    assert resp.status_code == 302 and resp["Location"] == reverse("cases:detail",
                                                                  args=[case.pk])
    return page(client, case)


def test_the_county_resumes_on_the_case_page(personas: Personas, case: Case) -> None:
    client = login(personas.county)
    html = page(client, case)
    panel = html[html.index('data-testid="suspension"'):html.index("审核流程")]
    assert "暂停发放" in panel and "2026-06-01" in panel and WHY in panel
    assert 'data-testid="resume"' in panel and 'data-testid="stop"' in panel
    assert "未发放（暂停发放，待核实）" in panel
    html = post(client, "cases:resume", case, reason="迁入地回函：未迁入，恢复发放")
    assert "已恢复发放" in html and 'data-testid="suspension"' not in html
    case.refresh_from_db()
    ent = Entitlement.objects.get(case=case)
    assert (case.state, case.stopped_on, case.stop_reason) == ("approved", None, "")
    assert (ent.status, ent.held_reason) == ("payable", "")
    resumed = AuditEvent.objects.get(action="case.resume", case_id=case.pk)
    assert resumed.actor == personas.county and resumed.data["comment"].startswith("迁入地回函")
    assert AuditEvent.objects.filter(action="payment.release", case_id=case.pk).count() == 1


def test_the_county_stops_on_the_case_page(personas: Personas, case: Case) -> None:
    client = login(personas.county)
    html = post(client, "cases:stop", case, stopped_on="2026-05-01", reason="经核实已迁出本县")
    assert "已终止发放：自 2026-05-01 起停发" in html
    case.refresh_from_db()
    assert (case.state, case.stopped_on, case.stop_reason) == (
        "stopped", date(2026, 5, 1), "经核实已迁出本县")
    ent = Entitlement.objects.get(case=case)  # never sent: stays held, for what was found
    assert (ent.status, ent.held_reason, ent.held_note) == ("held", "ineligible",
                                                            "经核实已迁出本县")
    reworded = AuditEvent.objects.get(action="payment.hold_reason", case_id=case.pk)
    assert (reworded.data["old"], reworded.data["new"]) == ("suspended", "ineligible")
    assert "未发放的款项继续暂停" in html and "应追回" not in html  # nothing was paid
    assert not Recovery.objects.filter(case=case).exists()
    stopped = AuditEvent.objects.get(action="case.stop", case_id=case.pk)
    assert stopped.data["old"] == "suspended" and stopped.data["stopped_on"] == "2026-05-01"
    # stopped is final: the panel is gone and resuming is refused
    before = snapshot()
    html = post(client, "cases:resume", case, reason="再恢复")
    assert "已不是暂停状态（现为「已停发」）" in html and snapshot() == before


def test_a_stop_after_payment_opens_the_recovery(personas: Personas, family_a: Family) -> None:
    """Paid for the year, suspended, the child's death then recorded in the register: the
    stop re-evaluates the amount and what was paid beyond it is recoverable, its cause this
    stop; the ledger stays balanced."""
    made = childcare_case(personas, family_a)
    batch = pay(personas)
    paid = paid_fen(made)
    assert paid > 0
    made = actions.suspend_case(personas.county, Case.objects.get(pk=made.pk),
                                from_date=date(2026, 5, 1), reason=WHY)
    registry_actions.record_death(personas.county, made.subject, death_date=date(2026, 4, 20),
                                  source="县卫健局死亡医学证明")
    client = login(personas.county)
    html = post(client, "cases:stop", made, stopped_on="2026-04-20",
                reason="经核实子女已于 2026-04-20 死亡")
    made.refresh_from_db()
    assert made.state == "stopped" and 0 < made.amount_fen < paid
    rec = Recovery.objects.get(case=made)
    assert rec.amount_fen == paid - made.amount_fen
    assert rec.event_ref == actions.stop_ref(made) and rec.cause.startswith("复核终止：经核实")
    assert (rec.period_start, rec.period_end) == (date(2026, 4, 20), date(2026, 12, 31))
    assert f"已多发的 {format_yuan(rec.amount_fen)}登记为应追回款项" in html
    assert AuditEvent.objects.filter(action="recovery.open", case_id=made.pk).count() == 1
    balanced(PaymentCycle.objects.get(pk=batch.cycle_id))
    code, out = run("stop", "--user", "county", "--case", made.number, "--date", "2026-04-20",
                    "--reason", "再次终止")
    assert code != 0 and "已不是暂停状态" in out
    assert Recovery.objects.filter(case=made).count() == 1


def test_the_actions_refuse_a_wrong_role_and_a_date_that_is_not_one(personas: Personas,
                                                                     case: Case) -> None:
    """The action's own checks, for callers that do not go through the page's guard."""
    before = snapshot()
    for role in ("township", "finance", "cadre_a"):
        with pytest.raises(Forbidden, match="只有县级审批员可以终止发放"):
            actions.stop_suspended(getattr(personas, role), case, stopped_on=date(2026, 6, 1),
                                   reason="经核实已迁出")
        with pytest.raises(Forbidden, match="只有县级审批员可以恢复发放"):
            actions.resume_case(getattr(personas, role), case, reason="未迁出")
    with pytest.raises(ActionError, match="终止日期：请填写日期 YYYY-MM-DD"):
        actions.stop_suspended(personas.county, case, stopped_on="2026-06-01",  # type: ignore[arg-type]
                               reason="经核实已迁出")
    assert snapshot() == before


def test_other_roles_see_the_panel_but_cannot_settle(personas: Personas, case: Case) -> None:
    before = snapshot()
    for role in ("township", "finance", "auditor", "cadre_a"):
        client = login(getattr(personas, role))
        html = page(client, case)
        assert 'data-testid="suspension"' in html and WHY in html, role
        assert 'data-testid="resume"' not in html and 'data-testid="stop"' not in html, role
        for name, data in (("cases:resume", {"reason": "x"}),
                           ("cases:stop", {"stopped_on": "2026-06-01", "reason": "x"})):
            resp = client.post(reverse(name, args=[case.pk]), {"version": case.version, **data})
            assert resp.status_code == 403, (role, name, resp.status_code)
        resp = client.post(f"/api/cases/{case.pk}/resume", {"reason": "x"},
                           content_type="application/json")
        assert resp.status_code == 403 and resp.json()["detail"], role
    assert snapshot() == before


def test_a_county_approver_of_another_county_finds_nothing(personas: Personas,
                                                           case: Case) -> None:
    client = login(personas.county_b)
    before = snapshot()
    assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 404
    assert client.post(reverse("cases:resume", args=[case.pk]),
                       {"reason": "x"}).status_code == 404
    assert client.post(reverse("cases:stop", args=[case.pk]),
                       {"stopped_on": "2026-06-01", "reason": "x"}).status_code == 404
    for op, body in (("resume", {"reason": "x"}),
                     ("stop", {"stopped_on": "2026-06-01", "reason": "x"})):
        resp = client.post(f"/api/cases/{case.pk}/{op}", body, content_type="application/json")
        assert resp.status_code == 404, op
    code, out = run("resume", "--user", "county_b", "--case", case.number, "--reason", "x")
    assert code == 2 and "不在您的管辖范围内" in out
    tile = tiles(client)["cases.suspended"]
    assert tile[1] == 0
    assert snapshot() == before


BAD = [
    ("cases:resume", {"reason": "  "}, "复核结论：请填写恢复发放的依据"),
    ("cases:resume", {"reason": "长" * 201}, "复核结论：最多 200 个字"),
    # a NUL was a server error on PostgreSQL (its JSON refuses it, in the audit event)
    ("cases:resume", {"reason": "经核实\x00未迁出"}, "复核结论：含不可见的控制字符 U+0000"),
    ("cases:stop", {"stopped_on": "2026-06-01", "reason": "已迁出\n本县"},
     "终止原因：含不可见的控制字符"),
    ("cases:stop", {"stopped_on": "2026-06-01", "reason": ""}, "终止原因：请填写"),
    ("cases:stop", {"stopped_on": "", "reason": "已迁出"}, "终止日期：请填写不再符合条件的日期"),
    ("cases:stop", {"stopped_on": "2026-13-01", "reason": "已迁出"},
     "终止日期：「2026-13-01」不是有效日期"),
    ("cases:stop", {"stopped_on": "2026-07-01", "reason": "已迁出"}, "2026-07-01 晚于今天"),
    ("cases:stop", {"stopped_on": "2025-12-31", "reason": "已迁出"}, "早于申领年度 2026 年"),
]


def test_bad_input_is_named_and_changes_nothing(personas: Personas, case: Case) -> None:
    client = login(personas.county)
    before = snapshot()
    for name, data, message in BAD:
        html = post(client, name, case, **data)
        assert message in html, (name, data)
        assert 'data-testid="resume"' in html  # still suspended, the forms are still there
    assert snapshot() == before


def test_a_stale_page_is_refused(personas: Personas, case: Case) -> None:
    client = login(personas.county)
    stale = case.version
    Case.objects.filter(pk=case.pk).update(version=stale + 1)  # someone else acted meanwhile
    before = snapshot()
    resp = client.post(reverse("cases:resume", args=[case.pk]),
                       {"version": stale, "reason": "复核无误"}, follow=True)
    assert "案件已被他人处理，请刷新后再办理" in resp.content.decode() and snapshot() == before
    resp = client.post(f"/api/cases/{case.pk}/resume", {"reason": "复核无误", "version": stale},
                       content_type="application/json")
    assert resp.status_code == 409 and "已被他人处理" in resp.json()["detail"]
    assert snapshot() == before


def test_the_api_resumes_and_stops(personas: Personas, case: Case, neighbour: Family) -> None:
    client = login(personas.county)
    listed = client.get("/api/cases?state=suspended").json()
    assert [(c["id"], c["stopped_on"], c["stop_reason"]) for c in listed] == [
        (case.pk, "2026-06-01", WHY)]
    before = snapshot()
    resp = client.post(f"/api/cases/{case.pk}/resume", {"reason": ""},
                       content_type="application/json")
    assert resp.status_code == 400 and resp.json()["detail"].startswith("复核结论：请填写")
    assert snapshot() == before
    resp = client.post(f"/api/cases/{case.pk}/resume",
                       {"reason": "复核无误", "version": case.version},
                       content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert (resp.json()["state"], resp.json()["stopped_on"]) == ("approved", None)
    assert Entitlement.objects.get(case=case).status == "payable"
    resp = client.post(f"/api/cases/{case.pk}/resume", {"reason": "再次"},
                       content_type="application/json")
    assert resp.status_code == 409 and "已不是暂停状态" in resp.json()["detail"]
    # stopping: a second case, suspended without a payment frozen
    other = childcare_case(personas, neighbour)
    actions.suspend_case(personas.county, other, from_date=date(2026, 6, 1), reason=WHY)
    resp = client.post(f"/api/cases/{other.pk}/stop",
                       {"stopped_on": "2026-06-01", "reason": "经核实已迁出"},
                       content_type="application/json")
    assert resp.status_code == 200 and resp.json()["state"] == "stopped"
    assert AuditEvent.objects.filter(action="case.stop", case_id=other.pk).count() == 1


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["cases", *args])
    return result.exit_code, result.output


def test_the_command_line_resumes(personas: Personas, case: Case) -> None:
    before = snapshot()
    code, out = run("resume", "--user", "finance", "--case", case.number, "--reason", "x")
    assert code == 1 and "只有县级审批员可以恢复发放" in out
    code, out = run("resume", "--user", "county", "--case", case.number, "--reason", " ")
    assert code == 1 and "复核结论：请填写" in out
    code, out = run("resume", "--user", "county", "--case", "2025-" + case.number[5:],
                    "--reason", "x")  # the right sequence under another year
    assert code == 2
    assert snapshot() == before
    code, out = run("resume", "--user", "county", "--case", case.number, "--reason", "复核无误")
    assert code == 0 and f"{case.number}：已恢复发放" in out, out
    case.refresh_from_db()
    assert case.state == "approved" and Entitlement.objects.get(case=case).status == "payable"
    code, out = run("stop", "--user", "county", "--case", case.number, "--date", "2026-06-01",
                    "--reason", "已迁出")
    assert code == 1 and "已不是暂停状态" in out


TILE = re.compile(r'<a class="tile[^"]*" href="([^"]+)" data-tile="([^"]+)">'
                  r'.*?data-count="(\d+)"', re.S)


def tiles(client: Client) -> dict[str, tuple[str, int]]:
    html = client.get(reverse("home")).content.decode()
    return {key: (url.replace("&amp;", "&"), int(n)) for url, key, n in TILE.findall(html)}


def test_the_tile_counts_the_list_it_links_to(personas: Personas, case: Case,
                                              neighbour: Family) -> None:
    childcare_case(personas, neighbour)  # approved, not suspended: not counted
    client = login(personas.county)
    url, n = tiles(client)["cases.suspended"]
    listed = set(re.findall(r'href="/cases/(\d+)/"', client.get(url).content.decode()))
    assert n == 1 and listed == {str(case.pk)}
    for role in ("township", "finance", "auditor"):
        assert "cases.suspended" not in tiles(login(getattr(personas, role)))
    actions.resume_case(personas.county, case, reason="复核无误")
    assert tiles(client)["cases.suspended"][1] == 0
