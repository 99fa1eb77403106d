"""`huimin payments …`: payment cycles, batches, bank files, returns and reconciliation."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from huimin.cli_support import active_user as _user
from huimin.cli_support import setup_django as _setup

app = typer.Typer(help="发放：周期冻结、批次、银行文件、回盘、对账", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _started(what: str) -> float:
    # One line as the work begins (operators see it; the crash test waits for it).
    print(f"开始：{what}", flush=True)
    return time.perf_counter()


def _fail(exc: Any) -> None:
    from huimin.errors import FileRejected

    err.print(f"[red]{exc.message}[/red]")
    if isinstance(exc, FileRejected):
        for e in exc.errors[:200]:
            err.print(f"  {e}")
        if len(exc.errors) > 200:
            err.print(f"  …另有 {len(exc.errors) - 200} 处")
    raise typer.Exit(1)


def _get(model: Any, pk: int, what: str) -> Any:
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist:
        err.print(f"{what} {pk} 不存在")
        raise typer.Exit(2) from None


@app.command("layouts")
def list_layouts() -> None:
    """List the bank file layouts."""
    from huimin.payments.bankfile import layouts

    table = Table("代码", "名称", "格式", "编码", "日期格式", "列")
    for layout in layouts().values():
        table.add_row(layout.code, layout.name, layout.format, layout.encoding,
                      layout.date_format, "，".join(c.header for c in layout.columns))
    console.print(table)


@app.command("build-cycle")
def build_cycle(
    user: str = typer.Option(..., "--user", help="财务人员用户名（以其管辖区域建立周期）"),
    year: int = typer.Option(..., "--year", help="申领年度"),
    program: str = typer.Option("childcare-subsidy", "--program", help="项目代码"),
    period: str = typer.Option("", "--period", help="发放期（默认同年度）"),
    cut_off: str = typer.Option("", "--cut-off", help="截止日 YYYY-MM-DD（默认今天）"),
) -> None:
    """Freeze the entitlements of approved cases into a payment cycle (or add new ones)."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.programs.models import Program

    actor = _user(user)
    prog = Program.objects.filter(code=program).first()
    if prog is None:
        err.print(f"未知项目 {program}")
        raise typer.Exit(2)
    t0 = _started("冻结应发明细")
    try:
        cycle = actions.build_cycle(actor, program=prog, claim_year=year, period=period,
                                    cut_off=date.fromisoformat(cut_off) if cut_off else None)
    except ActionError as exc:
        _fail(exc)
        return
    console.print(f"周期 {cycle.number}（id {cycle.pk}）：应发 {cycle.payable_count} 人 "
                  f"{cycle.payable_fen / 100:,.2f} 元，暂停 {cycle.held_count} 人；"
                  f"用时 {time.perf_counter() - t0:.2f} 秒")


@app.command("create-batch")
def create_batch(
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    cycle: int = typer.Option(..., "--cycle", help="发放周期 id"),
    layout: str = typer.Option("standard-csv", "--layout", help="银行文件格式代码"),
) -> None:
    """Put every waiting entitlement of a cycle into a new batch."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentCycle

    actor = _user(user)
    obj = _get(PaymentCycle, cycle, "发放周期")
    t0 = _started("生成发放批次")
    try:
        batch = actions.create_batch(actor, obj, layout=layout)
    except ActionError as exc:
        _fail(exc)
        return
    console.print(f"批次 {batch.number}（id {batch.pk}）：{batch.line_count} 笔 "
                  f"{batch.total_fen / 100:,.2f} 元；用时 {time.perf_counter() - t0:.2f} 秒")


@app.command("release")
def release(
    user: str = typer.Option(..., "--user", help="县级审批人用户名（不能是制表人）"),
    batch: int = typer.Option(..., "--batch", help="批次 id"),
) -> None:
    """Release a batch for export (county approver, not the one who built it)."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    try:
        actions.release_batch(actor, obj)
    except ActionError as exc:
        _fail(exc)
    console.print(f"批次 {obj.number} 已放行")


