"""Tiles of the home page: each domain says what waits for a user (``<app>/work.py``).

A tile counts exactly the rows of the list it links to (that list with the tile's query
parameters), so that a user who clicks it finds the work the count promised.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: the domains asked, in the order their tiles appear
DOMAINS = ("huimin.cases.work", "huimin.registry.work", "huimin.verification.work",
           "huimin.payments.work", "huimin.identity.work")


@dataclass(frozen=True)
class Tile:
    key: str  # stable, for tests and styling: "cases.county", "payments.to_export"...
    label: str  # what waits, in Chinese: "待县级确认"
    count: int | None  # rows of the linked list; None: a place to read, nothing to count
    url: str  # the list where the work is done, with its filter
    note: str = ""  # one line of detail: "其中 2 件公示中"
    tone: str = ""  # "", "warning" or "overdue"

    @property
    def busy(self) -> bool:
        return bool(self.count)


Pending = Callable[[Any], list[Tile]]


def _pending(module: str) -> Pending:
    found: Pending = importlib.import_module(module).pending
    return found


def collect(user: Any, domains: tuple[str, ...] = DOMAINS) -> list[Tile]:
    """Every domain's tiles for the user, domains in order."""
    tiles: list[Tile] = []
    for module in domains:
        tiles.extend(_pending(module)(user))
    return tiles
