"""Browser tests run against a live server, so their transactions really commit and the
database is flushed after each one: put the county's areas and the seeded programs back
before each test, whatever ran before it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _reference_data(transactional_db: Any) -> None:
    from tests.web.cases_helpers import restore_reference_data

    restore_reference_data()