@app.command("export")
def export(
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    batch: int = typer.Option(..., "--batch", help="批次 id"),
    out: Path = typer.Option(..., "--out", help="写出的银行文件路径"),
    confirm_returned: bool = typer.Option(
        False, "--confirm-returned", help="批次已回盘时仍要下载（存档用，切勿再提交银行）"),
) -> None:
    """Export a released batch and write its bank file; an exported one is downloaded again
    (the same bytes every time; each download is in the audit log). A batch already
    returned is downloaded only with --confirm-returned."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    t0 = _started("导出银行文件")
    try:
        if confirm_returned:
            data = actions.download_bank_file(actor, obj, confirm_returned=True)
        else:
            data = actions.export_batch(actor, obj)
    except ActionError as exc:
        _fail(exc)
        return
    out.write_bytes(data)
    obj.refresh_from_db()
    console.print(f"{out}：{len(data):,} 字节，{obj.line_count} 笔，SHA-256 {obj.file_sha256}；"
                  f"用时 {time.perf_counter() - t0:.2f} 秒")


@app.command("import-return")
def import_return(
    file: Path = typer.Argument(..., help="银行回盘文件"),
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    batch: int = typer.Option(..., "--batch", help="批次 id"),
) -> None:
    """Apply a bank return (all or nothing; the same file again changes nothing)."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    data = file.read_bytes()
    t0 = _started("导入银行回盘")
    try:
        counts = actions.import_return(actor, obj, data)
    except ActionError as exc:
        _fail(exc)
        return
    console.print(f"成功 {counts['paid']} 笔，失败 {counts['failed']} 笔，"
                  f"退回 {counts['returned']} 笔，无变化 {counts['unchanged']} 笔；"
                  f"用时 {time.perf_counter() - t0:.2f} 秒")


@app.command("import-statement")
def import_statement(
    file: Path = typer.Argument(..., help="银行对账单文件（批次的银行文件格式）"),
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    batch: int = typer.Option(..., "--batch", help="批次 id"),
) -> None:
    """Match a bank statement (对账单) with the batch's books; exit 1 when they disagree."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    try:
        st = actions.import_statement(actor, obj, file.read_bytes())
    except ActionError as exc:
        _fail(exc)
        return
    console.print(f"本批次 {st.rows} 笔，其他交易 {st.other_rows} 笔；对账单净支出 "
                  f"{st.debit_fen / 100:.2f} 元，账上已发放 {st.books_fen / 100:.2f} 元")
    if st.agrees:
        console.print("帐实相符")
        return
    err.print(f"[red]帐实不符，{len(st.mismatches)} 处：[/red]")
    for m in st.mismatches:
        err.print(f"  第 {m['row'] or '—'} 行 {m['reference']}：{m['reason']}")
    raise typer.Exit(1)


@app.command("check-batch")
def check_batch_cmd(
    batch: int = typer.Option(..., "--batch", help="批次 id"),
    layout: str = typer.Option("", "--layout", help="按此格式检查（默认批次自己的格式）"),
) -> None:
    """List every line the batch's bank file could not carry; exit 1 if there is any."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    obj = _get(PaymentBatch, batch, "批次")
    try:
        problems = actions.check_batch(obj, layout or None)
    except ActionError as exc:
        _fail(exc)
        return
    if not problems:
        console.print(f"批次 {obj.number} 可按「{layout or obj.layout}」写出")
        return
    err.print(f"[red]批次 {obj.number} 有 {len(problems)} 处无法写出：[/red]")
    for e in problems:
        err.print(f"  {e}")
    raise typer.Exit(1)


