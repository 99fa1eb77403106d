"""Errors raised by actions; views and the API turn them into messages and status codes."""

from __future__ import annotations

from dataclasses import dataclass


class ActionError(Exception):
    """A request that cannot be carried out; the message is for the user (Chinese)."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conflict(ActionError):
    """The object changed meanwhile (someone else acted first, or the state does not allow it)."""

    status = 409


class Forbidden(ActionError):
    status = 403


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"第 {self.row} 行「{self.column}」：{self.reason}"


class FileRejected(ActionError):
    """A whole file refused, with every row error listed; nothing was applied."""

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors
