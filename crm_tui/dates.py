"""Dates and times as a rep types them: ``today``, ``fri``, ``+3d``, ``next week``, ``2026-04-01 14:00``.

Pure functions with the clock passed in (``now``, an aware datetime), so every
answer can be tested at month and year ends and across daylight-saving changes.
What the rep types is local wall-clock time (the zone of this machine unless a
``tz`` is given); what comes back for a moment is UTC, as stored.

Accepted, in any case and with any spacing:

- ``today``, ``tomorrow`` (``tmr``, ``tmrw``);
- a weekday name or abbreviation (``friday``, ``fri``): the next one *after* today,
  so ``fri`` typed on a Friday means a week later;
- ``+3d``, ``+2w``, ``+1m`` (days, weeks, calendar months; a month from 31 January is the
  last day of February), and ``in 3 days`` / ``in 2 weeks`` / ``in 1 month``;
- ``next week``: Monday of next week;
- ISO: ``2026-04-01``, ``2026-04-01 14:00``, ``2026-04-01T14:00+02:00``.

A moment may add a time to any of those (``fri 14:00``, ``tomorrow at 3pm``); a date
alone takes the rep's default time (09:00 unless set). A local time that the clocks
skip (02:30 when they jump to 03:00) is moved forward by the jump; one that happens
twice (when the clocks go back) is the first of the two.

No textual import: the CLI and the services may use it too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

UTC = dt.UTC

#: what placeholders tell the rep (all forms are listed in this module's docstring)
DAY_HINT = "+2w, +1m, fri, next week or YYYY-MM-DD"
MOMENT_HINT = "tomorrow, fri 14:00, +3d, next week or YYYY-MM-DD HH:MM"
_NOT_A_DAY = "not a date; try tomorrow, fri, +3d, next week or 2026-04-01"
_NOT_A_MOMENT = "not a date; try tomorrow, fri 14:00, +3d, next week or 2026-04-01 14:00"
_OUT_OF_RANGE = "out of range"

#: the furthest a relative date may reach, so a typo such as ``+30000d`` is refused, not stored
MAX_DAYS = 3660

WEEKDAYS: dict[str, int] = {}
for _index, _name in enumerate(calendar.day_name):
    _lower = _name.lower()
    WEEKDAYS[_lower] = _index
    WEEKDAYS[_lower[:3]] = _index
WEEKDAYS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})

_UNIT_DAYS = {"d": 1, "day": 1, "days": 1, "w": 7, "week": 7, "weeks": 7}
_MONTHS = {"m": 1, "month": 1, "months": 1}
_RELATIVE = re.compile(r"^\+\s*(\d{1,5})\s*([dwm])$")
_IN = re.compile(r"^in\s+(\d{1,5})\s+(days?|weeks?|months?)$")
_TIME = re.compile(r"^(?:(?P<h24>\d{1,2}):(?P<m24>\d{2})|(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<ampm>am|pm))$")
_TAIL_TIME = re.compile(
    r"^(?P<day>.+?)\s+(?:at\s+)?(?P<time>\d{1,2}:\d{2}|\d{1,2}(?::\d{2})?\s*(?:am|pm))$",
)


class DateParseError(ValueError):
    """The text is not a date or moment this module understands.

    The message completes "'<what was typed>' is …" and says what is accepted.
    """


def _normal(text: str) -> str:
    return " ".join(text.strip().lower().split())


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by calendar months, kept within the target month (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise DateParseError(_OUT_OF_RANGE)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _ahead(today: dt.date, count: int, unit: str) -> dt.date:
    try:
        if unit in _MONTHS:
            target = add_months(today, count)
        else:
            target = today + dt.timedelta(days=count * _UNIT_DAYS[unit])
    except OverflowError:
        raise DateParseError(_OUT_OF_RANGE) from None
    if (target - today).days > MAX_DAYS:
        raise DateParseError(f"more than {MAX_DAYS // 366} years ahead; type the date itself")
    return target


def parse_day(text: str, today: dt.date) -> dt.date | None:
    """A calendar date from what the rep typed; None when blank.

    ``today`` is the rep's local date. Raises ``DateParseError`` naming what is accepted.
    """
    t = _normal(text)
    if not t:
        return None
    if t == "today":
        return today
    if t in ("tomorrow", "tmr", "tmrw"):
        return today + dt.timedelta(days=1)
    if t in WEEKDAYS:
        return today + dt.timedelta(days=(WEEKDAYS[t] - today.weekday() - 1) % 7 + 1)
    if t == "next week":
        return today + dt.timedelta(days=7 - today.weekday())
    match = _RELATIVE.match(t) or _IN.match(t)
    if match:
        return _ahead(today, int(match.group(1)), match.group(2))
    try:
        return dt.date.fromisoformat(t)
    except ValueError:
        pass
    raise DateParseError(_NOT_A_DAY)


def _clock_time(text: str) -> dt.time:
    match = _TIME.match(text)
    if match is None:
        raise DateParseError("not a time of day; use 14:00 or 2pm")
    if match.group("ampm"):
        hour, minute = int(match.group("h12")), int(match.group("m12") or 0)
        if not 1 <= hour <= 12:
            raise DateParseError("not a time of day; 12-hour times run from 1 to 12 (2pm)")
        hour = hour % 12 + (12 if match.group("ampm") == "pm" else 0)
    else:
        hour, minute = int(match.group("h24")), int(match.group("m24"))
    if hour > 23 or minute > 59:
        raise DateParseError("not a time of day; use 00:00 to 23:59")
    return dt.time(hour, minute)


def local_to_utc(wall: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """A naive local wall-clock time → aware UTC.

    ``tz`` None means this machine's zone. A time the clocks skip moves forward
    by the jump; a time that happens twice is the first of the two.
    """
    if tz is not None:
        # zoneinfo follows PEP 495: fold=0 is the first of a repeated time and, in a gap, uses the offset
        # from before the jump, which lands after it
        return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    first = wall.replace(fold=0).astimezone(UTC)
    second = wall.replace(fold=1).astimezone(UTC)
    if first == second or first.astimezone().replace(tzinfo=None) == wall:
        return first  # an ordinary time, or the first of a repeated one
    return max(first, second)  # skipped by the clocks: after the jump


def local_today(now: dt.datetime, tz: dt.tzinfo | None = None) -> dt.date:
    """The rep's local date at ``now`` (an aware datetime)."""
    return now.astimezone(tz).date()


