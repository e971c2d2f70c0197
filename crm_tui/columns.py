"""Model attributes as typed SQL columns, for queries that strict mypy checks.

SQLModel types a table's attributes as the Python values of a row (``Deal.deleted_at:
datetime | None``), so ``Deal.deleted_at.is_(None)`` or ``select(Deal.id)`` does not type-check.
``col(Deal.deleted_at)`` is SQLModel's own answer: the very same attribute (no other SQL), typed
as a column (``Mapped[datetime | None]``). ``pk(Deal.id)`` is ``col`` for an auto-increment
primary key, typed ``Mapped[int]``: its ``None`` only means an object not saved yet, never a row
read from the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from sqlmodel import col

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapped

__all__ = ["col", "pk"]


def pk(attr: int | None) -> Mapped[int]:
    """A table's integer primary key as a column that is never NULL in a row read."""
    return cast("Mapped[int]", col(attr))
