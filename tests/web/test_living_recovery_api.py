"""The recoveries (追回) API: the list in scope, a repayment with its bank receipt (required,
as on the command line) and an offset, each a ledger movement; refusals change nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from huimin.audit.models import AuditEvent
from huimin.payments.models import Recovery, RecoveryMovement
from huimin.programs.models import Program
from tests.conftest import PASSWORD, Personas
from tests.web.payments_helpers import _recovery

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def rec(personas: Personas) -> Any:
    with time_machine.travel(NOW, tick=False):
        recovery, _ = _recovery(personas, Program.objects.get(code="childcare-subsidy"))
        yield recovery


def _client(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def _post(c: Client, rec: Any, **body: Any) -> Any:
    return c.post(f"/api/recoveries/{rec.pk}/movements", body, content_type="application/json")


def test_list_in_scope_and_logged(rec: Any) -> None:
    got = _client("finance").get("/api/recoveries").json()
    assert [(r["id"], r["amount_fen"], r["balance_fen"]) for r in got] == [
        (rec.pk, 30000, 30000)]
    assert "户籍迁出" in got[0]["cause"]
    assert AuditEvent.objects.filter(action="recovery.list", data__via="api").exists()
    assert _client("cadre_a").get("/api/recoveries").status_code == 403


def test_repayment_needs_its_receipt(rec: Any) -> None:
    c = _client("finance")
    r = _post(c, rec, method="repayment", amount_fen=1000, on_date="2026-06-15")
    assert r.status_code == 400 and "receipt：退缴须填写银行回单号" in r.json()["detail"]
    r = _post(c, rec, method="repayment", amount_fen=1000, on_date="2026-06-15", receipt="  ")
    assert r.status_code == 400
    assert not RecoveryMovement.objects.filter(recovery=rec, method="repayment").exists()
    assert Recovery.objects.get(pk=rec.pk).balance_fen == 30000
    r = _post(c, rec, method="repayment", amount_fen=1000, on_date="2026-06-15",
              receipt="2026061500123")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["receipt"] == "2026061500123" and body["recovery"]["balance_fen"] == 29000
    assert AuditEvent.objects.filter(action="recovery.repay", data__receipt="2026061500123"
                                     ).count() == 1


def test_offset_without_a_target_is_refused(rec: Any) -> None:
    r = _post(_client("finance"), rec, method="offset", amount_fen=1000, on_date="2026-06-15")
    assert r.status_code == 400 and "entitlement_id" in r.json()["detail"]
    assert not RecoveryMovement.objects.filter(recovery=rec, method="offset").exists()
    assert Recovery.objects.get(pk=rec.pk).balance_fen == 30000


def test_wrong_role_and_bad_method(rec: Any) -> None:
    body = {"method": "repayment", "amount_fen": 1000, "on_date": "2026-06-15",
            "receipt": "BK1"}
    assert _post(_client("county"), rec, **body).status_code == 403
    assert _post(_client("finance"), rec, **{**body, "method": "write-off"}).status_code == 422
    assert _post(_client("finance"), rec, **{**body, "amount_fen": 0}).status_code == 422
    assert Recovery.objects.get(pk=rec.pk).balance_fen == 30000
