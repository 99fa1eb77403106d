"""The rules on a Spark cluster: Spark reads the registry Parquet, evaluates and writes the
results Parquet itself; the driver only plans the job and reads back totals.

The cluster is configuration: ``master`` is anything Spark accepts (``local[N]``,
``spark://host:port``, ``yarn``, ``k8s://…``) or ``sc://host:port`` for Spark Connect; extra
settings come from ``KEY=VALUE`` pairs and a properties file. Input and output are paths or
URIs that the cluster resolves (a local directory, ``hdfs://``, ``s3a://``). The output is
written into a temporary directory beside the final one and renamed only when the job has
succeeded; on failure it is deleted.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huimin.rules.catalog import Program
from huimin.rules.columns import COLUMNS, REQUIRED_COLUMNS
from huimin.rules.compile import compile_program
from huimin.rules.errors import RulesError
from huimin.rules.expr import sql_literal

MASTER_ENV = "HUIMIN_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
#: seconds to wait for a standalone master or Connect server to accept a connection
CONNECT_TIMEOUT = 5.0
#: defaults for a run on one machine; any of them can be overridden by --spark-conf
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.driver.memory": "1g",
    "spark.sql.shuffle.partitions": "4",
}
COMMON_DEFAULTS: dict[str, str] = {
    "spark.app.name": "huimin-rules",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # a standalone cluster gives up on an unresponsive master after these
    "spark.network.timeout": "60s",
    # a program compiles to one wide expression; fused into one generated method it is too
    # big for the JIT and runs interpreted: 10 M children took 69 s with it, 21 s without
    # (local[2], bench/rules_spark.py)
    "spark.sql.codegen.wholeStage": "false",
}
SPARK_TYPES = {"str": "string", "date": "date", "int": ("bigint", "int", "smallint", "tinyint"),
               "bool": "boolean"}
_REFUSED = "HUIMIN_INPUT_REFUSED"


class SparkError(RulesError):
    """A Spark run could not be set up or failed; the message is for the operator."""


def master_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(MASTER_ENV) or DEFAULT_MASTER


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise SparkError(f"--spark-conf 应为 KEY=VALUE 形式：{p!r}")
        out[key.strip()] = value.strip()
    return out


def read_properties(path: Path) -> dict[str, str]:
    """A spark-defaults.conf style file: ``key value`` or ``key=value``, ``#`` comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SparkError(f"Spark 配置文件 {path} 无法读取：{exc.strerror}") from None
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        if "=" in line and (" " not in line or line.index("=") < line.index(" ")):
            key, _, value = line.partition("=")
        else:
            key, _, value = line.partition(" ")
        if not key.strip():
            raise SparkError(f"Spark 配置文件 {path} 第 {n} 行无法解析：{raw!r}")
        out[key.strip()] = value.strip()
    return out


def _check_reachable(master: str, timeout: float) -> None:
    """Fail fast when a standalone master or Connect server does not answer (Spark itself
    would retry for a minute or more before giving up)."""
    if not master.startswith(("spark://", "sc://")):
        return
    for hostport in master.split("://", 1)[1].split("/", 1)[0].split(";")[0].split(","):
        parsed = urlparse(f"//{hostport}")
        host = parsed.hostname or "localhost"
        port = parsed.port or (15002 if master.startswith("sc://") else 7077)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as exc:
            last = exc
    raise SparkError(f"无法连接 Spark 主节点 {master}（{timeout:g} 秒内无响应：{last}）；"
                     f"请检查 --spark-master 或 {MASTER_ENV}")


