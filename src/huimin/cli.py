"""The `huimin` command line for operators and batch work."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

app = typer.Typer(help="惠民 家庭扶助管理系统 命令行", no_args_is_help=True)
registry_app = typer.Typer(
    help="人口登记：区划、身份证号码校验、合成数据、导入", no_args_is_help=True
)
app.add_typer(registry_app, name="registry")
from huimin.registry.cli import app as changes_app  # noqa: E402

registry_app.add_typer(changes_app, name="changes")
from huimin.registry.handover_cli import app as handover_app  # noqa: E402

registry_app.add_typer(handover_app, name="handover")
from huimin.rules.cli import app as rules_app  # noqa: E402

app.add_typer(rules_app, name="rules")
from huimin.payments.cli import app as payments_app  # noqa: E402

app.add_typer(payments_app, name="payments")
from huimin.verification.cli import app as feeds_app  # noqa: E402

app.add_typer(feeds_app, name="feeds")
from huimin.cases.cli import app as cases_app  # noqa: E402

app.add_typer(cases_app, name="cases")
from huimin.registry.cli import claims_export as _claims_export  # noqa: E402
from huimin.registry.cli import duplicates as _duplicates  # noqa: E402

registry_app.command("duplicates")(_duplicates)
registry_app.command("claims")(_claims_export)
console = Console()
err = Console(stderr=True)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


@registry_app.command("check-ids")
def check_ids(file: Path = typer.Argument(..., help="每行一个身份证号码的文本文件")) -> None:
    """Check one ID number per line: prints VALID or INVALID <reason>; exit 1 if any is invalid."""
    from huimin.lib import idnumber

    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"无法读取 {file}：{exc}")
        raise typer.Exit(2) from None
    bad = 0
    for line in lines:
        try:
            idnumber.parse(line, today=date.today())
        except idnumber.InvalidIdNumber as exc:
            bad += 1
            print(f"INVALID {exc.reason}")
        else:
            print("VALID")
    raise typer.Exit(1 if bad else 0)


@registry_app.command("load-areas")
def load_areas(
    county: str = typer.Option("445224", help="6 位县级区划代码"),
    file: Path | None = typer.Option(
        None, help="区划快照 Parquet（code,name,level），默认用内置快照"
    ),
) -> None:
    """Load a county's townships and villages from the division snapshot."""
    _django()
    _migrate()
    from huimin.registry import areas

    try:
        created = areas.load_county(county, file or areas.SNAPSHOT)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"已导入 {created} 个区划（来源：{areas.SNAPSHOT_SOURCE}）")


@registry_app.command("generate")
def generate(
    persons: int = typer.Option(1000, "--persons", help="人数（按整户生成，略多于此数）"),
    seed: int = typer.Option(1, "--seed", help="随机种子：相同种子得到相同数据"),
    county: str = typer.Option("445224", help="6 位县级区划代码"),
    parquet: Path | None = typer.Option(None, help="同时写出 Parquet 的目录"),
    no_db: bool = typer.Option(False, "--no-db", help="只写 Parquet，不写数据库"),
    as_of: str = typer.Option("", help="参照日期 YYYY-MM-DD（默认今天）"),
) -> None:
    """Generate a synthetic county (deterministic for a seed) into the database and/or Parquet."""
    day = date.fromisoformat(as_of) if as_of else date.today()
    if no_db:
        if parquet is None:
            err.print("--no-db 须与 --parquet 同用")
            raise typer.Exit(2)
        from huimin.registry.snapshot import read_snapshot
        from huimin.registry.synth import generate as gen
        from huimin.registry.synth import neighbour_codes, to_parquet

        villages = [(c, n) for c, n, lv in read_snapshot(county) if lv == "village"]
        people = list(gen(villages, persons, seed=seed, as_of=day,
                          birthplaces=neighbour_codes(county)))
        a, b = to_parquet(people, parquet)
        console.print(f"{len(people)} 人 → {a}，{b}")
        return
    _django()
    _migrate()
    from huimin.registry.areas import load_county
    from huimin.registry.synth_db import populate

    load_county(county)
    with Progress(console=console) as progress:
        task = progress.add_task("写入数据库", total=persons)
        stats = populate(county, persons, seed=seed, as_of=day, parquet_dir=parquet,
                         progress=lambda n: progress.advance(task, n))
    console.print(stats)


