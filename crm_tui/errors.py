"""The errors a user can cause and act on.

Every message names what is wrong and how to fix it; the CLI prints it as one
line and the TUI shows it beside the field or as a notification.
"""

from __future__ import annotations

from collections.abc import Mapping


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


class ValidationErrors(ValidationError):
    """Several fields were rejected at once; nothing was changed.

    ``errors`` maps each field to its message, in the order the fields were
    checked, so a form can show every one beside its field. ``field`` and
    ``message`` name the first, for callers that show only one.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        if not errors:
            raise ValueError("ValidationErrors needs at least one field's message")
        self.errors = dict(errors)
        first = next(iter(self.errors))
        super().__init__("; ".join(self.errors.values()), field=first)


class NotFoundError(CrmError):
    """The record named does not exist (or was deleted)."""


class ConflictError(CrmError):
    """The record changed in another session since it was loaded."""

    def __init__(self, message: str, *, current: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.current = current or {}


class DatabaseError(CrmError):
    """The database cannot be opened or used (path, URL, lock, version)."""
