"""The recoveries page (追回管理), its forms and Excel export, and the CLI: works, wrong role,
outsider, bad input; books clean after each movement."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.payments import recoveries as rec_actions
from huimin.payments.models import Entitlement, MovementStatus, Recovery, RecoveryMovement
from tests.conftest import COUNTY, PASSWORD, Personas, make_user
from tests.web.test_recoveries import Paid, clean, opened, paid_world

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def world(personas: Personas) -> tuple[Paid, Recovery]:
    p = paid_world(personas)
    return p, opened(personas, p)


def test_the_list_and_detail_work_for_finance_and_auditors_only_in_their_area(
    personas: Personas, world: tuple[Paid, Recovery],
) -> None:
    p, rec = world
    for user in (personas.finance, personas.auditor, personas.county):
        page = login(user).get(reverse("payments:recoveries")).content.decode()
        assert rec.number in page and p.case.number in page and "600.00" in page
        detail = login(user).get(reverse("payments:recovery", args=[rec.pk]))
        assert detail.status_code == 200 and "补贴对象 2026-06-10 死亡" in detail.content.decode()
    # the auditor reads only: no forms
    text = login(personas.auditor).get(reverse("payments:recovery", args=[rec.pk])).content
    assert b'data-testid="repay"' not in text
    text = login(personas.finance).get(reverse("payments:recovery", args=[rec.pk])).content
    assert b'data-testid="repay"' in text and b'data-testid="offset"' in text
    assert AuditEvent.objects.filter(action="recovery.list", person_id=p.case.subject_id).exists()
    assert AuditEvent.objects.filter(action="recovery.view").count() == 5
    # closed tab: nothing yet
    closed = login(personas.finance).get(reverse("payments:recoveries") + "?state=closed")
    assert rec.number not in closed.content.decode()
    # wrong role: 403; outsider: nothing listed, 404 on the detail
    for user in (personas.cadre_a, personas.township):
        assert login(user).get(reverse("payments:recoveries")).status_code == 403
        assert login(user).get(reverse("payments:recovery", args=[rec.pk])).status_code == 403
    for user in (personas.finance_b, personas.auditor_b):
        assert rec.number not in login(user).get(reverse("payments:recoveries")).content.decode()
        assert login(user).get(reverse("payments:recovery", args=[rec.pk])).status_code == 404


def test_repayment_offset_and_write_off_through_the_forms(
    personas: Personas, world: tuple[Paid, Recovery],
) -> None:
    p, rec = world
    finance = login(personas.finance)
    resp = finance.post(reverse("payments:recovery_repay", args=[rec.pk]),
                        {"amount": "100.50", "date": "2026-06-14", "receipt": "BK001"})
    assert resp.status_code == 302
    rec.refresh_from_db()
    assert rec.settled_fen == 10050
    clean(p.cycle)
    ent = Entitlement.objects.get(case=p.other)
    resp = finance.post(reverse("payments:recovery_offset", args=[rec.pk]),
                        {"amount": "99.50", "date": "2026-06-15", "entitlement": str(ent.pk)})
    assert resp.status_code == 302
    ent.refresh_from_db()
    assert ent.offset_fen == 9950
    clean(p.cycle)
    resp = finance.post(reverse("payments:recovery_write_off", args=[rec.pk]),
                        {"amount": "50", "date": "2026-06-15", "note": "家庭困难"})
    assert resp.status_code == 302
    mv = RecoveryMovement.objects.get(status=MovementStatus.REQUESTED)
    # the requester sees no approval button and cannot approve by POST
    page = finance.get(reverse("payments:recovery", args=[rec.pk])).content.decode()
    assert 'data-testid="approve"' not in page and "待另一人审批" in page
    resp = finance.post(reverse("payments:recovery_approve", args=[rec.pk, mv.pk]))
    assert resp.status_code == 400 and "另一人审批" in resp.content.decode()
    # the auditor may not, nor an outsider
    assert login(personas.auditor).post(
        reverse("payments:recovery_approve", args=[rec.pk, mv.pk])).status_code == 403
    assert login(personas.county_b).post(
        reverse("payments:recovery_approve", args=[rec.pk, mv.pk])).status_code == 404
    county = login(personas.county)
    assert 'data-testid="approve"' in county.get(
        reverse("payments:recovery", args=[rec.pk])).content.decode()
    approve = reverse("payments:recovery_approve", args=[rec.pk, mv.pk])
    assert county.post(approve).status_code == 302
    rec.refresh_from_db()
    assert rec.settled_fen == 10050 + 9950 + 5000
    clean(p.cycle)
    # the batch page explains the offset on the line
    from huimin.payments import actions as pay

    batch = pay.create_batch(personas.finance, p.cycle)
    page = finance.get(reverse("payments:detail", args=[batch.pk])).content.decode()
    assert "抵扣追回 99.50" in page


@pytest.mark.parametrize(("form", "message"), [
    ({"amount": "600.01", "date": "2026-06-15", "receipt": "R"}, "超过待追回余额"),
    ({"amount": "-5", "date": "2026-06-15", "receipt": "R"}, "须大于零"),
    ({"amount": "abc", "date": "2026-06-15", "receipt": "R"}, "不是有效的金额"),
    ({"amount": "1.234", "date": "2026-06-15", "receipt": "R"}, "不是有效的金额"),
    ({"amount": "5", "date": "2026-06-16", "receipt": "R"}, "晚于今天"),
    ({"amount": "5", "date": "2026-02-30", "receipt": "R"}, "应为有效日期"),
    ({"amount": "5", "date": "2026-06-15", "receipt": ""}, "银行回单号"),
])
def test_bad_repayment_forms_are_refused_with_the_field_named(
    personas: Personas, world: tuple[Paid, Recovery], form: dict[str, str], message: str,
) -> None:
    p, rec = world
    resp = login(personas.finance).post(reverse("payments:recovery_repay", args=[rec.pk]), form)
    assert resp.status_code == 400 and message in resp.content.decode()
    assert not RecoveryMovement.objects.exists()
    clean(p.cycle)


def test_forms_refuse_the_wrong_role_and_outsiders(
    personas: Personas, world: tuple[Paid, Recovery],
) -> None:
    _p, rec = world
    form = {"amount": "1", "date": "2026-06-15", "receipt": "R", "note": "n",
            "entitlement": str(Entitlement.objects.get(case=_p.other).pk)}
    for name in ("payments:recovery_repay", "payments:recovery_offset",
                 "payments:recovery_write_off"):
        url = reverse(name, args=[rec.pk])
        for user in (personas.auditor, personas.county, personas.cadre_a):
            assert login(user).post(url, form).status_code == 403, (name, user)
        assert login(personas.finance_b).post(url, form).status_code == 404
    assert not RecoveryMovement.objects.exists()


def test_the_excel_export_is_a_post_audited_and_reads_back(
    personas: Personas, world: tuple[Paid, Recovery],
) -> None:
    p, rec = world
    rec_actions.record_repayment(personas.finance, rec, amount_fen=12345, on_date=date(2026, 6, 1),
                                 receipt="=HYPERLINK(\"x\")")
    url = reverse("payments:recoveries_export")
    assert login(personas.finance).get(url).status_code == 405
    resp = login(personas.auditor).post(url, {"state": "all"})
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    rows = list(wb["追回台账"].iter_rows(values_only=True))
    assert rows[0][0] == "编号" and rows[1][0] == rec.number and rows[1][1] == p.case.number
    assert rows[1][9:13] == ("600.00", "123.45", "0.00", "476.55")
    moves = list(wb["追回记录"].iter_rows(values_only=True))
    assert moves[1][1] == "退缴" and moves[1][5] == "'=HYPERLINK(\"x\")"
    ev = AuditEvent.objects.get(action="recovery.export")
    assert ev.actor_id == personas.auditor.pk and ev.data["recoveries"] == [rec.pk]
    assert login(personas.cadre_a).post(url).status_code == 403
    outsider = login(personas.auditor_b).post(url, {"state": "all"})
    assert outsider.status_code == 200
    assert len(list(load_workbook(io.BytesIO(outsider.content))["追回台账"].rows)) == 1


def test_the_cli_lists_and_records(personas: Personas, world: tuple[Paid, Recovery]) -> None:
    from huimin.cli import app

    p, rec = world
    runner = CliRunner()
    result = runner.invoke(app, ["payments", "recoveries", "--user", "finance", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert {k: row[k] for k in ("id", "case", "amount_yuan", "recovered_yuan", "balance_yuan",
                                "cause")} == {
        "id": rec.pk, "case": p.case.number, "amount_yuan": "600.00", "recovered_yuan": "0.00",
        "balance_yuan": "600.00", "cause": rec.cause}
    outsider = runner.invoke(app, ["payments", "recoveries", "--user", "finance_b", "--json"])
    assert outsider.exit_code == 0 and json.loads(outsider.stdout) == []
    assert runner.invoke(app, ["payments", "recoveries", "--user", "cadre_a"]).exit_code == 2

    base = ["payments", "record-recovery", "--user", "finance", "--recovery", str(rec.pk)]
    ok = runner.invoke(app, [*base, "--amount", "100", "--date", "2026-06-15",
                             "--receipt", "BK9"])
    assert ok.exit_code == 0, ok.output
    assert "余额 500.00 元" in ok.stdout
    clean(p.cycle)
    for args, message in ((["--amount", "500.01", "--date", "2026-06-15", "--receipt", "R"],
                           "超过待追回余额"),
                          (["--amount", "-1", "--date", "2026-06-15", "--receipt", "R"],
                           "须大于零"),
                          (["--amount", "x", "--date", "2026-06-15"], "不是有效的金额"),
                          (["--amount", "1", "--date", "2026-06-16", "--receipt", "R"],
                           "晚于今天"),
                          (["--amount", "1", "--date", "15/06/2026"], "应为 YYYY-MM-DD"),
                          (["--amount", "1", "--date", "2026-06-15", "--method", "gift"],
                           "应为 repayment")):
        bad = runner.invoke(app, [*base, *args])
        assert bad.exit_code == 1 and message in bad.output, (args, bad.output)
    offset = runner.invoke(app, [*base, "--amount", "50", "--date", "2026-06-15",
                                 "--method", "offset"])
    assert offset.exit_code == 0, offset.output
    assert Entitlement.objects.get(case=p.other).offset_fen == 5000
    wo = runner.invoke(app, [*base, "--amount", "50", "--date", "2026-06-15",
                             "--method", "write-off", "--note", "无力退缴"])
    assert wo.exit_code == 0 and "待另一人审批" in wo.stdout
    mv = RecoveryMovement.objects.get(status=MovementStatus.REQUESTED)
    same = runner.invoke(app, ["payments", "approve-write-off", "--user", "finance",
                               "--movement", str(mv.pk)])
    assert same.exit_code == 1 and "另一人审批" in same.output
    make_user("finance2", "finance_officer", COUNTY)
    other = runner.invoke(app, ["payments", "approve-write-off", "--user", "finance2",
                                "--movement", str(mv.pk)])
    assert other.exit_code == 0, other.output
    rec.refresh_from_db()
    assert rec.balance_fen == 60000 - 10000 - 5000 - 5000
    clean(p.cycle)
    assert runner.invoke(app, ["payments", "record-recovery", "--user", "finance_b",
                               "--recovery", str(rec.pk), "--amount", "1", "--date",
                               "2026-06-15"]).exit_code == 2
    assert runner.invoke(app, ["payments", "record-recovery", "--user", "auditor",
                               "--recovery", str(rec.pk), "--amount", "1", "--date",
                               "2026-06-15"]).exit_code == 2


def test_a_write_off_request_can_be_declined_by_another_person_with_a_reason(
    personas: Personas, world: tuple[Paid, Recovery],
) -> None:
    p, rec = world
    finance = login(personas.finance)
    resp = finance.post(reverse("payments:recovery_write_off", args=[rec.pk]),
                        {"amount": "100", "date": "2026-06-15", "note": "家庭困难"})
    assert resp.status_code == 302
    mv = RecoveryMovement.objects.get(status=MovementStatus.REQUESTED)
    decline = reverse("payments:recovery_decline", args=[rec.pk, mv.pk])
    # not the requester; not the auditor (read only); not another county
    resp = finance.post(decline, {"reason": "自己驳回"})
    assert resp.status_code == 400 and "申请人不能驳回" in resp.content.decode()
    assert login(personas.auditor).post(decline, {"reason": "x"}).status_code == 403
    assert login(personas.county_b).post(decline, {"reason": "x"}).status_code == 404
    county = login(personas.county)
    assert 'data-testid="decline"' in county.get(
        reverse("payments:recovery", args=[rec.pk])).content.decode()
    resp = county.post(decline, {"reason": "  "})
    assert resp.status_code == 400 and "驳回理由" in resp.content.decode()
    mv.refresh_from_db()
    assert mv.status == MovementStatus.REQUESTED
    before = rec.balance_fen
    assert county.post(decline, {"reason": "家庭有退缴能力，应继续追回"}).status_code == 302
    mv.refresh_from_db()
    rec.refresh_from_db()
    assert (mv.status, mv.approved_by_id) == (MovementStatus.DECLINED, personas.county.pk)
    assert rec.balance_fen == before and rec.settled_fen == 0
    ev = AuditEvent.objects.get(action="recovery.write_off_decline")
    assert ev.data["reason"] == "家庭有退缴能力，应继续追回" and ev.case_id == p.case.pk
    clean(p.cycle)
    # declined once: it cannot be approved after all, and a new request may follow
    assert county.post(reverse("payments:recovery_approve", args=[rec.pk, mv.pk])
                       ).status_code == 400
    resp = finance.post(reverse("payments:recovery_write_off", args=[rec.pk]),
                        {"amount": "100", "date": "2026-06-15", "note": "再次申请"})
    assert resp.status_code == 302
    assert RecoveryMovement.objects.filter(status=MovementStatus.REQUESTED).count() == 1