@registry_app.command("import")
def import_file(
    file: Path,
    user: str = typer.Option(..., "--user", help="以哪个用户的身份和管辖范围导入"),
) -> None:
    """Import persons from an .xlsx or .csv file in the template's layout (all or nothing)."""
    _django()
    from huimin.accounts.models import User
    from huimin.errors import ActionError, FileRejected
    from huimin.registry.importer import import_registry

    try:
        actor = User.objects.get(username=user)
    except User.DoesNotExist:
        err.print(f"用户 {user} 不存在")
        raise typer.Exit(2) from None
    try:
        summary = import_registry(actor, file.read_bytes(), file.name)
    except FileRejected as exc:
        err.print(f"[red]{exc.message}[/red]")
        for e in exc.errors:
            err.print(f"  {e}")
        raise typer.Exit(1) from None
    except ActionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(summary)


@rules_app.command("snapshot")
def rules_snapshot(
    out: Path = typer.Option(..., "--out",
                             help="输出目录（文件名 registry-<县代码>-<日期>.parquet）"),
    user: str = typer.Option(..., "--user",
                             help="以哪个用户的身份和管辖范围导出（县级审批员、系统管理员）"),
    day: str = typer.Option("", "--date", help="快照日期 YYYY-MM-DD（默认今天）"),
    county: str = typer.Option("", "--county", help="6 位县级区划代码（用户负责多个县时必填）"),
    pseudonymise: bool = typer.Option(True, "--pseudonymise/--no-pseudonymise",
                                      help="人员编号写成假名（HMAC，省级密钥）；否则写本县人员编号"),
    key_file: Path | None = typer.Option(None, "--key-file",
                                         help="假名密钥文件（默认 HUIMIN_SNAPSHOT_KEY 或 "
                                              "HUIMIN_SNAPSHOT_KEY_FILE）"),
) -> None:
    """Write the county's register (the columns the rules read) as a dated Parquet snapshot
    for `huimin rules eval` on DuckDB or a Spark cluster. Exit 2 when refused."""
    from huimin.cli_support import active_user

    try:
        snap_day = date.fromisoformat(day) if day else None
    except ValueError:
        err.print(f"--date：应为 YYYY-MM-DD 格式的日期，不是 {day!r}")
        raise typer.Exit(2) from None
    actor = active_user(user)
    from huimin.programs.snapshot import write_snapshot
    from huimin.rules.errors import RulesError

    key = None
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"假名密钥文件 {key_file} 无法读取：{exc}")
            raise typer.Exit(2) from None
    try:
        snap = write_snapshot(actor, out, day=snap_day, county=county or None,
                              pseudonymise=pseudonymise, key=key)
    except RulesError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    ids = f"假名（密钥 {snap.key_id}）" if snap.key_id else "本县人员编号"
    console.print(f"{snap.rows} 人（{snap.county}，{snap.day.isoformat()}，人员编号：{ids}；"
                  f"已迁出本县 {snap.moved_out} 人未列入）→ {snap.path}")


@app.command()
def demo(
    persons: int = typer.Option(3000, help="演示县合成人口数"),
    seed: int = typer.Option(2025, help="随机种子"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    serve: bool = typer.Option(True, help="建好后启动网页服务"),
) -> None:
    """Build the demo county in the embedded SQLite database and serve the web UI."""
    os.environ.setdefault("HUIMIN_HTTPS", "0")  # runserver on loopback speaks plain HTTP
    _django()
    from django.core import checks

    from huimin.accounts.checks import TAG

    refused = [e for e in checks.run_checks(tags=[TAG]) if e.is_serious()]
    for e in refused:
        err.print(f"[red]{e.id}: {e.msg}[/red]\n  {e.hint}")
    if refused:
        raise typer.Exit(2)
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    console.print(f"数据库：{settings.DATABASES['default']['NAME']}")
    _migrate()
    from django.test import override_settings

    from huimin.demo import build

    # the sample cases are approved without scans; the office's own approvals check them
    with Progress(console=console) as progress, override_settings(CASE_REQUIRED_DOCUMENTS=False):
        task = progress.add_task("生成演示县（广东省揭阳市惠来县）", total=persons)
        logins = build(persons, seed, timezone.localdate(),
                       progress=lambda n: progress.advance(task, n))
    table = Table(title=f"演示账号（网址 http://{host}:{port}/）")
    for col in ("角色", "用户名", "密码", "管辖区域", "二次验证"):
        table.add_column(col)
    for login in logins:
        table.add_row(login.role, login.username, login.password, login.area,
                      login.second_factor)
    console.print(table)
    if serve:
        call_command("collectstatic", interactive=False, verbosity=0)
        sys.stdout.flush()
        call_command("runserver", f"{host}:{port}", "--noreload", "--insecure")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run a Django management command (migrate, createsuperuser, …)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["huimin manage", *ctx.args])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
