"""Normalising names and money text; pure functions shared by services and import."""

from __future__ import annotations

import decimal
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def name_key(name: str) -> str:
    """A matching key: case-folded, accents kept, spaces and punctuation dropped.

    "ACME Corp." and "acme corp" share a key; so do "GTXPro" and "GTX Pro".
    A name made only of punctuation keeps its case-folded, space-collapsed form.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    key = _NON_WORD.sub("", folded)
    return key or _SPACES.sub(" ", folded).strip()


def parse_money(value: object, *, field: str = "amount") -> int:
    """Text or number in major units → integer minor units (cents), exactly.

    Accepts "1,234.50", "$1 234", "€99", "-0" (→ 0). Rejects negatives,
    NaN, infinities, anything with more than two decimals, and exponents that
    would overflow ("1e999999999") or silently round to 0 ("1e-999999999").
    """
    from crm_tui.errors import ValidationError

    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be a number ≥ 0, got {value!r}", field=field)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "...'"
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.Inexact] = ctx.traps[decimal.Overflow] = ctx.traps[decimal.Underflow] = True
        try:
            return _to_cents(value, field, shown)
        except decimal.Overflow:
            raise ValidationError(f"{field} is too large: {shown}", field=field) from None
        except decimal.DecimalException:
            raise ValidationError(
                f"{field} must be a number ≥ 0 with at most two decimals, got {shown}", field=field
            ) from None


def _to_cents(value: object, field: str, shown: str) -> int:
    from crm_tui.errors import ValidationError

    if isinstance(value, int):
        dec = Decimal(value)
    else:
        text = str(value).strip()
        cleaned = re.sub(r"[\s,$€£¥]|USD|EUR|GBP", "", text, flags=re.IGNORECASE)
        try:
            dec = Decimal(cleaned)
        except InvalidOperation:
            raise ValidationError(f"{field} must be a number ≥ 0, got {shown}", field=field) from None
    if not dec.is_finite():
        raise ValidationError(f"{field} must be a finite number ≥ 0, got {shown}", field=field)
    if dec < 0:
        raise ValidationError(f"{field} must be a number ≥ 0, got {shown}", field=field)
    if dec.adjusted() > 15:
        raise ValidationError(f"{field} is too large: {shown}", field=field)
    cents = dec * 100
    if cents != cents.to_integral_value():
        raise ValidationError(f"{field} has more than two decimals: {shown}", field=field)
    if cents > 10**15:
        raise ValidationError(f"{field} is too large: {shown}", field=field)
    return int(cents)


#: money in cents: whole (``int``), or exact with a fraction of a cent (``Decimal``) for a figure
#: that is fractional by definition (a weighted value, an average, a velocity)
Cents: TypeAlias = int | Decimal


def whole_cents(cents: Cents) -> int:
    """Cents rounded once to whole cents, half up (away from zero): Decimal('0.5') → 1."""
    if isinstance(cents, Decimal):
        return int(cents.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
    return int(cents)


def money_text(cents: Cents, currency: str = "") -> str:
    """Cents → '1,234.50' (with the currency code in front when given); a fraction of a cent
    rounds half up."""
    whole = whole_cents(cents)
    sign = "-" if whole < 0 else ""
    units, frac = divmod(abs(whole), 100)
    body = f"{sign}{units:,}.{frac:02d}"
    return f"{currency} {body}" if currency else body


def money_whole(cents: Cents) -> str:
    """Cents → whole major units, rounded once, half up, with separators: 1234550 → '12,346'."""
    if isinstance(cents, Decimal):
        units = int((abs(cents) / 100).quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
    else:
        units = (abs(int(cents)) + 50) // 100
    sign = "-" if cents < 0 and units else ""
    return f"{sign}{units:,}"


def money_compact(cents: Cents, *, places: int = 2, smallest: int = 10**3) -> str:
    """Cents → '22.19M', '15.09k': ``places`` decimals (rounded once, half up) of the smallest
    unit — k, M or B, none below ``smallest`` — that keeps the figure under 1,000 (999,999.50 in M
    with one place is '1.0M'). Under 1,000 major units: ``money_text``. Exact: no binary float."""
    if abs(whole_cents(cents)) < 100_000:
        return money_text(cents)
    major = Decimal(cents) / 100
    step = Decimal(1).scaleb(-places)
    units = [(size, suffix) for size, suffix in ((10**3, "k"), (10**6, "M"), (10**9, "B")) if size >= smallest]
    for size, suffix in units:
        shown = (major / size).quantize(step, rounding=decimal.ROUND_HALF_UP)
        if abs(shown) < 1000 or suffix == units[-1][1]:
            return f"{shown:,}{suffix}"
    return money_text(cents)


def cents_to_major(cents: int | None) -> float | int:
    """Cents → a JSON number in major units (int when whole)."""
    if cents is None:
        return 0
    cents = int(cents)
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


def how_many(n: int, one: str, many: str | None = None) -> str:
    """ "1 open deal", "2 open deals": ``n`` with the word for that many (``many``: one + "s")."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