def moment_text(
    moment: dt.datetime, now: dt.datetime, tz: dt.tzinfo | None = None, *, clock: bool = True, weekday: bool = True
) -> str:
    """``moment`` in local time as a rep reads it in a list: ``Sat Dec 28 04:55`` within the year
    of ``now``, ``Dec 28 2024 04:55`` outside it (a weekday without its year misleads)."""
    try:
        local = moment.astimezone(tz)
    except OverflowError:  # the last hours of year 9999 have no local time east of UTC
        local = moment
    if local.year != now.astimezone(tz).year:
        text = local.strftime("%b %d %Y")
    else:
        text = local.strftime("%a %b %d" if weekday else "%b %d")
    return f"{text} {local:%H:%M}" if clock else text


def parse_moment(
    text: str,
    *,
    now: dt.datetime,
    default_time: dt.time = dt.time(9, 0),
    tz: dt.tzinfo | None = None,
) -> dt.datetime | None:
    """A moment from what the rep typed → aware UTC; None when blank.

    A date without a time takes ``default_time`` (local). ISO text with an offset
    keeps that offset. Raises ``DateParseError`` naming what is accepted.
    """
    t = _normal(text)
    if not t:
        return None
    today = local_today(now, tz)
    try:
        iso = _iso_moment(text.strip())
        if iso is not None:
            return iso.astimezone(UTC) if iso.utcoffset() is not None else local_to_utc(iso, tz)
        if _TIME.match(t):  # a time alone: today at that time
            return local_to_utc(dt.datetime.combine(today, _clock_time(t)), tz)
        day_text, time_of_day = t, default_time
        tail = _TAIL_TIME.match(t)
        if tail is not None:
            day_text, time_of_day = tail.group("day"), _clock_time(tail.group("time").replace(" ", ""))
        try:
            day = parse_day(day_text, today)
        except DateParseError as exc:
            if str(exc) == _NOT_A_DAY:
                raise DateParseError(_NOT_A_MOMENT) from None
            raise
        assert day is not None  # day_text is not blank
        return local_to_utc(dt.datetime.combine(day, time_of_day), tz)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, DateParseError):
            raise
        raise DateParseError(_OUT_OF_RANGE) from None


def _iso_moment(text: str) -> dt.datetime | None:
    """ISO date-and-time (``2026-04-01 14:00``, ``…T14:00Z``) → datetime; None for anything else."""
    if len(text) <= 10:  # a bare ISO date is a day: the default time applies
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None
