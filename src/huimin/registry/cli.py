"""`huimin registry changes …`: register change requests from the command line.

Exit status: 0 done; 1 refused (the reason, naming the field, on stderr); 2 a usage error
(unknown user, request, person or household, a malformed ``--set``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from huimin.cli_support import active_user as _user
from huimin.cli_support import refused as _fail
from huimin.cli_support import setup_django as _setup

app = typer.Typer(help="变更登记：提交、查看、确认、驳回变更申请", no_args_is_help=True)
console = Console()
err = Console(stderr=True)



def _request(actor: Any, pk: int) -> Any:
    from huimin.registry.changes import changes_for

    req = changes_for(actor).filter(pk=pk).first()
    if req is None:
        err.print(f"变更申请 {pk} 不存在或不在您的管辖范围内")
        raise typer.Exit(2)
    return req


def _row(r: Any) -> dict[str, Any]:
    from huimin.registry.changes import changes_of

    return {"id": r.pk, "number": r.number, "kind": r.kind, "kind_label": r.get_kind_display(),
            "status": r.status, "person_id": r.person_id, "household_id": r.household_id,
            "area_code": r.area.code, "confirm_level": r.confirm_level,
            "submitted_by": r.submitted_by.username, "submitted_at": r.submitted_at.isoformat(),
            "reason": r.reason, "changes": changes_of(r),
            "decided_by": r.decided_by.username if r.decided_by else "",
            "decision_reason": r.decision_reason}


@app.command("list")
def list_changes(
    user: str = typer.Option(..., "--user", help="以哪个用户的身份和管辖范围查看"),
    status: str = typer.Option("pending", help="pending（待本人确认）| submitted | confirmed "
                                               "| rejected | all"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """Change requests in the user's areas (by default those waiting for them)."""
    _setup()
    from huimin.registry.changes import changes_for, pending_for

    actor = _user(user)
    if status not in ("pending", "submitted", "confirmed", "rejected", "all"):
        err.print("--status：应为 pending、submitted、confirmed、rejected 或 all")
        raise typer.Exit(2)
    qs = pending_for(actor) if status == "pending" else changes_for(actor)
    if status not in ("pending", "all"):
        qs = qs.filter(status=status)
    rows = [_row(r) for r in qs[:1000]]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("编号", "类型", "对象", "确认层级", "提交人", "状态", "变更内容")
    for r in rows:
        target = f"人员 {r['person_id']}" if r["person_id"] else f"户 {r['household_id']}"
        what = "；".join(f"{c['field']}：{c['old'] or '（空）'} → {c['new'] or '（空）'}"
                        for c in r["changes"])
        table.add_row(r["number"], r["kind_label"], target, r["confirm_level"],
                      r["submitted_by"], r["status"], what)
    console.print(table)


@app.command("submit")
def submit(
    user: str = typer.Option(..., "--user", help="提交人"),
    kind: str = typer.Option(..., "--kind", help="变更类型：identity、death、move、split、merge、"
                             "head、member_add、member_remove、parent_link、parent_unlink、"
                             "account_add、account_replace、account_deactivate"),
    reason: str = typer.Option(..., "--reason", help="变更原因"),
    person: int | None = typer.Option(None, "--person", help="人员 id（人员类变更）"),
    household: int | None = typer.Option(None, "--household", help="户 id（户类变更）"),
    values: list[str] = typer.Option([], "--set", help="字段=值，可重复，如 --set name=王桂芳"),
    applicant: str = typer.Option("", "--applicant", help="申请人（群众）"),
    evidence: Path | None = typer.Option(None, "--evidence", help="证明材料 PDF/JPG/PNG"),
) -> None:
    """Submit a change request; it takes effect once another user confirms it."""
    _setup()
    from huimin.accounts.access import households_for, persons_for
    from huimin.errors import ActionError
    from huimin.registry import changes

    actor = _user(user)
    fields: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            err.print(f"--set：「{item}」应为 字段=值")
            raise typer.Exit(2)
        fields[key.strip()] = value
    target: dict[str, Any] = {}
    if person is not None:
        target["person"] = persons_for(actor).filter(pk=person).first()
        if target["person"] is None:
            err.print(f"人员 {person} 不存在或不在您的管辖范围内")
            raise typer.Exit(2)
    if household is not None:
        target["household"] = households_for(actor).filter(pk=household).first()
        if target["household"] is None:
            err.print(f"户 {household} 不存在或不在您的管辖范围内")
            raise typer.Exit(2)
    doc = None
    if evidence is not None:
        from huimin.cases.actions import max_upload_bytes

        if not evidence.is_file() or evidence.stat().st_size > max_upload_bytes():
            err.print(f"--evidence：{evidence} 不存在或超过大小限制")
            raise typer.Exit(2)
        doc = (evidence.read_bytes(), evidence.name)
    try:
        req = changes.submit_change(actor, kind=kind, reason=reason, values=fields,
                                    applicant=applicant, evidence=doc, **target)
    except ActionError as exc:
        _fail(exc)
    console.print(f"已提交变更申请 {req.number}（id {req.pk}），待"
                  f"{changes.LEVEL_LABELS[req.confirm_level]}确认")


