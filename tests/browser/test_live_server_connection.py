"""The live server serves each request on its own database connection, as production does."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from django.db import connection, transaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_live_server_does_not_share_the_test_threads_connection(live_server: Any) -> None:
    """With one connection shared, a request still running when a test ends runs its
    transaction inside the next test's set-up and leaves the connection broken."""
    assert connection.alias not in live_server.thread.connections_override
    # the test thread's open transaction does not block or break the server's requests
    with transaction.atomic():
        connection.cursor().execute("SELECT 1")
        with urllib.request.urlopen(f"{live_server.url}/login/", timeout=30) as resp:
            assert resp.status == 200
    assert not connection.needs_rollback and not connection.in_atomic_block
