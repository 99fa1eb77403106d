"""Errors raised by the rules library. Each names where the problem is and why."""

from __future__ import annotations


class RulesError(Exception):
    """Base class for every error of the rules library."""


class DocumentError(RulesError):
    """A program document is malformed: names the file, the line and the reason."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class ExpressionError(RulesError):
    """An expression is not in the restricted language (no location yet)."""


class InputError(RulesError):
    """An input registry file is unusable: names the file, the row/line and the reason."""

    def __init__(self, file: str, reason: str, *, row: int | None = None,
                 line: int | None = None, column: str | None = None) -> None:
        self.file = file
        self.row = row
        self.line = line
        self.column = column
        self.reason = reason
        parts = [file]
        if row is not None:
            parts.append(f"row {row}")
        if line is not None:
            parts.append(f"line {line}")
        if column is not None:
            parts.append(f"column {column}")
        super().__init__(": ".join(parts) + f": {reason}")


class ProgramNotFound(RulesError):
    """No program document with that id is in force for the area and date asked."""
