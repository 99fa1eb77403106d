"""``huimin feeds …``: load a feed file, list effects, confirm them; issue API tokens.

Exit codes: 0 done (also with unmatched or quarantined rows); 1 refused (role, area, state);
2 the file cannot be read or lacks a column, or the user does not exist — nothing stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from huimin.cli_support import active_user as _user

app = typer.Typer(help="数据比对：死亡、迁移、出生、残疾证数据的导入与处理", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.command("import")
def import_feed(
    file: Path = typer.Argument(..., help=".csv（UTF-8 或 GBK）或 .xlsx"),
    kind: str = typer.Option(..., "--kind", help="death | move | birth | disability"),
    user: str = typer.Option(..., "--user", help="以哪个用户的身份和管辖范围导入"),
    source: str = typer.Option("", "--source", help="数据来源（默认按类型）"),
) -> None:
    """Load a feed file: prints rows read / matched / unmatched / quarantined / effects."""
    actor = _user(user)
    from django.core.exceptions import PermissionDenied

    from huimin.errors import ActionError, FileRejected
    from huimin.verification import ingest

    if kind not in ("death", "move", "birth", "disability"):
        err.print("--kind 应为 death、move、birth 或 disability")
        raise typer.Exit(2)
    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"无法读取 {file}：{exc.strerror}")
        raise typer.Exit(2) from None
    try:
        summary = ingest.ingest_file(actor, data, file.name, kind=kind, source=source,
                                     via="cli")
    except FileRejected as exc:
        err.print(f"[red]{exc.message}[/red]（未保存任何内容）")
        for e in exc.errors[:50]:
            err.print(f"  {e}")
        raise typer.Exit(2) from None
    except ActionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    f = summary.file
    print(f"file {f.pk}")
    print(f"rows read: {f.rows_read}")
    print(f"matched: {f.matched}")
    print(f"unmatched: {f.unmatched}")
    print(f"quarantined: {f.quarantined}")
    print(f"duplicates: {f.duplicates}")
    print(f"effects proposed: {summary.effects}")


@app.command("effects")
def list_effects(
    user: str = typer.Option(..., "--user"),
    status: str = typer.Option("", "--status", help="proposed | confirmed | dismissed"),
    as_json: bool = typer.Option(False, "--json", help="JSON 列表"),
) -> None:
    """Effects in the user's areas."""
    actor = _user(user)
    from huimin.audit.events import record_reads
    from huimin.verification import apply
    from huimin.verification.api import effect_out

    if status and status not in ("proposed", "confirmed", "dismissed"):
        err.print("--status 应为 proposed、confirmed 或 dismissed")
        raise typer.Exit(2)
    qs = apply.effects_for(actor).order_by("id")
    if status:
        qs = qs.filter(status=status)
    rows = list(qs)
    record_reads(actor, "person.list", [e.person for e in rows], via="cli_feeds")
    if as_json:
        print(json.dumps([effect_out(e).model_dump(mode="json") for e in rows],
                         ensure_ascii=False, indent=1))
        return
    for e in rows:
        case = e.case.number if e.case else "-"
        print(f"{e.pk}\t{e.status}\t{e.kind}\t{case}\t{e.from_date or '-'}\t{e.summary}")
    print(f"{len(rows)} effects")


@app.command("confirm")
def confirm(
    user: str = typer.Option(..., "--user"),
    all_: bool = typer.Option(False, "--all", help="确认全部待确认事项"),
    effect: list[int] = typer.Option([], "--effect", help="事项编号（可重复）"),
    note: str = typer.Option("", "--note"),
) -> None:
    """Confirm effects (a county approver): all at once or none."""
    actor = _user(user)
    from django.core.exceptions import PermissionDenied

    from huimin.errors import ActionError
    from huimin.verification import apply
    from huimin.verification.models import EffectKind, EffectStatus

    if all_ == bool(effect):
        err.print("请给出 --all 或至少一个 --effect（二者选一）")
        raise typer.Exit(2)
    qs = apply.effects_for(actor).filter(status=EffectStatus.PROPOSED)
    if all_:
        chosen = list(qs.exclude(kind=EffectKind.OFFER).order_by("id"))
    else:
        chosen = list(qs.filter(pk__in=effect).order_by("id"))
        missing = sorted(set(effect) - {e.pk for e in chosen})
        if missing:
            err.print(f"事项 {', '.join(map(str, missing))} 不存在、不在您的管辖范围内或已处理")
            raise typer.Exit(1)
    if not chosen:
        print("confirmed: 0")
        return
    try:
        done = apply.confirm(actor, chosen, note=note)
    except (ActionError, PermissionDenied) as exc:
        err.print(f"[red]未确认任何事项：{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(1) from None
    print(f"confirmed: {len(done)}")


@app.command("issue-token")
def issue_token(
    user: str = typer.Option(..., "--user"),
    label: str = typer.Option(..., "--label"),
    source: str = typer.Option(..., "--source",
                               help="civil_affairs | health | public_security | "
                                    "disabled_federation"),
    area: str = typer.Option("", "--area", help="12 位区划代码（默认用户的区域）"),
) -> None:
    """Issue an API token for a source system; the token is printed once."""
    actor = _user(user)
    from huimin.errors import ActionError
    from huimin.registry.models import Area
    from huimin.verification import tokens

    where = Area.objects.filter(code=area).first() if area else actor.areas.first()
    if where is None:
        err.print(f"区域 {area} 不存在")
        raise typer.Exit(2)
    try:
        token, raw = tokens.issue_token(actor, label=label, source=source, area=where)
    except ActionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    print(f"token {token.pk}: {raw}")


@app.command("revoke-token")
def revoke_token(user: str = typer.Option(..., "--user"),
                 token: int = typer.Option(..., "--token")) -> None:
    actor = _user(user)
    from huimin.errors import ActionError
    from huimin.verification import tokens
    from huimin.verification.models import FeedToken

    found = FeedToken.objects.filter(pk=token).first()
    if found is None:
        err.print(f"令牌 {token} 不存在")
        raise typer.Exit(2)
    try:
        tokens.revoke_token(actor, found)
    except ActionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    print(f"revoked: {found.prefix}")
