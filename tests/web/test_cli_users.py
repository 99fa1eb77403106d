"""Every ``huimin`` sub-command acts only as an existing, active user: a deactivated account
can no more act from the command line than log in (exit 2, nothing done)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from huimin.accounts import actions as account_actions
from huimin.audit.models import AuditEvent
from huimin.cli import app
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

COMMANDS = [
    ("finance", ["payments", "recoveries", "--json"]),
    ("county", ["feeds", "effects", "--json"]),
    ("cadre_a", ["registry", "changes", "list", "--json"]),
]


@pytest.mark.parametrize(("username", "argv"), COMMANDS)
def test_a_deactivated_user_cannot_act_from_the_command_line(
        personas: Personas, username: str, argv: list[str]) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, [*argv, "--user", username])
    assert ok.exit_code == 0, ok.output
    user = getattr(personas, username)
    account_actions.update_user(personas.admin, user, is_active=False)
    before = AuditEvent.objects.count()
    refused = runner.invoke(app, [*argv, "--user", username])
    assert refused.exit_code == 2
    assert "不存在或已停用" in refused.output
    assert AuditEvent.objects.count() == before  # not even a read was logged for it
    unknown = runner.invoke(app, [*argv, "--user", "nobody_here"])
    assert unknown.exit_code == 2 and "不存在或已停用" in unknown.output
