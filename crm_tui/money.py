"""Currencies: the database's home currency, its exchange rates, and totals converted to it.

Every deal and order keeps the currency it was priced in. A figure that adds money up (a
stage's value, won this month, a customer's revenue, a goal) sums per currency in SQL and
converts each sum here, with ``Decimal`` rounding half to even once per currency: exact, and
the same on every engine. A currency with no rate is never counted as if it were the home
currency; the caller gets it back in ``Converted.missing`` and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlmodel import Session

HOME_KEY = "home_currency"  # crm_meta key
DEFAULT_HOME = "USD"


def parse_rate(text: object) -> Decimal | None:
    """A rate as stored or typed ("1.08", "0.8571"), or None when it is not a positive number."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


@dataclass(frozen=True)
class Converted:
    """A total in home-currency minor units, and the currencies left out for want of a rate."""

    cents: int
    missing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rates:
    """The home currency and what one unit of each other currency is worth in it."""

    home: str = DEFAULT_HOME
    per_unit: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal | None:
        code = (currency or self.home).upper()
        return Decimal(1) if code == self.home else self.per_unit.get(code)

    def to_home(self, cents: int, currency: str) -> int | None:
        """``cents`` of ``currency`` in home minor units, or None when it has no rate."""
        rate = self.rate(currency)
        if rate is None:
            return None
        return int((Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

    def convert(self, sums: Iterable[tuple[str, int]]) -> Converted:
        """Add up (currency, cents) sums in the home currency."""
        total = 0
        missing: set[str] = set()
        for currency, cents in sums:
            home = self.to_home(int(cents or 0), currency)
            if home is None:
                missing.add((currency or "").upper())
            else:
                total += home
        return Converted(total, frozenset(missing))


def load_rates(session: Session) -> Rates:
    """The home currency and every stored rate (two small reads)."""
    return load_rates_conn(session.connection())


def currency_code(text: object) -> str | None:
    """A currency code as typed ("eur", " GBP ") upper-cased, or None when it is not 3 letters."""
    code = str(text or "").strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


class Converter:
    """``Rates`` plus the currencies met without a rate, gathered while a report converts its
    per-currency sums (one report, one converter: ``missing`` is what it left out)."""

    def __init__(self, rates: Rates) -> None:
        self.rates = rates
        self.missing: set[str] = set()

    @property
    def home(self) -> str:
        return self.rates.home

    def cents(self, cents: int, currency: str) -> int:
        """``cents`` of ``currency`` in home minor units; 0 (and named missing) without a rate."""
        home = self.rates.to_home(int(cents or 0), currency)
        if home is None:
            self.missing.add((currency or "").upper())
            return 0
        return home

    def known(self, currency: str) -> bool:
        """True when ``currency`` converts; else it is named missing."""
        if self.rates.rate(currency) is None:
            self.missing.add((currency or "").upper())
            return False
        return True

    def total(self, sums: Iterable[tuple[str, int]]) -> int:
        converted = self.rates.convert(sums)
        self.missing |= converted.missing
        return converted.cents


def missing_note(missing: Iterable[str], *, cli: bool = True) -> str:
    """The line that says which currencies a total left out and how to put them in ('' when none)."""
    codes = sorted({c for c in missing if c})
    if not codes:
        return ""
    how = f"crm-tui rates set {codes[0]} RATE" if cli else "add one under Currencies"
    return f"{', '.join(codes)} left out: no rate — set one with `{how}`"


def load_rates_conn(conn: Connection) -> Rates:
    """``load_rates`` on a connection (the metrics work on one)."""
    from sqlalchemy import select
    from sqlmodel import col

    from crm_tui import models

    home = conn.execute(select(col(models.Meta.value)).where(col(models.Meta.key) == HOME_KEY)).scalar()
    rows = conn.execute(select(col(models.CurrencyRate.currency), col(models.CurrencyRate.rate))).all()
    per_unit = {str(code).upper(): rate for code, text in rows if (rate := parse_rate(text)) is not None}
    return Rates(home=(home or DEFAULT_HOME).upper(), per_unit=per_unit)
