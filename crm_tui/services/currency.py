"""The home currency and exchange rates: set, remove, import a file of them, change the home.

A rate says what one unit of a currency is worth in the home currency (EUR 1.08 with USD at
home: one euro is 1.08 dollars). Each call is one journaled transaction; bad input raises a
``ValidationError`` before anything is written. ``read_rates_csv`` reads a file of rates
(columns currency, rate and optionally as_of, under the usual header names) and lists every bad
row, so an import writes all of its rows or none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, localcontext

from sqlmodel import Session, select

from crm_tui import models
from crm_tui.errors import ValidationError
from crm_tui.money import DEFAULT_HOME, HOME_KEY, currency_code, parse_rate
from crm_tui.services.base import ServiceBase

#: the journal kind of a home-currency change: the home itself is a database fact (crm_meta, not
#: journaled), so undo refuses it rather than put the rates back under the wrong home
HOME_CHANGE = "home currency"
#: a re-expressed rate keeps this many significant digits
RATE_DIGITS = 12
#: the header names a file of rates may use for each column (compared case- and space-blind)
RATE_HEADERS = {
    "currency": ("currency", "code", "currency_code", "currencycode", "iso", "iso_code", "ccy", "symbol"),
    "rate": ("rate", "exchange_rate", "exchangerate", "value", "fx_rate", "conversion_rate", "price"),
    "as_of": ("as_of", "asof", "date", "rate_date", "as_of_date", "effective_date", "day"),
}


@dataclass(frozen=True)
class RateRow:
    currency: str
    rate: Decimal
    as_of: dt.date | None = None


@dataclass(frozen=True)
class RateBook:
    """What the Currencies screen and ``crm-tui rates list`` show."""

    home: str
    rates: tuple[RateRow, ...]


def _rate_text(rate: Decimal) -> str:
    """A rate as stored: plain digits, no exponent, no trailing zeros ("1.08", "0.0067")."""
    text = format(rate.normalize(), "f")
    return text


def check_code(value: object, field: str = "currency") -> str:
    code = currency_code(value)
    if code is None:
        raise ValidationError(f"a currency is a 3-letter code such as EUR or GBP, not {str(value)!r}", field=field)
    return code


def check_rate(value: object, code: str) -> Decimal:
    rate = parse_rate(value)
    if rate is None:
        raise ValidationError(
            f"the rate of {code} must be a positive number (home-currency units per one {code}), not {str(value)!r}",
            field="rate",
        )
    return rate


def check_as_of(value: object) -> dt.date | None:
    from crm_tui import validate as v

    if value is None or str(value).strip() == "":
        return None
    return v.date(value, "as_of")


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_").lstrip("\ufeff")


def read_rates_csv(text: str) -> tuple[list[RateRow], list[str]]:
    """The rows of a CSV of rates and one message per bad row (a row number as a spreadsheet
    counts them: the header is row 1)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ValidationError("the file of rates is empty; it needs a header row: currency,rate[,as_of]")
    where: dict[str, int] = {}
    for i, name in enumerate(header):
        for key, names in RATE_HEADERS.items():
            if _norm(name) in names and key not in where:
                where[key] = i
    if "currency" not in where or "rate" not in where:
        raise ValidationError(
            f"the file of rates needs a currency and a rate column (found {', '.join(header)}); "
            "name them currency,rate[,as_of]"
        )
    rows: list[RateRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(key: str, cells: list[str] = cells) -> str:
            i = where.get(key)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        try:
            code = check_code(cell("currency"))
            rate = check_rate(cell("rate"), code)
            as_of = check_as_of(cell("as_of"))
        except ValidationError as error:
            errors.append(f"row {number}: {error.message}")
            continue
        if code in seen:
            errors.append(f"row {number}: {code} is already on row {seen[code]}; keep one rate per currency")
            continue
        seen[code] = number
        rows.append(RateRow(code, rate, as_of))
    return rows, errors


class CurrencyOps(ServiceBase):
    def rate_book(self) -> RateBook:
        with self.db.read() as session:
            home = self._home(session)
            rows = session.exec(select(models.CurrencyRate).order_by(models.CurrencyRate.currency)).all()
            return RateBook(
                home,
                tuple(RateRow(r.currency, parse_rate(r.rate) or Decimal(0), r.as_of) for r in rows),
            )

    @staticmethod
    def _home(session: Session) -> str:
        value = session.get(models.Meta, HOME_KEY)
        return (value.value if value is not None else DEFAULT_HOME).upper()

    def _put(self, session: Session, home: str, row: RateRow) -> None:
        if row.currency == home:
            raise ValidationError(
                f"{home} is the home currency (always 1); to make another currency the home one use "
                f"`crm-tui rates home CODE`",
                field="currency",
            )
        found = session.exec(select(models.CurrencyRate).where(models.CurrencyRate.currency == row.currency)).first()
        if found is None:
            found = models.CurrencyRate(currency=row.currency, rate=_rate_text(row.rate))
            session.add(found)
        found.rate = _rate_text(row.rate)
        found.as_of = row.as_of
        found.updated_at = self.now()

    def set_rate(self, currency: object, rate: object, *, as_of: object = None) -> RateRow:
        """One unit of ``currency`` is worth ``rate`` home-currency units (added or replaced)."""
        code = check_code(currency)
        row = RateRow(code, check_rate(rate, code), check_as_of(as_of))
        with self._write({"currency_rate"}, "edit", f"rate {code} {_rate_text(row.rate)}") as session:
            self._put(session, self._home(session), row)
        return row

    def remove_rate(self, currency: object) -> None:
        code = check_code(currency)
        with self._write({"currency_rate"}, "delete", f"remove rate {code}") as session:
            found = session.exec(select(models.CurrencyRate).where(models.CurrencyRate.currency == code)).first()
            if found is None:
                raise ValidationError(f"there is no rate for {code} to remove", field="currency")
            session.delete(found)

    def import_rates(self, rows: list[RateRow]) -> int:
        """Every row's rate added or replaced, in one transaction (all or none)."""
        if not rows:
            raise ValidationError("the file of rates has no rows")
        with self._write({"currency_rate"}, "import", f"import {len(rows)} rates") as session:
            home = self._home(session)
            for row in rows:
                self._put(session, home, row)
        return len(rows)

    def set_home(self, currency: object) -> str:
        """Make ``currency`` the home currency: every stored rate is re-expressed relative to it
        (which needs its rate in the old home currency; refused, naming it, without one)."""
        code = check_code(currency)
        with self._write({"currency_rate", "crm_meta"}, HOME_CHANGE, f"home currency {code}") as session:
            old = self._home(session)
            if code == old:
                return code
            rows = list(session.exec(select(models.CurrencyRate)).all())
            by_code = {r.currency: r for r in rows}
            new_row = by_code.get(code)
            new_rate = parse_rate(new_row.rate) if new_row is not None else None
            if new_row is None or new_rate is None:
                raise ValidationError(
                    f"{code} has no rate yet: set what one {code} is worth in {old} first "
                    f"(`crm-tui rates set {code} RATE`), then make it the home currency",
                    field="currency",
                )
            with localcontext() as ctx:
                ctx.prec = RATE_DIGITS
                for r in rows:
                    if r is new_row:
                        continue
                    rate = parse_rate(r.rate)
                    if rate is not None:
                        r.rate = _rate_text(rate / new_rate)
                        r.updated_at = self.now()
                inverse = Decimal(1) / new_rate
            new_row.currency, new_row.rate, new_row.as_of = old, _rate_text(inverse), new_row.as_of
            new_row.updated_at = self.now()
            meta = session.get(models.Meta, HOME_KEY)
            if meta is None:
                session.add(models.Meta(key=HOME_KEY, value=code))
            else:
                meta.value = code
        return code
