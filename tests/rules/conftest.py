"""Fixtures for the rules library tests (no Django database needed)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from huimin.rules import Catalog, Program, engines, io, load_programs

ENGINES = ("python", "sqlite", "duckdb", "postgres", "spark", "spark-cluster")
SPARK_MODES = ("local", "cluster")
TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_programs()


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("HUIMIN_TEST_PG_URL")
    if not url:
        pytest.skip("HUIMIN_TEST_PG_URL is not set: no PostgreSQL to test against")
    return url


class SparkSessions:
    """One Spark session at a time (one SparkContext per JVM): the local one or one on the
    standalone cluster of ``tools/spark_cluster.py``, started on first use and stopped at the
    end of the test session. The cluster tests are ordered last, so it switches once."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.session: Any = None
        self.cluster: Any = None

    def get(self, mode: str) -> Any:
        if mode == self.mode:
            return self.session
        if self.session is not None:
            self.session.stop()
            self.session, self.mode = None, None
        if mode == "local":
            self.session = engines.spark_session("local[2]")
        else:
            if self.cluster is None:
                sys.path.insert(0, str(TOOLS))
                from spark_cluster import Cluster

                self.cluster = Cluster(workers=2, worker_memory="640m").start()
            self.session = engines.spark_session(self.cluster.url, {
                "spark.driver.host": "127.0.0.1", "spark.executor.memory": "512m",
                "spark.cores.max": "2"})
        self.mode = mode
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.stop()
        if self.cluster is not None:
            self.cluster.stop()


@pytest.fixture(scope="session")
def spark_sessions() -> Iterator[SparkSessions]:
    # Spark tests never skip: bin/bootstrap --test installs pyspark and openjdk-17-jre-headless
    if shutil.which("java") is None:
        pytest.fail("Spark needs a Java runtime (bin/bootstrap --test installs "
                    "openjdk-17-jre-headless)")
    sessions = SparkSessions()
    yield sessions
    sessions.close()


@pytest.fixture
def spark(spark_sessions: SparkSessions) -> Any:
    return spark_sessions.get("local")


@pytest.fixture
def spark_cluster(spark_sessions: SparkSessions) -> Any:
    return spark_sessions.get("cluster")


def _uses_cluster(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return "spark_cluster" in getattr(item, "fixturenames", ()) or any(
        p in ("spark-cluster", "cluster") for p in params)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests on the cluster after all others (a stable sort keeps their order)."""
    items.sort(key=_uses_cluster)


class Runner:
    """Evaluates subjects on one engine and returns plain result dicts."""

    def __init__(self, engine: str, request: pytest.FixtureRequest) -> None:
        self.engine = engine
        self.request = request

    def __call__(self, program: Program, year: int,
                 subjects: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
        if self.engine == "python":
            out = []
            for s in subjects:
                ev = program.evaluate(s, year)
                out.append({"person_id": ev.person_id, "eligible": ev.eligible,
                            "months": ev.months, "amount_fen": ev.amount_fen,
                            "reasons": ev.reasons, "rule_version": ev.rule_version})
            return out
        table = io.registry_table(subjects)
        kwargs: dict[str, Any] = {}
        if self.engine == "postgres":
            kwargs["database_url"] = self.request.getfixturevalue("pg_url")
        engine = self.engine
        if engine == "spark":
            kwargs["spark"] = self.request.getfixturevalue("spark")
        if engine == "spark-cluster":
            kwargs["spark"] = self.request.getfixturevalue("spark_cluster")
            engine = "spark"
        result = engines.run(engine, program, year, table, **kwargs)  # type: ignore[arg-type]
        return result.to_pylist()


@pytest.fixture(params=ENGINES)
def run(request: pytest.FixtureRequest) -> Runner:
    return Runner(str(request.param), request)
