"""What waits for a user in payments: cycles to batch, batches to release, export and return,
failed lines to correct, held entitlements, recoveries (home page tiles)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.urls import reverse

from huimin.accounts.access import area_q, batches_for
from huimin.accounts.models import Role
from huimin.front.tiles import Tile
from huimin.payments.access import cycles_for
from huimin.payments.models import (
    NOT_PAID,
    BatchState,
    CycleState,
    Entitlement,
    EntitlementStatus,
    MovementStatus,
    PaymentLine,
    RecoveryState,
    waiting,
)
from huimin.payments.recoveries import READERS, recoveries_for

#: village and township users read their area's lines here (the batches are the county's)
AREA_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER)


def _batches(user: Any, state: str, key: str, label: str, note: str) -> Tile:
    n = batches_for(user).filter(state=state).count()
    return Tile(key, label, n, reverse("payments:list"), note=note)


def _finance(user: Any) -> list[Tile]:
    cycles = cycles_for(user).filter(state=CycleState.OPEN)
    entitlements = Entitlement.objects.filter(cycle__in=cycles.values("pk"))
    ready = waiting(entitlements)
    to_batch = cycles.filter(Exists(ready.filter(cycle=OuterRef("pk")))).count()
    people = ready.count()
    held = entitlements.filter(status=EntitlementStatus.HELD)
    held_cycles = cycles.filter(Exists(held.filter(cycle=OuterRef("pk")))).count()
    to_fix = PaymentLine.objects.filter(batch__in=batches_for(user).values("pk"),
                                        status__in=NOT_PAID, correction__isnull=True)
    first = to_fix.order_by("batch_id").values_list("batch_id", flat=True).first()
    return [
        Tile("payments.to_batch", "待生成批次的发放周期", to_batch, reverse("payments:list"),
             note=f"共 {people} 人已冻结、待生成批次" if people else ""),
        _batches(user, BatchState.RELEASED, "payments.to_export", "已放行，待导出银行文件",
                 "导出后交代发银行"),
        _batches(user, BatchState.EXPORTED, "payments.to_return", "已导出，待导入回盘",
                 "银行处理后导入回盘文件"),
        Tile("payments.to_correct", "待更正的失败明细", to_fix.count(),
             reverse("payments:detail", args=[first]) if first else reverse("payments:list"),
             note="核实账户后更正，在后续批次重发", tone="warning" if first else ""),
        Tile("payments.held", "有暂停发放人员的周期", held_cycles, reverse("payments:list"),
             note=f"共 {held.count()} 人暂停发放（死亡、迁出、无账户等）" if held_cycles else ""),
    ]


def _recoveries(user: Any) -> Tile:
    open_ = recoveries_for(user).filter(state=RecoveryState.OPEN)
    asked = open_.filter(movements__status=MovementStatus.REQUESTED).distinct().count()
    return Tile("payments.recoveries", "追回中", open_.count(),
                reverse("payments:recoveries") + "?state=open",
                note=f"其中 {asked} 项核销待审批" if asked else "")


def _area_lines(user: Any) -> Tile:
    n = PaymentLine.objects.filter(area_q(user, "case__area__code"), status__in=NOT_PAID,
                                   correction__isnull=True).count()
    return Tile("payments.area_failed", "本区域发放失败", n,
                reverse("front:area_payments") + "?status=unpaid",
                note="银行未能支付，请协助核实收款账户", tone="warning" if n else "")


def _bank_files(user: Any) -> list[Tile]:
    """Batches their layout cannot write, and statements that disagree with the books: each
    tile opens the first such batch, where the problem rows are named."""
    from huimin.payments.pending import disagreeing_statements, unwritable_batches

    tiles = []
    stuck = unwritable_batches(user)
    if stuck:
        batch, rows = stuck[0]
        tiles.append(Tile("payments.unwritable", "银行文件无法生成的批次", len(stuck),
                          reverse("payments:detail", args=[batch.pk]),
                          note=f"{batch.number}：{rows} 行无法按该银行格式写出，请更换格式或作废",
                          tone="overdue"))
    differ = disagreeing_statements(user)
    if differ:
        tiles.append(Tile("payments.statement_differs", "对账单与账务不符的批次", len(differ),
                          reverse("payments:detail", args=[differ[0].batch_id]),
                          note="逐笔核对对账单差异", tone="warning"))
    return tiles


def pending(user: Any) -> list[Tile]:
    role = getattr(user, "role", "")
    tiles: list[Tile] = []
    if role == Role.FINANCE_OFFICER:
        tiles += _finance(user)
    if role == Role.COUNTY_APPROVER:
        tiles.append(_batches(user, BatchState.DRAFT, "payments.to_release", "待放行的发放批次",
                              "核对笔数与金额后放行"))
    if role == Role.AUDITOR:
        tiles.append(Tile("payments.batches", "发放批次", batches_for(user).count(),
                          reverse("payments:list")))
    tiles += _bank_files(user)
    if role in READERS:
        tiles.append(_recoveries(user))
    if role in AREA_ROLES:
        tiles.append(_area_lines(user))
    return tiles
