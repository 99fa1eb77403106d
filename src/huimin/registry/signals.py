"""Signals of the register.

``person_changed`` is sent inside the transaction of every applied register change, with
keyword arguments:

- ``person``: the Person changed;
- ``kind``: one of "death", "move", "identity", "household", "account";
- ``actor``: the user who applied it;
- ``effective_on``: the date the change takes effect (a death date, a move date) or None;
- ``via``: how it came ("change_request", "feed", "import" …);
- ``data``: old and new values, ``{"old": {...}, "new": {...}}`` (masked where personal).

A receiver that raises rolls the change back with it.
"""

from __future__ import annotations

import django.dispatch

person_changed = django.dispatch.Signal()

KINDS = ("death", "move", "identity", "household", "account")
