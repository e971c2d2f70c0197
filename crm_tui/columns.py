"""Model attributes as typed SQL columns, for queries that strict mypy checks.

SQLModel types a table's attributes as the Python values of a row (``Deal.deleted_at:
datetime | None``), so ``Deal.deleted_at.is_(None)`` or ``select(Deal.id)`` does not type-check.
``col(Deal.deleted_at)`` is SQLModel's own answer: the very same attribute (no other SQL), typed
as a column (``Mapped[datetime | None]``). ``pk(Deal.id)`` is ``col`` for an auto-increment
primary key, typed ``Mapped[int]``: its ``None`` only means an object not saved yet, never a row
read from the database. ``bigint(col(Deal.amount_cents))`` is an integer column for a product
that may pass 32 bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

if TYPE_CHECKING:
    from sqlalchemy import SQLColumnExpression
    from sqlalchemy.orm import Mapped
    from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["bigint", "col", "pk"]


def pk(attr: int | None) -> Mapped[int]:
    """A table's integer primary key as a column that is never NULL in a row read."""
    return cast("Mapped[int]", col(attr))


class bigint(FunctionElement[int]):  # noqa: N801 (used like a SQL function: bigint(column) * other)
    """An integer expression as a 64-bit integer, for arithmetic that may pass 32 bits (amount ×
    probability, quantity × unit price). PostgreSQL keeps those columns in INTEGER, where the
    product fails with "integer out of range" past 2,147,483,647: ``CAST(… AS BIGINT)`` there.
    SQLite's integers are 64-bit already: the expression as it is (a cast costs its sums ~45%)."""

    type = BigInteger()
    name = "bigint"
    inherit_cache = True

    def __init__(self, expression: SQLColumnExpression[int]) -> None:
        super().__init__(expression)


@compiles(bigint)
def _bigint(element: bigint, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS BIGINT)"


@compiles(bigint, "sqlite")
def _bigint_sqlite(element: bigint, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"