@app.command("relayout-batch")
def relayout_batch_cmd(
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    batch: int = typer.Option(..., "--batch", help="批次 id（尚未导出）"),
    layout: str = typer.Option(..., "--layout", help="新的银行文件格式代码"),
    note: str = typer.Option(..., "--note", help="更换说明"),
) -> None:
    """Write a batch not yet exported in another bank layout."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    try:
        actions.relayout_batch(actor, obj, layout=layout, note=note)
    except ActionError as exc:
        _fail(exc)
    console.print(f"批次 {obj.number} 已改为 {layout}")


@app.command("cancel-batch")
def cancel_batch_cmd(
    user: str = typer.Option(..., "--user", help="财务人员或县级审批人用户名"),
    batch: int = typer.Option(..., "--batch", help="批次 id（尚未导出）"),
    reason: str = typer.Option(..., "--reason", help="作废原因"),
) -> None:
    """Cancel a batch never sent to a bank: its cases may go into a new batch."""
    _setup()
    from huimin.errors import ActionError
    from huimin.payments import actions
    from huimin.payments.models import PaymentBatch

    actor = _user(user)
    obj = _get(PaymentBatch, batch, "批次")
    try:
        n = actions.cancel_batch(actor, obj, reason=reason)
    except ActionError as exc:
        _fail(exc)
        return
    console.print(f"批次 {obj.number} 已作废，{n} 笔移出，案件可纳入新批次")


@app.command("reconcile")
def reconcile_cmd(
    user: str = typer.Option(..., "--user", help="用户名（财务、县级审批、审计）"),
    cycle: int = typer.Option(..., "--cycle", help="发放周期 id"),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="同时写出 Excel 对账表"),
) -> None:
    """Reconcile a cycle: entitlements vs ledger vs bank. Exit 1 if there is any variance."""
    _setup()
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from huimin.lib.money import format_yuan
    from huimin.payments import reconcile
    from huimin.payments.access import get_cycle_for_user

    actor = _user(user)
    try:
        obj = get_cycle_for_user(actor, cycle)
    except (Http404, PermissionDenied) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    report = reconcile.reconcile(obj)
    table = Table("科目", "总账", "明细账", "按事件重建", title=f"发放周期 {obj.number}")
    for b in report.balances:
        table.add_row(b.label, format_yuan(b.ledger_fen), format_yuan(b.detail_fen),
                      format_yuan(b.events_fen))
    console.print(table)
    for check in reconcile.CHECKS:
        state = "[green]相符[/green]" if report.ok(check) else "[red]不符[/red]"
        console.print(f"{check}：{state}")
    for v in report.variances:
        amounts = " / ".join(format_yuan(x) for x in (v.expected_fen, v.actual_fen)
                             if x is not None)
        console.print(f"  [{v.check}] {v.item} {amounts}：{v.cause}", markup=False)
    if report.more:
        console.print(f"  …另有 {report.more} 处差异未列出")
    if xlsx is not None:
        xlsx.write_bytes(reconcile.to_xlsx(report))
        console.print(f"已写出 {xlsx}")
    raise typer.Exit(0 if report.all_ok else 1)


# ---------------------------------------------------------------------------------------------
# Recoveries (追回)

METHODS = {"repayment": "repayment", "offset": "offset", "write-off": "write_off"}


def _recovery(actor: Any, pk: int, roles: Any = None) -> Any:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from huimin.payments.recoveries import READERS, get_recovery_for_user

    try:
        return get_recovery_for_user(actor, pk, roles=roles or READERS)
    except Http404:
        err.print(f"应追回款项 {pk} 不存在或不在您的管辖范围内")
        raise typer.Exit(2) from None
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command("recoveries")
def recoveries_cmd(
    user: str = typer.Option(..., "--user", help="用户名（财务、县级审批、审计）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 列表输出"),
) -> None:
    """List the recoveries (追回) of the user's areas: amount, recovered, balance, cause."""
    _setup()
    import json

    from huimin.audit.events import record_reads
    from huimin.payments.recoveries import READERS, recoveries_for, row

    actor = _user(user)
    if actor.role not in READERS:
        err.print("[red]您的角色不能查看追回台账[/red]")
        raise typer.Exit(2)
    recs = list(recoveries_for(actor).select_related("case__subject__area").order_by("id"))
    record_reads(actor, "recovery.list", [r.case.subject for r in recs], via="cli")
    rows = [row(r) for r in recs]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("id", "编号", "案件", "补贴对象", "应追回", "已追回", "已核销", "余额", "状态",
                  "原因", title="追回台账")
    for r in rows:
        table.add_row(str(r["id"]), r["number"], r["case"], r["subject"], r["amount_yuan"],
                      r["recovered_yuan"], r["written_off_yuan"], r["balance_yuan"],
                      "已结清" if r["state"] == "closed" else "追回中", r["cause"])
    console.print(table)


