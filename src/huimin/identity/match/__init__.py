"""Probabilistic identity matching (Django-free): Splink 5 on DuckDB over register rows.

``prepare`` checks and derives the comparison columns, ``model`` holds the versioned
Splink model, ``pairs`` scores candidate pairs, ``claims`` finds duplicate claims in a
provincial or national snapshot, ``damage`` builds the damaged test set.
"""

from __future__ import annotations


class MatchInputError(ValueError):
    """Input the matcher cannot use; ``reason`` says why, in Chinese, naming the column/row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
