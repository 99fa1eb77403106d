"""What every ``huimin`` sub-command needs before it acts: Django set up, and the user it acts
as — an existing, active account (a deactivated one can no more act from the command line
than log in). Exit code 2 for a user who cannot act, as each command documents."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import typer
from rich.console import Console

err = Console(stderr=True)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()


def active_user(username: str) -> Any:
    """The active user of that name, or exit 2 with the reason on stderr."""
    setup_django()
    from huimin.accounts.models import User

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        err.print(f"用户 {username} 不存在或已停用")
        raise typer.Exit(2)
    return user


def refused(exc: Any) -> NoReturn:
    """An action refused (``huimin.errors.ActionError``): its message on stderr, exit 1."""
    err.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(1)
