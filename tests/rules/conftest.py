"""Fixtures for the rules library tests (no Django database needed)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from huimin.rules import Catalog, Program, engines, io, load_programs

ENGINES = ("python", "sqlite", "duckdb", "postgres", "spark")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_programs()


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("HUIMIN_TEST_PG_URL")
    if not url:
        pytest.skip("HUIMIN_TEST_PG_URL is not set: no PostgreSQL to test against")
    return url


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the optional 'spark' extra is not installed")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (Debian: openjdk-17-jre-headless)")
    session = engines.spark_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


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
        if self.engine == "spark":
            kwargs["spark"] = self.request.getfixturevalue("spark")
        result = engines.run(self.engine, program, year, table, **kwargs)  # type: ignore[arg-type]
        return result.to_pylist()


@pytest.fixture(params=ENGINES)
def run(request: pytest.FixtureRequest) -> Runner:
    return Runner(str(request.param), request)