def _what(r: Any) -> str:
    from huimin.registry.changes import changes_of

    return "；".join(f"{c['field']}：{c['old'] or '（空）'} → {c['new'] or '（空）'}"
                    for c in changes_of(r))


@app.command("confirm")
def confirm(
    change: list[int] | None = typer.Argument(None, help="变更申请 id（可多个）"),
    user: str = typer.Option(..., "--user", help="确认人（不能是提交人）"),
    all_: bool = typer.Option(False, "--all", help="确认全部待本人确认的申请"),
    preview: bool = typer.Option(False, "--preview", help="只列出将发生的变更，不作任何变更"),
) -> None:
    """Confirm change requests: they are applied to the register, all of them or none."""
    _setup()
    from huimin.errors import ActionError
    from huimin.registry import changes

    actor = _user(user)
    ids = list(dict.fromkeys(change or []))
    if all_ == bool(ids):
        err.print("请给出变更申请 id 或 --all（二者选一）")
        raise typer.Exit(2)
    if all_:
        chosen = list(changes.pending_for(actor)[:changes.BULK_MAX + 1])
    else:
        chosen = [_request(actor, pk) for pk in ids]
        chosen.sort(key=lambda r: (r.submitted_at, r.pk))
    if not chosen:
        print("confirmed: 0")
        return
    try:
        if preview:
            changes.check_changes(actor, chosen)
        else:
            done = changes.confirm_changes(actor, chosen)
    except ActionError as exc:
        err.print(f"[red]未确认任何申请：{exc.message}[/red]")
        raise typer.Exit(1) from None
    if preview:
        for r in chosen:
            target = r.person.name if r.person else f"户号 {r.household and r.household.number}"
            print(f"{r.number}\t{r.get_kind_display()}\t{target}\t{_what(r)}")
        print(f"preview: {len(chosen)}（未作任何变更）")
        return
    for r in done:
        print(f"变更申请 {r.number} 已确认并生效")
    print(f"confirmed: {len(done)}")


@app.command("reject")
def reject(
    change: int = typer.Argument(..., help="变更申请 id"),
    user: str = typer.Option(..., "--user", help="驳回人（不能是提交人）"),
    reason: str = typer.Option(..., "--reason", help="驳回理由"),
) -> None:
    """Reject a change request, with the reason."""
    _setup()
    from huimin.errors import ActionError
    from huimin.registry import changes

    actor = _user(user)
    try:
        req = changes.reject_change(actor, _request(actor, change), reason=reason)
    except ActionError as exc:
        _fail(exc)
    console.print(f"变更申请 {req.number} 已驳回")


