"""The errors a user can cause and act on.

Every message names what is wrong and how to fix it; the CLI prints it as one
line and the TUI shows it beside the field or as a notification.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error whose message is meant for the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ValidationError(CrmError):
    """Input was rejected; nothing was changed."""


class NotFoundError(CrmError):
    """The record named does not exist (or was deleted)."""


class ConflictError(CrmError):
    """The record changed in another session since it was loaded."""

    def __init__(self, message: str, *, current: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.current = current or {}


class DatabaseError(CrmError):
    """The database cannot be opened or used (path, URL, lock, version)."""