def session(master: str | None = None, conf: Mapping[str, str] | None = None,
            properties: Path | None = None, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A SparkSession for ``master`` with the defaults, the properties file and ``conf``
    (later ones win)."""
    url = master_url(master)
    settings = dict(COMMON_DEFAULTS)
    if url.startswith("local"):
        settings.update(LOCAL_DEFAULTS)
    if properties is not None:
        settings.update(read_properties(properties))
    settings.update(conf or {})
    _check_reachable(url, timeout)
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    if url.startswith("sc://"):
        try:
            import grpc  # noqa: F401
        except ImportError:
            raise SparkError("Spark Connect（sc://）需要 pyspark[connect] 的依赖（grpcio 等），"
                             "本环境未安装；请改用 spark:// 或 yarn 等主节点") from None
        builder = builder.remote(url)
        # Connect sessions take only SQL settings
        settings = {k: v for k, v in settings.items() if k.startswith("spark.sql.")}
    else:
        builder = builder.master(url)
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    if not url.startswith("sc://"):
        spark.sparkContext.setLogLevel("ERROR")
    return spark


# ---------------------------------------------------------------------------- file system

def _is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter


def _local_path(uri: str) -> Path:
    return Path(urlparse(uri).path if uri.startswith("file:") else uri)


class _FS:
    """Rename and delete through the cluster's Hadoop file system (hdfs://, s3a://, …);
    local paths through the operating system (also when the driver is a Connect client)."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def _hadoop(self, uri: str) -> tuple[Any, Any]:
        jvm = getattr(self.spark, "_jvm", None)
        if jvm is None:
            raise SparkError(f"{uri}：Spark Connect 会话无法在集群文件系统上改名；"
                             "请使用本地路径或 spark:// 主节点")
        p = jvm.org.apache.hadoop.fs.Path(uri)
        return p.getFileSystem(self.spark._jsc.hadoopConfiguration()), p

    def exists(self, uri: str) -> bool:
        if _is_local(uri):
            return _local_path(uri).exists()
        fs, p = self._hadoop(uri)
        return bool(fs.exists(p))

    def delete(self, uri: str) -> None:
        if _is_local(uri):
            import shutil

            path = _local_path(uri)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
            return
        fs, p = self._hadoop(uri)
        fs.delete(p, True)

    def rename(self, src: str, dst: str) -> None:
        if _is_local(src):
            os.replace(_local_path(src), _local_path(dst))
            return
        fs, p = self._hadoop(src)
        if not fs.rename(p, self.spark._jvm.org.apache.hadoop.fs.Path(dst)):
            raise SparkError(f"无法把临时输出 {src} 改名为 {dst}")


def _temp_beside(out: str) -> str:
    stripped = out.rstrip("/")
    head, _, name = stripped.rpartition("/")
    tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    return f"{head}/{tmp}" if head else tmp


# ---------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class Totals:
    rows: int
    eligible: int
    amount_fen: int


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _source(program_needed: set[str], fields: Mapping[str, str]) -> tuple[str, list[str]]:
    """The registry-view SELECT over the ``rules_input`` view and the row checks (SQL true
    where the row is refused, with the column and the Chinese reason)."""
    select = []
    checks: list[tuple[str, str, str]] = [
        ("person_id", "NULLIF(`person_id`, '') IS NULL", "缺少必填值")]
    for name, col in COLUMNS.items():
        if name == "person_id":
            continue
        kind = {"str": "STRING", "date": "DATE", "int": "BIGINT", "bool": "BOOLEAN"}[col.type]
        if name not in fields:
            select.append(f"CAST(NULL AS {kind}) AS `{name}`")
            continue
        ref = f"NULLIF(`{name}`, '')" if col.type == "str" else f"CAST(`{name}` AS {kind})"
        select.append(f"{ref} AS `{name}`")
        if name not in program_needed and not col.always_required:
            continue
        if col.always_required:
            checks.append((name, f"{ref} IS NULL", "缺少必填值"))
        if col.digits is not None:
            checks.append((name, f"(LENGTH({ref}) <> {col.digits} OR "
                                 f"NOT {ref} RLIKE '^[0-9]*$')",
                           f"不是 {col.digits} 位数字代码"))
        if col.choices is not None:
            items = ", ".join(sql_literal(c, "spark") for c in col.choices)
            checks.append((name, f"{ref} NOT IN ({items})",
                           "不是以下取值之一：" + "、".join(col.choices)))
    arms = " ".join(f"WHEN {cond} THEN raise_error('{_REFUSED}')" for _, cond, _ in checks)
    pid = f"CASE {arms} ELSE NULLIF(`person_id`, '') END"
    sql = f"(SELECT {pid} AS `person_id`, {', '.join(select)} FROM rules_input) src"
    return sql, [f"{c}\x00{cond}\x00{msg}" for c, cond, msg in checks]


def _refused_row(spark: Any, src: str, checks: list[str]) -> SparkError:
    parts = [c.split("\x00") for c in checks]
    arms = " ".join(f"WHEN {cond} THEN {k}" for k, (_, cond, _) in enumerate(parts))
    row = spark.sql(f"SELECT person_id, CASE {arms} END AS k FROM rules_input "
                    f"WHERE CASE {arms} END IS NOT NULL LIMIT 1").collect()
    if not row:
        return SparkError(f"{src}：输入数据有不合规的行")
    col, _, msg = parts[int(row[0]["k"])]
    return SparkError(f"{src}：person_id {row[0]['person_id']!r} 的列 {col} {msg}")


def evaluate(spark: Any, program: Program, year: int, src: str, out: str,
             needed: set[str], required: list[str]) -> Totals:
    """Read ``src`` (Parquet, a path or URI the cluster resolves), evaluate ``program`` and
    write ``out`` (a Parquet directory) with the columns of the DuckDB engine's output;
    returns the totals, computed by aggregation on the cluster."""
    fs = _FS(spark)
    try:
        df = spark.read.parquet(src)
    except Exception as exc:
        raise SparkError(f"{src}：集群无法读取该输入（{_short(exc)}）") from None
    fields = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for name in required:
        if name not in fields:
            raise SparkError(f"{src}：输入缺少必需的列 {name}")
    for name, kind in fields.items():
        col = COLUMNS.get(name)
        if col is None:
            continue
        allowed = SPARK_TYPES[col.type]
        if kind not in (allowed if isinstance(allowed, tuple) else (allowed,)):
            raise SparkError(f"{src}：列 {name} 的类型是 {kind}，应为 "
                             f"{allowed if isinstance(allowed, str) else allowed[0]}")
    df.createOrReplaceTempView("rules_input")
    source, checks = _source(needed, fields)
    q = compile_program(program, year, "spark", source, not_null=REQUIRED_COLUMNS)
    result = spark.sql(
        f"SELECT person_id, eligible = 1 AS eligible, CAST(months AS BIGINT) AS months, "
        f"CAST(CAST(amount_fen AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2)) AS amount_yuan, "
        f"reasons, rule_version FROM ({q}) r")
    if fs.exists(out):
        raise SparkError(f"{out}：输出位置已存在，请先移走或换一个位置")
    tmp = _temp_beside(out)
    try:
        try:
            result.write.mode("errorifexists").parquet(tmp)
        except Exception as exc:
            if _REFUSED in str(exc):
                raise _refused_row(spark, src, checks) from None
            raise SparkError(f"Spark 作业失败，未写出任何结果（{_short(exc)}）") from None
        agg = spark.read.parquet(tmp).selectExpr(
            "count(*) AS n", "count_if(eligible) AS e",
            "CAST(coalesce(sum(amount_yuan), 0) * 100 AS BIGINT) AS fen").collect()[0]
        fs.rename(tmp, out)
    finally:
        if fs.exists(tmp):
            fs.delete(tmp)
    return Totals(int(agg["n"]), int(agg["e"]), int(agg["fen"]))


def evaluate_uri(program: Program, year: int, src: str, out: str, *,
                 master: str | None = None, conf: Mapping[str, str] | None = None,
                 properties: Path | None = None, spark: Any = None) -> Totals:
    """``huimin rules eval --engine spark``: a session from the configuration (unless one
    is given), the run, and the session stopped again."""
    from huimin.rules.engines import program_columns
    from huimin.rules.io import required_columns

    if not out.rstrip("/").lower().endswith((".parquet", ".pq")) and "." in out.rsplit("/", 1)[-1]:
        raise SparkError(f"{out}：Spark 引擎只写 Parquet（输出目录名以 .parquet 结尾或不带扩展名）")
    own = spark is None
    if own:
        try:
            spark = session(master, conf, properties)
        except SparkError:
            raise
        except Exception as exc:
            raise SparkError(f"无法启动 Spark 会话（主节点 {master_url(master)}）："
                             f"{_short(exc)}") from None
    try:
        needed = program_columns(program)
        return evaluate(spark, program, year, src, out, needed, required_columns(needed))
    finally:
        if own:
            spark.stop()
