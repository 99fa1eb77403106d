"""Building register change requests as the office would: submitted by one user, confirmed
by another."""

from __future__ import annotations

from typing import Any

import pytest

from huimin.errors import Forbidden
from huimin.registry import changes
from huimin.registry.models import ChangeRequest, ChangeStatus

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CARD = "6228480012345678903"  # passes the Luhn check
CARD_2 = "6217001234567890122"
BAD_CARD = "6228480012345678901"  # fails it


def submit(actor: Any, kind: str, target: Any, values: dict[str, str], *,
           reason: str = "群众申请，经核对户口簿", evidence: bool = True) -> ChangeRequest:
    spec = changes.kind_of(kind)
    where = {"person": target} if spec.target == "person" else {"household": target}
    return changes.submit_change(actor, kind=kind, reason=reason, values=values,
                                 applicant="林建国",
                                 evidence=(PNG, "户口簿.png") if evidence else None, **where)


def assert_roles(personas: Any, req: ChangeRequest, *, wrong: list[Any],
                 outsiders: list[Any]) -> None:
    """Wrong roles and outsiders can neither confirm nor reject; nor can the submitter."""
    for actor in [*wrong, *outsiders, req.submitted_by]:
        with pytest.raises(Forbidden):
            changes.confirm_change(actor, req)
        with pytest.raises(Forbidden):
            changes.reject_change(actor, req, reason="不符")
    for actor in outsiders:
        assert not changes.changes_for(actor).filter(pk=req.pk).exists()
        assert not changes.pending_for(actor).filter(pk=req.pk).exists()
    req.refresh_from_db()
    assert req.status == ChangeStatus.SUBMITTED


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    """Evidence files go to the test's own directory (import this fixture into the module)."""
    settings.MEDIA_ROOT = tmp_path / "media"
