"""Register changes confirmed through change requests (变更登记) get their effects proposed
too; changes applied from a feed (``via="feed"``) had theirs proposed at ingest."""

from __future__ import annotations

from datetime import date
from typing import Any


def on_person_changed(sender: Any, *, person: Any, kind: str, via: str = "",
                      effective_on: date | None = None, data: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
    if via == "feed":
        return
    from huimin.verification import effects

    person.refresh_from_db()
    if kind == "death" and person.death_date is not None:
        effects.propose_death(person, person.death_date, origin="change_request")
    elif kind == "move" and effective_on is not None:
        to_code = person.moved_to_code if person.moved_out_on else person.area.code
        effects.propose_move(person, to_code, effective_on, origin="change_request",
                             applied=True)


def connect() -> None:
    try:
        from huimin.registry.signals import person_changed
    except ImportError:  # the register changes land with the registry's change requests
        return
    person_changed.connect(on_person_changed, dispatch_uid="verification.person_changed")
