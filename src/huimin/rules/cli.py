"""``huimin rules …``: evaluate, explain and compare programs over registry files.

The contract of these commands is documented in docs/rules.md and kept stable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pyarrow.compute as pc
import typer

from huimin.rules import engines, io
from huimin.rules.batch import evaluate_file
from huimin.rules.catalog import Catalog, load_programs
from huimin.rules.engines import ENGINES, Engine
from huimin.rules.errors import RulesError
from huimin.rules.money import fen_to_decimal

app = typer.Typer(help="规则引擎：资格与金额的计算、解释与测算", no_args_is_help=True)

ProgramOpt = Annotated[str, typer.Option("--program", help="program id, e.g. childcare-subsidy")]
YearOpt = Annotated[int, typer.Option("--year", help="claim year, e.g. 2025")]
InputOpt = Annotated[Path, typer.Option("--input", help="registry file (.csv or .parquet)")]
DirOpt = Annotated[Path | None, typer.Option("--programs-dir",
                                             help="extra program documents (directory)")]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2)


def _catalog(programs_dir: Path | None) -> Catalog:
    return load_programs(programs_dir)


def _engine(name: str) -> Engine:
    for e in ENGINES:
        if e == name:
            return e
    raise RulesError(f"unknown engine '{name}': use one of {', '.join(ENGINES)}")


@app.command("eval")
def eval_cmd(
    program: ProgramOpt,
    year: YearOpt,
    input: Annotated[str, typer.Option("--input", help="registry file (.csv or .parquet); "
                                       "with --engine spark a path or URI the cluster reads")],
    output: Annotated[str, typer.Option("--output", help="results file (.csv or .parquet); "
                                        "with --engine spark a Parquet directory or URI")],
    engine: Annotated[str, typer.Option("--engine", help="sqlite|duckdb|postgres|spark")]
    = "duckdb",
    database_url: Annotated[str | None, typer.Option("--database-url",
                                                     help="PostgreSQL URL (postgres engine)")]
    = None,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="local[N], spark://host:port, yarn, k8s://…, sc://host:port "
        "(default: $HUIMIN_SPARK_MASTER or local[2])")] = None,
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", help="a Spark setting KEY=VALUE (repeatable)")] = None,
    spark_properties: Annotated[Path | None, typer.Option(
        "--spark-properties", help="a spark-defaults.conf style properties file")] = None,
    programs_dir: DirOpt = None,
) -> None:
    """Evaluate every subject of a registry file for one claim year."""
    try:
        eng = _engine(engine)
        if eng == "spark" and not input.lower().endswith(".csv"):
            from huimin.rules import spark as spark_engine

            prog = _catalog(programs_dir).for_year(program, year)
            totals = spark_engine.evaluate_uri(
                prog, year, input, output, master=spark_master,
                conf=spark_engine.parse_conf(spark_conf or []), properties=spark_properties)
            typer.echo(f"{totals.rows} rows, {totals.eligible} eligible, "
                       f"{fen_to_decimal(totals.amount_fen)} yuan → {output}", err=True)
            return
        n = evaluate_file(_catalog(programs_dir), program, year, Path(input), Path(output),
                          eng, database_url=database_url)
    except RulesError as exc:
        raise _fail(exc) from None
    typer.echo(f"{n} rows → {output}", err=True)


@app.command("explain")
def explain_cmd(
    program: ProgramOpt,
    year: YearOpt,
    person_id: Annotated[str, typer.Option("--person-id", help="the subject's person_id")],
    input: InputOpt,
    programs_dir: DirOpt = None,
) -> None:
    """Print one subject's evaluation trace as JSON."""
    try:
        prog = _catalog(programs_dir).for_year(program, year)
        table = io.read_registry(input, engines.program_columns(prog))
        rows = table.filter(pc.equal(table.column("person_id"), person_id)).to_pylist()
        if not rows:
            raise RulesError(f"{input}: no row with person_id '{person_id}'")
        ev = prog.evaluate(rows[0], year)
    except RulesError as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(ev.to_dict(), ensure_ascii=False, indent=2) + "\n")


@app.command("whatif")
def whatif_cmd(
    program: ProgramOpt,
    proposal: Annotated[Path, typer.Option("--proposal",
                                           help="proposed program document(s): file or dir")],
    input: InputOpt,
    years: Annotated[str, typer.Option("--years", help="claim years, e.g. 2025,2026")],
    output: Annotated[Path | None, typer.Option("--output", help="write .xlsx or .csv")]
    = None,
    engine: Annotated[str, typer.Option("--engine")] = "duckdb",
    area_digits: Annotated[int, typer.Option("--area-digits",
                                             help="group by division code prefix")] = 6,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    programs_dir: DirOpt = None,
) -> None:
    """Compare the current program with a proposed version: counts and cost by area, year."""
    from huimin.rules.whatif import HEADERS_ZH, compare, export_excel

    try:
        year_list = [int(y) for y in years.split(",") if y.strip()]
    except ValueError:
        raise _fail(RulesError(f"--years: not a list of years: {years}")) from None
    try:
        base = _catalog(programs_dir)
        prop = base.overlay([proposal])
        prog = prop.for_year(program, year_list[0])
        table = io.read_registry(input, engines.program_columns(prog)
                                 | engines.program_columns(base.for_year(program,
                                                                         year_list[0])))
        rows = compare(base, prop, program, year_list, table, _engine(engine),
                       area_digits=area_digits, database_url=database_url)
        if output is not None:
            if output.suffix.lower() == ".xlsx":
                export_excel(rows, output, f"{program} 测算：现行 vs {proposal.name}")
            else:
                import pyarrow as pa

                t = pa.table({
                    "area_code": [r.area_code for r in rows], "year": [r.year for r in rows],
                    "base_count": [r.base_count for r in rows],
                    "base_cost_yuan": [fen_to_decimal(r.base_cost_fen) for r in rows],
                    "proposal_count": [r.proposal_count for r in rows],
                    "proposal_cost_yuan": [fen_to_decimal(r.proposal_cost_fen) for r in rows],
                })
                with io.atomic_output(output) as tmp:
                    import pyarrow.csv as pacsv

                    pacsv.write_csv(t, tmp)
    except RulesError as exc:
        raise _fail(exc) from None
    typer.echo("\t".join(HEADERS_ZH))
    for r in rows:
        typer.echo("\t".join(str(x) for x in (
            r.area_code, r.year, r.base_count, fen_to_decimal(r.base_cost_fen),
            r.proposal_count, fen_to_decimal(r.proposal_cost_fen), r.delta_count,
            fen_to_decimal(r.delta_cost_fen))))
