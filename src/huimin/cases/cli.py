"""`huimin cases …`: settling a suspended case (暂停发放) after re-verification.

Exit 0 when done, 1 when refused (the reason is printed: wrong role, no longer suspended,
an empty reason, a bad date), 2 for an unknown user or a case that does not exist or lies
outside the user's area."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import typer
from rich.console import Console

from huimin.cli_support import active_user as _user
from huimin.cli_support import refused as _refused
from huimin.cli_support import setup_django as _setup

app = typer.Typer(help="案件：暂停发放的复核（恢复或终止发放）", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
_NUMBER = re.compile(r"(?:(\d{4})-)?0*(\d{1,12})")


def _case(actor: Any, number: str) -> Any:
    """The case of that number (2026-000123, or its sequence) in the user's area."""
    from huimin.accounts.access import cases_for

    m = _NUMBER.fullmatch(number.strip())
    found = None
    if m:
        found = cases_for(actor).select_related("area", "program").filter(
            pk=int(m.group(2))).first()
        if found is not None and m.group(1) and int(m.group(1)) != found.claim_year:
            found = None
    if found is None:
        err.print(f"案件 {number[:30]} 不存在或不在您的管辖范围内")
        raise typer.Exit(2)
    return found



@app.command("resume")
def resume(
    user: str = typer.Option(..., "--user", help="县级审批员用户名"),
    case: str = typer.Option(..., "--case", help="案件号，如 2026-000123"),
    reason: str = typer.Option(..., "--reason", help="复核结论（恢复发放的依据）"),
) -> None:
    """Resume a suspended case: it goes back to the state it was suspended from and a
    payment held for the suspension waits for the next batch."""
    _setup()
    from huimin.cases import actions
    from huimin.errors import ActionError

    actor = _user(user)
    found = _case(actor, case)
    try:
        done = actions.resume_case(actor, found, reason=reason)
    except ActionError as exc:
        _refused(exc)
        return
    console.print(f"{done.number}：已恢复发放，现为「{done.state_label}」")


@app.command("stop")
def stop(
    user: str = typer.Option(..., "--user", help="县级审批员用户名"),
    case: str = typer.Option(..., "--case", help="案件号，如 2026-000123"),
    day: str = typer.Option(..., "--date", help="自何日起不再符合条件 YYYY-MM-DD（不晚于今天）"),
    reason: str = typer.Option(..., "--reason", help="终止原因（复核确认的依据）"),
) -> None:
    """Stop a suspended case: re-verification confirmed the loss of entitlement."""
    _setup()
    from huimin.cases import actions
    from huimin.errors import ActionError

    actor = _user(user)
    found = _case(actor, case)
    try:
        on = date.fromisoformat(day)
    except ValueError:
        err.print(f"[red]终止日期：「{day[:20]}」应为 YYYY-MM-DD[/red]")
        raise typer.Exit(1) from None
    try:
        done = actions.stop_suspended(actor, found, stopped_on=on, reason=reason)
    except ActionError as exc:
        _refused(exc)
        return
    from huimin.lib.money import format_yuan
    from huimin.payments.models import Recovery

    console.print(f"{done.number}：已终止发放，自 {on.isoformat()} 起停发")
    opened = Recovery.objects.filter(case_id=done.pk, event_ref=actions.stop_ref(done)).first()
    if opened is not None:
        console.print(f"应追回：{format_yuan(opened.amount_fen)}（追回记录 {opened.pk}）")