@app.command("record-recovery")
def record_recovery(
    user: str = typer.Option(..., "--user", help="财务人员用户名"),
    recovery: int = typer.Option(..., "--recovery", help="应追回款项 id"),
    amount: str = typer.Option(..., "--amount", help="金额（元，最多两位小数）"),
    day: str = typer.Option(..., "--date", help="日期 YYYY-MM-DD（不晚于今天）"),
    method: str = typer.Option("repayment", "--method",
                               help="repayment（退缴）| offset（抵扣）| write-off（核销申请）"),
    receipt: str = typer.Option("", "--receipt", help="银行回单号（退缴时必填）"),
    entitlement: int = typer.Option(0, "--entitlement",
                                    help="抵扣的应发明细 id（抵扣时；同户只有一笔可抵扣时可省略）"),
    note: str = typer.Option("", "--note", help="说明（核销时必填：核销理由）"),
) -> None:
    """Record a repayment, an offset or a write-off request against a recovery.

    Exit 0 when recorded, 1 when refused (the reason is printed), 2 for an unknown user or
    recovery. A write-off is a request: a second person approves it (approve-write-off)."""
    _setup()
    from huimin.errors import ActionError
    from huimin.lib.money import InvalidAmount, fen_to_yuan, yuan_to_fen
    from huimin.payments import recoveries as rec_actions
    from huimin.payments.models import Entitlement

    actor = _user(user)
    rec = _recovery(actor, recovery, rec_actions.RECORD_ROLES)
    if method not in METHODS:
        err.print(f"[red]方式：「{method}」应为 repayment、offset 或 write-off[/red]")
        raise typer.Exit(1)
    try:
        fen = yuan_to_fen(amount)
    except InvalidAmount:
        err.print(f"[red]金额：「{amount[:20]}」不是有效的金额（元，最多两位小数）[/red]")
        raise typer.Exit(1) from None
    try:
        on = date.fromisoformat(day)
    except ValueError:
        err.print(f"[red]日期：「{day[:20]}」应为 YYYY-MM-DD[/red]")
        raise typer.Exit(1) from None
    try:
        if METHODS[method] == "repayment":
            mv = rec_actions.record_repayment(actor, rec, amount_fen=fen, on_date=on,
                                              receipt=receipt, note=note)
        elif METHODS[method] == "offset":
            targets = rec_actions.offset_targets(rec)
            chosen = [e for e in targets if e.pk == entitlement] if entitlement else targets
            if len(chosen) != 1:
                listed = "、".join(f"{e.pk}（{e.case.number}）" for e in targets) or "无"
                err.print(f"[red]抵扣的应发：请用 --entitlement 指定同户尚未纳入批次的应发明细，"
                          f"可选 {listed}[/red]")
                raise typer.Exit(1)
            mv = rec_actions.record_offset(actor, rec, amount_fen=fen, on_date=on,
                                           entitlement=Entitlement.objects.get(pk=chosen[0].pk),
                                           note=note)
        else:
            mv = rec_actions.request_write_off(actor, rec, amount_fen=fen, on_date=on, note=note)
    except ActionError as exc:
        _fail(exc)
        return
    rec.refresh_from_db()
    state = "待另一人审批" if mv.status == "requested" else "已入账"
    console.print(f"{rec.number}：{mv.get_method_display()} {fen_to_yuan(mv.amount_fen)} 元"
                  f"{state}（记录 id {mv.pk}），余额 {fen_to_yuan(rec.balance_fen)} 元")


@app.command("approve-write-off")
def approve_write_off_cmd(
    user: str = typer.Option(..., "--user", help="审批人用户名（财务或县级审批，非申请人）"),
    movement: int = typer.Option(..., "--movement", help="核销申请的记录 id"),
) -> None:
    """Approve a requested write-off (never by the person who asked for it)."""
    _setup()
    from huimin.errors import ActionError
    from huimin.lib.money import fen_to_yuan
    from huimin.payments import recoveries as rec_actions
    from huimin.payments.models import RecoveryMovement

    actor = _user(user)
    mv = _get(RecoveryMovement, movement, "核销申请")
    rec = _recovery(actor, mv.recovery_id, rec_actions.APPROVE_ROLES)
    try:
        rec_actions.approve_write_off(actor, mv)
    except ActionError as exc:
        _fail(exc)
        return
    rec.refresh_from_db()
    console.print(f"{rec.number}：核销 {fen_to_yuan(mv.amount_fen)} 元已审批，"
                  f"余额 {fen_to_yuan(rec.balance_fen)} 元")


if __name__ == "__main__":
    app()
