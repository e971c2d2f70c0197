"""Field validators: each turns user input into a stored value or raises
``ValidationError`` naming the field, what was wrong and what is accepted."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from crm_tui import dates
from crm_tui.errors import ValidationError
from crm_tui.textnorm import parse_money

MAX_NAME = 200
MAX_TEXT = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # not Unicode text (e.g. undecodable bytes); cannot be stored
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UTC = dt.UTC


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def text(value: object, field: str, *, required: bool = False, max_len: int = MAX_NAME, multiline: bool = False) -> str:
    """A string as typed (surrounding blanks trimmed); control characters refused."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{field} is required; type a {field}", field=field)
    bad = (_CONTROL if multiline else _CONTROL_LINE).search(value)
    if bad:
        raise ValidationError(
            f"{field} contains a control character (U+{ord(bad.group()):04X}); remove it", field=field
        )
    bad = _SURROGATE.search(value)
    if bad:
        raise ValidationError(
            f"{field} contains an invalid character (U+{ord(bad.group()):04X}, not valid Unicode); retype it",
            field=field,
        )
    if len(value) > max_len:
        raise ValidationError(f"{field} is too long ({len(value):,} characters; at most {max_len:,})", field=field)
    return value


def choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    v = ("" if value is None else str(value)).strip().lower()
    if v not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)}; got {_show(value)}", field=field)
    return v


def email(value: object, field: str = "email") -> str:
    v = text(value, field)
    if v and not _EMAIL.match(v):
        raise ValidationError(f"{field} must look like name@example.com, got {_show(v)}", field=field)
    return v


def money(value: object, field: str = "amount") -> int:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{field} must be a finite number ≥ 0, got {value!r}", field=field)
        value = repr(value)
    return parse_money(value, field=field)


def percent(value: object, field: str = "probability", *, optional: bool = True) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ValidationError(f"{field} is required (0–100)", field=field)
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise ValidationError(
            f"{field} must be a whole number from 0 to 100, got {_show(value)}", field=field
        ) from None
    if not math.isfinite(number) or number != int(number) or not 0 <= number <= 100:
        raise ValidationError(f"{field} must be a whole number from 0 to 100, got {_show(value)}", field=field)
    return int(number)


def positive_int(value: object, field: str, *, minimum: int = 1, maximum: int = 10**9) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be a whole number ≥ {minimum}, got {_show(value)}", field=field) from None
    if not minimum <= number <= maximum:
        raise ValidationError(f"{field} must be between {minimum} and {maximum:,}, got {number}", field=field)
    return number


def date(value: object, field: str) -> dt.date | None:
    """A calendar date from a date, a datetime or ISO text (YYYY-MM-DD)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field} must be a real date as YYYY-MM-DD, got {_show(value)}", field=field) from None


def timestamp(value: object, field: str) -> dt.datetime | None:
    """A UTC datetime from an aware datetime, a date (midnight UTC) or ISO text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(
                f"{field} must be a date (YYYY-MM-DD) or date and time (YYYY-MM-DD HH:MM), got {_show(value)}",
                field=field,
            ) from None
    try:
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()  # naive means the user's local time
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 9999-12-31 23:59-05:00 is past year 9999 in UTC
        raise ValidationError(
            f"{field} is out of range, got {_show(value)}; use a date between 0001-01-02 and 9999-12-30",
            field=field,
        ) from None


def natural_date(value: object, field: str, *, today: dt.date) -> dt.date | None:
    """A calendar date as a rep types it (``fri``, ``+2w``, ``next week``, ISO); None when blank."""
    if value is None or isinstance(value, dt.date):
        return date(value, field)
    try:
        return dates.parse_day(str(value), today)
    except dates.DateParseError as exc:
        raise ValidationError(f"{field}: {_show(value)} is {exc}", field=field) from None


def natural_moment(
    value: object, field: str, *, now: dt.datetime, default_time: dt.time, tz: dt.tzinfo | None = None
) -> dt.datetime | None:
    """A moment as a rep types it → aware UTC; a date alone means ``default_time`` local; None when blank."""
    if value is None or isinstance(value, dt.date):
        return timestamp(value, field)
    try:
        return dates.parse_moment(str(value), now=now, default_time=default_time, tz=tz)
    except dates.DateParseError as exc:
        raise ValidationError(f"{field}: {_show(value)} is {exc}", field=field) from None


#: task priorities by name; stored as their index (0–3)
PRIORITIES = ("low", "normal", "high", "urgent")


def priority(value: object, field: str = "priority") -> int:
    """'high' → 2; also accepts 0–3; blank means normal."""
    t = ("" if value is None else str(value)).strip().lower() or "normal"
    if t in PRIORITIES:
        return PRIORITIES.index(t)
    if t in ("0", "1", "2", "3"):
        return int(t)
    raise ValidationError(f"{field} must be one of {', '.join(PRIORITIES)}, got {_show(value)}", field=field)


#: a field's check: what was typed → the value to store; raises ValidationError
Check = Callable[[Any], object]


def check_all(values: Mapping[str, object], checks: Mapping[str, Check]) -> tuple[dict[str, object], dict[str, str]]:
    """Run every field's check, not only up to the first failure.

    Returns ``(cleaned, errors)``: the checked value of each field that passed, and
    the message of each that failed, keyed by the names in ``checks``. The same
    validators as the services', so the messages match theirs.
    """
    cleaned: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        try:
            cleaned[name] = check(values.get(name))
        except ValidationError as exc:
            errors[name] = exc.message
    return cleaned, errors
