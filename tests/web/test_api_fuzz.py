"""Schemathesis against the OpenAPI document, in process (WSGI), with a logged-in session.

Every operation gets a bounded, derandomized run: random requests as a village cadre and a
county approver, and schemathesis' coverage cases (bounds, wrong types, missing fields) as the
county approver and the finance officer. No answer may be a server error, and every answer
must be documented: its status code, its content type and its body's schema. The suite's
second pass (bin/test) runs this on PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from huimin.api import api
from huimin.cases import actions as case_actions
from huimin.programs.models import Program
from tests.conftest import VILLAGE_A, Personas, make_family
from tests.web.test_api_hardening import released

CSRF = "k" * 32  # an unmasked CSRF secret: the cookie and the header carry the same value
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 8  # per operation and role; derandomized, so every run sends the same requests


@pytest.fixture(params=["cadre_a", "county"])
def login(request: Any, personas: Personas, settings: Any, tmp_path: Any) -> Any:
    yield from _login(personas, request.param, settings, tmp_path)


def _login(personas: Personas, role: str, settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    if role == "finance":  # a cycle and a released batch (ids from 1 on SQLite) to work on
        released(personas)
    program = Program.objects.get(code="childcare-subsidy")
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    case_actions.submit_application(personas.cadre_a, program=program, subject=fam.child,
                                    claim_year=2026, applicant=fam.mother,
                                    bank_account=fam.account)
    client = Client()
    client.force_login(getattr(personas, role))
    sid = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    cookies = {django_settings.SESSION_COOKIE_NAME: sid,
               django_settings.CSRF_COOKIE_NAME: CSRF}
    # as Django's test client does: requests run inside the test's transaction
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"cookies": cookies,
           "headers": {"X-CSRFToken": CSRF, "Referer": "http://localhost/"}}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# The document the app serves, loaded once at collection (pytest-django has set Django up);
# requests go to the WSGI application in process, on the test's database connection.
DOCUMENT = api.get_openapi_schema()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = get_wsgi_application()

# registry/api.py is outside this change: until its list takes ``huimin.api_params.Page``, a
# negative limit there is a known 500 (reported), so that one operation is left out here and
# ``test_persons_paging_is_bounded`` stands for it.
PERSONS_BOUNDED = any("minimum" in p["schema"]
                      for p in DOCUMENT["paths"]["/api/persons"]["get"]["parameters"]
                      if p["name"] == "limit")
if not PERSONS_BOUNDED:
    schema = schema.exclude(method="GET", path="/api/persons")


@pytest.mark.django_db
@schema.parametrize()
@hsettings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
           phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_fuzzed_has_no_server_errors_and_answers_as_documented(case: Any, login: Any
                                                                  ) -> None:
    """Random requests (the same ones every run), as a village cadre and a county approver."""
    case.call_and_validate(**login, checks=CHECKS)


@pytest.fixture(params=["county", "finance"])
def office_login(request: Any, personas: Personas, settings: Any, tmp_path: Any) -> Any:
    yield from _login(personas, request.param, settings, tmp_path)


@pytest.mark.django_db
@schema.parametrize()
@hsettings(derandomize=True, database=None, deadline=None, phases=[Phase.explicit],
           suppress_health_check=list(HealthCheck))
def test_api_boundaries_have_no_server_errors_and_answer_as_documented(
        case: Any, office_login: Any) -> None:
    """Schemathesis' coverage cases: each parameter at and beyond its bounds, wrong types,
    missing fields (deterministic), as the county approver and the finance officer, between
    whom every operation is reached past its role check."""
    case.call_and_validate(**office_login, checks=CHECKS)


@pytest.mark.xfail(not PERSONS_BOUNDED, strict=True,
                   reason="registry/api.py does not yet take huimin.api_params.Page")
@pytest.mark.parametrize("query", ["limit=-1", "offset=-1", f"offset={2**63}", "limit=0"])
def test_persons_paging_is_bounded(query: str, personas: Personas) -> None:
    client = Client()
    client.force_login(personas.county)
    resp = client.get(f"/api/persons?{query}")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] in ("limit", "offset")
