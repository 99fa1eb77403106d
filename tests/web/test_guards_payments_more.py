"""More refusals of ``huimin.payments`` (cycles, batches, recoveries, returns, holds).

Each refused call asserts its Chinese message and that nothing changed (the snapshot of
``tests/web/test_guards.py``: audit events, journal, lines, batches, entitlements, cases,
recoveries), plus the recovery movements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.errors import ActionError, Conflict, FileRejected, Forbidden
from huimin.payments import actions as pay
from huimin.payments import recoveries as rec_actions
from huimin.payments.holds import hold_case
from huimin.payments.models import Entitlement, PaymentBatch, RecoveryMovement
from tests.conftest import COUNTY, Personas, make_user
from tests.web import test_guards
from tests.web.test_payments import cycle_of, world
from tests.web.test_recoveries import opened, paid_world

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def snapshot() -> dict[str, Any]:
    return {**test_guards.snapshot(),
            "movements": list(RecoveryMovement.objects.order_by("id").values_list(
                "id", "status", "amount_fen"))}


def refused(exc: type[Exception], match: str, call: Callable[[], object]) -> None:
    before = snapshot()
    with pytest.raises(exc, match=match):
        call()
    assert snapshot() == before


def test_a_finance_officer_without_an_area_cannot_build_a_cycle(personas: Personas) -> None:
    world(personas, 1)
    stray = make_user("finance_nowhere", "finance_officer", COUNTY)
    stray.areas.clear()
    refused(Forbidden, "您没有分配管辖区域", lambda: cycle_of(
        type("P", (), {"finance": stray})()))  # type: ignore[arg-type]


def test_batch_refusals(personas: Personas) -> None:
    w = world(personas, 1)
    cycle = cycle_of(personas)
    refused(Forbidden, "该发放周期不在您的管辖范围内",
            lambda: pay.create_batch(personas.finance_b, cycle))
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    PaymentBatch.objects.filter(pk=batch.pk).update(total_fen=batch.total_fen + 1)
    refused(Conflict, "批次明细与控制数不符", lambda: pay.export_batch(personas.finance, batch))
    PaymentBatch.objects.filter(pk=batch.pk).update(total_fen=batch.total_fen)
    # its only case held before the file went out: the batch has no line left to send
    assert hold_case(personas.county, w.cases[0], held_reason="died", reason="民政推送死亡信息",
                     from_date=DAY) == 1
    refused(Conflict, "已没有明细（均已暂停发放），不能导出",
            lambda: pay.export_batch(personas.finance, batch))


def test_a_hold_needs_a_date(personas: Personas) -> None:
    w = world(personas, 1)
    cycle_of(personas)
    refused(ActionError, "暂停起始日：须为日期", lambda: hold_case(
        personas.county, w.cases[0], held_reason="died", reason="民政推送",
        from_date="2026-06-01"))  # type: ignore[arg-type]


def test_a_return_naming_a_line_not_in_the_batch_is_refused_whole(personas: Personas) -> None:
    world(personas, 1)
    batch = pay.create_batch(personas.finance, cycle_of(personas))
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    good = pay.sample_return(batch).decode()
    line = batch.lines.get()
    bad = good.replace(line.reference, f"{batch.number}-000099")
    refused(FileRejected, "整个文件未导入",
            lambda: pay.import_return(personas.finance, batch, bad.encode()))


def test_opening_a_recovery_refusals(personas: Personas) -> None:
    p = paid_world(personas)

    def open_(**kw: Any) -> Callable[[], object]:
        args: dict[str, Any] = {"case": p.case, "amount_fen": 100, "cause": "死亡后多发",
                                "period_start": date(2026, 7, 1),
                                "period_end": date(2026, 12, 31), **kw}
        return lambda: rec_actions.open_recovery(personas.county, **args)

    refused(ActionError, "无资格期间：起止须为日期", open_(period_start="2026-07-01"))
    refused(ActionError, "依据事件：最多 120 个字符", open_(event_ref="x" * 121))
    refused(ActionError, "不属于案件", open_(case=p.other, line=p.line))
    # a line still at the bank is not paid
    fresh = world(personas, 1).cases[0]
    pay.build_cycle(personas.finance, program=fresh.program, claim_year=2026,
                    cut_off=date(2026, 6, 30))
    ent = Entitlement.objects.get(case=fresh)
    batch = pay.create_batch(personas.finance, ent.cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    pending = batch.lines.get(case=fresh)
    refused(Conflict, "未支付，不能登记追回", open_(case=fresh, line=pending))


def test_movement_refusals(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    refused(ActionError, "日期：1999-12-31 早于 2000-01-01", lambda: rec_actions.request_write_off(
        personas.finance, rec, amount_fen=100, on_date=date(1999, 12, 31), note="困难"))
    refused(ActionError, "核销理由：最多 200 个字", lambda: rec_actions.request_write_off(
        personas.finance, rec, amount_fen=100, on_date=DAY, note="很" * 201))
    ent = Entitlement.objects.get(case=p.other)
    hold_case(personas.county, p.other, held_reason="died", reason="民政推送", from_date=DAY)
    refused(Conflict, "的应发已暂停，不能抵扣", lambda: rec_actions.record_offset(
        personas.finance, rec, amount_fen=100, on_date=DAY, entitlement=ent))
    # a write-off asked for the whole balance, then part of it repaid: too much to approve
    mv = rec_actions.request_write_off(personas.finance, rec, amount_fen=rec.balance_fen,
                                       on_date=DAY, note="家庭困难，无力退缴")
    rec_actions.record_repayment(personas.finance, rec, amount_fen=100, on_date=DAY,
                                 receipt="HX2026061501", note="退缴一部分")
    refused(Conflict, "超过现在的待追回余额", lambda: rec_actions.approve_write_off(
        personas.county, mv))
    rec_actions.decline_write_off(personas.county, mv, reason="有退缴能力")
    refused(Conflict, "该记录不是待审批的核销申请", lambda: rec_actions.decline_write_off(
        personas.county, mv, reason="再次"))