def duplicates(
    input_file: Path | None = typer.Option(None, "--input", help="人员 Parquet（registry "
                                           "generate 写出的列）"),
    output: Path | None = typer.Option(None, "--output", help="候选对 CSV"),
    threshold: float | None = typer.Option(None, "--threshold", help="匹配概率下限，默认 0.5"),
    user: str | None = typer.Option(None, "--user", help="从数据库查重，以此用户的身份"),
    scope: str = typer.Option("county", "--scope", help="county（全县登记册）| claims（对照快照"
                              "查重复申领）"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="省级或全国快照 Parquet "
                                         "（--scope claims；不带 --user 时可为目录）"),
) -> None:
    """Find likely duplicate persons: from a Parquet file into a CSV, or from the database
    into the adjudication queue (exit 2 on bad input, naming the reason; no output left)."""
    from huimin.identity.match import MatchInputError

    if threshold is not None and not 0.0 < threshold <= 1.0:
        err.print("--threshold：应在 0 与 1 之间（不含 0）")
        raise typer.Exit(2)
    if user is None and scope == "claims":
        if snapshot is None or output is None:
            err.print("--scope claims 不带 --user 时需要 --snapshot（快照文件或目录）与 --output")
            raise typer.Exit(2)
        try:
            n = _claims_file(snapshot, output)
        except MatchInputError as exc:
            err.print(exc.reason)
            raise typer.Exit(2) from None
        console.print(f"{n} 人疑似重复申领，已写入 {output}")
        return
    if user is None:
        if input_file is None or output is None:
            err.print("需要 --input 与 --output（文件查重），或 --user（数据库查重）")
            raise typer.Exit(2)
        try:
            n = _duplicates_file(input_file, output, 0.5 if threshold is None else threshold)
        except MatchInputError as exc:
            err.print(exc.reason)
            raise typer.Exit(2) from None
        console.print(f"{n} 对候选重复，已写入 {output}")
        return
    _setup()
    from django.core.exceptions import PermissionDenied

    from huimin.errors import ActionError
    from huimin.identity import runs

    actor = _user(user)
    if scope not in ("county", "claims"):
        err.print("--scope：应为 county 或 claims")
        raise typer.Exit(2)
    if scope == "claims" and snapshot is None:
        err.print("--scope claims 需要 --snapshot 快照文件")
        raise typer.Exit(2)
    try:
        if scope == "county":
            result = runs.run_county(actor, threshold=threshold)
        else:
            assert snapshot is not None
            result = runs.run_claims(actor, snapshot)
    except MatchInputError as exc:
        err.print(exc.reason)
        raise typer.Exit(2) from None
    except ActionError as exc:
        _fail(exc)
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(result.summary())


def _duplicates_file(src: Path, dest: Path, threshold: float) -> int:
    import os

    import duckdb

    from huimin.identity.match import pairs, prepare

    con = duckdb.connect()
    prepare.load(con, src)
    n = pairs.score(con, ["people"], threshold)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        pairs.write_csv(con, str(tmp))
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _claims_file(snapshot: Path, dest: Path) -> int:
    """The province's check over the counties' claim files (a file, or a directory of
    them) by the rules' stacking groups, into a CSV: person_key, kind, claims, counties."""
    import os

    import duckdb

    from huimin.identity.match import MatchInputError, claims
    from huimin.identity.match.prepare import quote
    from huimin.rules.catalog import load_programs

    paths = sorted(snapshot.glob("*.parquet")) if snapshot.is_dir() else [snapshot]
    if not paths:
        raise MatchInputError(f"--snapshot：目录 {snapshot} 中没有 Parquet 文件")
    con = duckdb.connect()
    n = claims.national(con, paths, groups=load_programs().exclusive_groups())
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        con.execute(f"COPY (SELECT person_key, kind, claims, array_to_string(counties, ';') "
                    f"AS counties FROM dup_claims ORDER BY person_key) TO {quote(str(tmp))} "
                    "(HEADER, DELIMITER ',')")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def claims_export(
    user: str = typer.Option(..., "--user", help="县级审批人"),
    out: Path = typer.Option(..., "--out", help="写入的目录"),
) -> None:
    """Write the county's current claims (keys, area codes, programmes; no name or number) as
    a Parquet file for the province's duplicate-claim check."""
    _setup()
    from django.core.exceptions import PermissionDenied

    from huimin.identity import runs
    from huimin.identity.match import MatchInputError

    actor = _user(user)
    try:
        path, rows = runs.write_claims(actor, out)
    except MatchInputError as exc:
        err.print(exc.reason)
        raise typer.Exit(2) from None
    except PermissionDenied as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"本县申领 {rows} 条，已写入 {path}")
