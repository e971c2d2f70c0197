"""What every service shares: the database, the acting user, the clock, and
helpers to load a live record and to check it was not changed elsewhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlmodel import Session, SQLModel

from crm_tui import engines
from crm_tui import journal as jr
from crm_tui.errors import ConflictError, NotFoundError

T = TypeVar("T", bound=SQLModel)
UTC = dt.UTC


def _as_id(value) -> int | None:
    """A record id as the database can look it up, or None when no record can have it
    (text that is not a whole number, a float, a bool, beyond 64 bits)."""
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        return None
    return value


class ServiceBase:
    def __init__(self, db, user: str | None = None, clock: Callable[[], dt.datetime] | None = None) -> None:
        from crm_tui.config import acting_user

        self.db = db
        self.user = acting_user(db, user)
        self._clock = clock or (lambda: dt.datetime.now(UTC))

    def now(self) -> dt.datetime:
        return self._clock()

    @contextmanager
    def _write(
        self, tables: Iterable[str], kind: str, label: str = "", *, record: tuple[str, int] | None = None
    ) -> Iterator[Session]:
        """A write transaction journaled as this rep's action ``kind`` ("win", "snooze", ...);
        ``label`` says it in words and may be given later with ``_say`` once the record is read."""
        with self.db.write(tables) as session:
            jr.declare(session, jr.Action(kind, label, who=self.user, at=self.now(), record=record))
            yield session

    @staticmethod
    def _say(session: Session, label: str, *, record: tuple[str, int] | None = None) -> None:
        """What the action of this write session was, in the rep's words: "win 'Rollout'"."""
        action = jr.declared(session)
        if action is not None:
            action.label = label
            if record is not None:
                action.record = record

    @staticmethod
    def _label(model: type[SQLModel]) -> str:
        return model.__tablename__.replace("sales_", "").replace("_", " ")

    def _get(self, session: Session, model: type[T], record_id, *, live: bool = True) -> T:
        row = None
        key = _as_id(record_id)
        if key is not None:
            record_id = key
            conn = session.connection()
            if (
                hasattr(model, "version")
                and conn.get_execution_options().get("crm_write")
                and engines.lock_rows_for_write(conn.dialect)
            ):
                # Another session's edit of this record waits for ours, then sees our version.
                row = session.get(model, record_id, with_for_update=True)
                if row is None and getattr(self.db, "login", None):
                    self._refuse_theirs(session, model, record_id)
            else:
                row = session.get(model, record_id)
        if row is None or (live and getattr(row, "deleted_at", None) is not None):
            # a value that is no id at all is shown quoted, its control characters escaped: one line
            shown = f"#{record_id}" if key is not None else repr(str(record_id))[:40]
            raise NotFoundError(f"{self._label(model)} {shown} does not exist (it may have been deleted)")
        return row

    def _refuse_theirs(self, session: Session, model: type[T], record_id: int) -> None:
        """On a team's server a row locked for a change is hidden when it is another rep's (row
        security): say whose it is rather than that it does not exist."""
        from sqlalchemy import select

        from crm_tui.errors import DatabaseError

        row = session.execute(select(model).where(model.id == record_id)).scalar_one_or_none()  # type: ignore[attr-defined]
        if row is not None:
            owner = getattr(row, "owner", None) or getattr(row, "author", None) or "another rep"
            raise DatabaseError(
                f"not allowed: {self._label(model)} #{record_id} is {owner}'s; only {owner} or a manager can change it"
            )

    @staticmethod
    def _changed_fields(row: SQLModel, values: dict[str, object]) -> str:
        """The fields an edit changes, for its label: "amount, owner"."""
        names = [k.removesuffix("_cents").removesuffix("_id") for k, v in values.items() if getattr(row, k, v) != v]
        return ", ".join(n.replace("_", " ") for n in names) or "nothing changed"

    def _check_version(self, row, expected: int | None) -> None:
        """Refuse to overwrite a record another session changed since it was read."""
        if expected is not None and row.version != expected:
            current = row.model_dump()
            raise ConflictError(
                f"this {self._label(type(row))} was changed in another session since you opened it; "
                "review the current values and edit again",
                current=current,
            )

    def _touch(self, row) -> None:
        row.updated_at = self.now()
        if hasattr(row, "version"):
            row.version += 1

    def get(self, model: type[T], record_id) -> T:
        with self.db.read() as session:
            return self._get(session, model, record_id)
