"""`huimin registry handover …`: the hand-over record of a move between counties (迁出移交).

``export`` writes the record of a person who moved out, for the receiving county; ``import``
registers, in the receiving county, a person from such a record (JSON or Excel).

Exit 0 when done, 1 when refused (the reason is printed, naming the field, sheet or row), 2
for an unknown user, a record that does not exist or lies outside the user's area, or a file
that cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from huimin.cli_support import active_user as _user
from huimin.cli_support import refused as _refused
from huimin.cli_support import setup_django as _setup

app = typer.Typer(help="迁出移交记录：导出给迁入地，或在迁入地导入登记", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)



@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="移交记录（JSON 或 Excel），由迁出县导出"),
    user: str = typer.Option(..., "--user", help="迁入村的村级专干或乡镇审核员用户名"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果"),
) -> None:
    """Register a person handed over by another county in the village the record names; the
    cases it lists are printed for the office to take in again under its own rules."""
    _setup()
    from django.core.exceptions import PermissionDenied

    from huimin.errors import ActionError
    from huimin.registry import handover

    actor = _user(user)
    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"[red]文件：无法读取 {file}（{exc.strerror}）[/red]")
        raise typer.Exit(2) from None
    try:
        person, summary = handover.import_handover(actor, data)
    except ActionError as exc:
        _refused(exc)
        return
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(json.dumps({"person_id": person.pk, "name": person.name,
                                       "area_code": person.area.code,
                                       "household": summary["household"],
                                       "cases": summary["cases"]}, ensure_ascii=False))
        return
    console.print(f"已登记迁入人员 {person.name}（{person.id_masked}），"
                  f"{person.area.full_name()}，新立户 {summary['household']}")
    for c in summary["cases"]:
        console.print(f"原县移交案件：{c.get('claim_year')} 年度{c.get('program_name')}"
                      f"（{c.get('number')}），请按本县规定重新受理")


@app.command("export")
def export(
    handover_id: int = typer.Argument(..., help="移交记录编号（数字，如 YJ2026-00012 的 12）"),
    user: str = typer.Option(..., "--user", help="迁出地的村级专干、乡镇审核员或县级审批员"),
    out: Path = typer.Option(..., "--out", help="写入的文件"),
    fmt: str = typer.Option("json", "--format", help="json 或 xlsx"),
) -> None:
    """Write the hand-over record of a person who moved out of the county (it carries the
    full identity number: the taking is logged)."""
    _setup()
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from huimin.registry import handover

    if fmt not in ("json", "xlsx"):
        err.print(f"[red]--format：应为 json 或 xlsx，而不是「{fmt[:20]}」[/red]")
        raise typer.Exit(2)
    actor = _user(user)
    try:
        item = handover.get_handover_for_user(actor, handover_id)
    except Http404 as exc:
        err.print(f"移交记录 {handover_id}：{exc}")
        raise typer.Exit(2) from None
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    try:
        out.write_bytes(handover.taken(actor, item, fmt))
    except OSError as exc:
        err.print(f"[red]--out：无法写入 {out}（{exc.strerror}）[/red]")
        raise typer.Exit(2) from None
    console.print(f"已导出移交记录 {item.number}：{out}")
