"""Natural dates (crm_tui.dates): what a rep types → the day or the UTC moment, at month and year
ends, on leap days and across daylight-saving changes; and the checks the forms build on them."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from crm_tui import dates
from crm_tui import validate as v
from crm_tui.config import DEFAULT_DUE_TIME, default_due_time, save_settings
from crm_tui.dates import DateParseError, add_months, local_to_utc, parse_day, parse_moment
from crm_tui.errors import ValidationError, ValidationErrors

UTC = dt.UTC
MON = dt.date(2026, 3, 16)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("today", MON),
        ("  TODAY ", MON),
        ("tomorrow", dt.date(2026, 3, 17)),
        ("tmrw", dt.date(2026, 3, 17)),
        ("tue", dt.date(2026, 3, 17)),
        ("Tuesday", dt.date(2026, 3, 17)),
        ("thurs", dt.date(2026, 3, 19)),
        ("fri", dt.date(2026, 3, 20)),
        ("sun", dt.date(2026, 3, 22)),
        ("mon", dt.date(2026, 3, 23)),  # the next Monday: never today
        ("+3d", dt.date(2026, 3, 19)),
        ("+ 2 w", dt.date(2026, 3, 30)),
        ("+1m", dt.date(2026, 4, 16)),
        ("in 3 days", dt.date(2026, 3, 19)),
        ("in 1 week", dt.date(2026, 3, 23)),
        ("in 2 months", dt.date(2026, 5, 16)),
        ("next week", dt.date(2026, 3, 23)),
        ("2026-04-01", dt.date(2026, 4, 1)),
        ("", None),
        ("   ", None),
    ],
)
def test_days_typed_on_a_monday(typed, day):
    assert parse_day(typed, MON) == day


@pytest.mark.parametrize(
    ("today", "typed", "day"),
    [
        (dt.date(2026, 1, 31), "+1m", dt.date(2026, 2, 28)),  # the last day of a shorter month
        (dt.date(2028, 1, 31), "+1m", dt.date(2028, 2, 29)),  # leap year
        (dt.date(2026, 3, 31), "in 1 month", dt.date(2026, 4, 30)),
        (dt.date(2026, 12, 15), "+1m", dt.date(2027, 1, 15)),  # into the next year
        (dt.date(2026, 11, 30), "+3m", dt.date(2027, 2, 28)),
        (dt.date(2026, 12, 31), "tomorrow", dt.date(2027, 1, 1)),
        (dt.date(2026, 12, 31), "+1d", dt.date(2027, 1, 1)),
        (dt.date(2026, 12, 28), "next week", dt.date(2027, 1, 4)),  # Monday of next week, next year
        (dt.date(2027, 1, 3), "next week", dt.date(2027, 1, 4)),  # on a Sunday: tomorrow
        (dt.date(2026, 12, 30), "fri", dt.date(2027, 1, 1)),
        (dt.date(2026, 3, 20), "fri", dt.date(2026, 3, 27)),  # on a Friday: a week later
        (dt.date(2028, 2, 28), "tomorrow", dt.date(2028, 2, 29)),
        (dt.date(2026, 2, 28), "tomorrow", dt.date(2026, 3, 1)),
        (dt.date(2026, 1, 31), "+4w", dt.date(2026, 2, 28)),
    ],
)
def test_month_and_year_ends(today, typed, day):
    assert parse_day(typed, today) == day


@pytest.mark.parametrize(
    "typed", ["someday", "fri fri", "+3", "+3y", "-1d", "next fri", "2026-02-30", "in days", "+99999d"]
)
def test_what_is_not_a_date_is_refused_saying_what_is(typed):
    with pytest.raises(DateParseError) as refused:
        parse_day(typed, MON)
    assert "not a date; try tomorrow, fri" in str(refused.value) or "years ahead" in str(refused.value)


def test_add_months_refuses_to_leave_the_calendar():
    with pytest.raises(DateParseError):
        add_months(dt.date(9999, 12, 1), 1)
    assert add_months(dt.date(2026, 5, 31), -3) == dt.date(2026, 2, 28)


NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("fri", dt.datetime(2026, 3, 20, 9, tzinfo=UTC)),  # a date alone: the default time
        ("fri 14:00", dt.datetime(2026, 3, 20, 14, tzinfo=UTC)),
        ("tomorrow at 3pm", dt.datetime(2026, 3, 17, 15, tzinfo=UTC)),
        ("+3d 9:30am", dt.datetime(2026, 3, 19, 9, 30, tzinfo=UTC)),
        ("next week 12am", dt.datetime(2026, 3, 23, 0, tzinfo=UTC)),
        ("12pm", dt.datetime(2026, 3, 16, 12, tzinfo=UTC)),  # a time alone: today
        ("2026-04-01", dt.datetime(2026, 4, 1, 9, tzinfo=UTC)),
        ("2026-04-01 16:15", dt.datetime(2026, 4, 1, 16, 15, tzinfo=UTC)),
        ("2026-04-01 4pm", dt.datetime(2026, 4, 1, 16, tzinfo=UTC)),
        ("2026-04-01T16:15+02:00", dt.datetime(2026, 4, 1, 14, 15, tzinfo=UTC)),  # its own offset is kept
        ("2026-04-01T16:15Z", dt.datetime(2026, 4, 1, 16, 15, tzinfo=UTC)),
        ("", None),
    ],
)
def test_moments_in_utc(typed, moment):
    assert parse_moment(typed, now=NOW, default_time=dt.time(9), tz=UTC) == moment


@pytest.mark.parametrize("typed", ["fri 25:00", "fri 13pm", "tomorrow 9:75", "later", "fri at"])
def test_bad_times_are_refused(typed):
    with pytest.raises(DateParseError, match="not a (date|time of day)"):
        parse_moment(typed, now=NOW, tz=UTC)


def test_today_is_the_reps_local_date_not_utcs():
    late_sunday_in_new_york = dt.datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # Sun 22:00 EDT
    new_york = ZoneInfo("America/New_York")
    assert parse_day("today", dates.local_today(late_sunday_in_new_york, new_york)) == dt.date(2026, 3, 15)
    assert parse_moment("tomorrow", now=late_sunday_in_new_york, tz=new_york) == dt.datetime(
        2026, 3, 16, 13, tzinfo=UTC
    )  # Monday 09:00 EDT


# -- daylight saving: Berlin springs forward 2026-03-29 02:00 → 03:00 and falls back 2026-10-25 03:00 → 02:00


def test_the_default_time_keeps_its_wall_clock_across_a_dst_change():
    saturday = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert parse_moment("tomorrow", now=saturday, tz=BERLIN) == dt.datetime(2026, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST
    assert parse_moment("today", now=saturday, tz=BERLIN) == dt.datetime(2026, 3, 28, 8, tzinfo=UTC)  # 09:00 CET
    assert parse_moment("+1w", now=saturday, tz=BERLIN) == dt.datetime(2026, 4, 4, 7, tzinfo=UTC)
    october = dt.datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert parse_moment("tomorrow", now=october, tz=BERLIN) == dt.datetime(2026, 10, 25, 8, tzinfo=UTC)  # CET


@pytest.fixture
def berlin_machine(monkeypatch):
    """This machine's own zone is Berlin (tz=None reads it, as the app does)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()


@pytest.mark.parametrize("zone", [BERLIN, None], ids=["zoneinfo", "machine"])
def test_a_skipped_time_moves_forward_and_a_repeated_one_is_the_first(zone, berlin_machine):
    # 02:30 does not exist on 29 March: it becomes 03:30 CEST (01:30 UTC)
    assert local_to_utc(dt.datetime(2026, 3, 29, 2, 30), zone) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on 25 October: the first, still CEST (00:30 UTC)
    assert local_to_utc(dt.datetime(2026, 10, 25, 2, 30), zone) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_to_utc(dt.datetime(2026, 7, 1, 9, 0), zone) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    saturday = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert parse_moment("tomorrow 2:30", now=saturday, tz=zone) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_the_machines_zone_is_what_tz_none_means(berlin_machine):
    assert parse_moment("2026-07-01 09:00", now=NOW) == dt.datetime(2026, 7, 1, 7, tzinfo=UTC)
    assert parse_moment("fri", now=NOW) == dt.datetime(2026, 3, 20, 8, tzinfo=UTC)  # 09:00 CET


# -- the validators and checks the forms use --------------------------------------------------------


def test_validate_names_the_field_and_what_was_typed():
    with pytest.raises(ValidationError) as refused:
        v.natural_moment("someday", "due", now=NOW, default_time=dt.time(9))
    assert refused.value.field == "due"
    assert refused.value.message.startswith("due: 'someday' is not a date; try tomorrow, fri 14:00")
    with pytest.raises(ValidationError, match="expected close date: 'xx' is not a date"):
        v.natural_date("xx", "expected close date", today=MON)
    assert v.natural_date(dt.date(2026, 1, 2), "d", today=MON) == dt.date(2026, 1, 2)
    assert v.natural_moment(None, "due", now=NOW, default_time=dt.time(9)) is None


def test_check_all_reports_every_field_not_only_the_first():
    checks = {"name": lambda x: v.text(x, "name", required=True), "email": v.email, "priority": v.priority}
    cleaned, errors = v.check_all({"name": "", "email": "nope", "priority": "HIGH"}, checks)
    assert cleaned == {"priority": 2}
    assert list(errors) == ["name", "email"]
    assert errors["name"] == "name is required; type a name"
    assert errors["email"].startswith("email must look like name@example.com")


def test_validation_errors_carries_every_field():
    error = ValidationErrors({"name": "name is required", "email": "email must look like…"})
    assert isinstance(error, ValidationError)
    assert error.field == "name" and error.errors["email"] == "email must look like…"
    assert error.message == "name is required; email must look like…"
    with pytest.raises(ValueError):
        ValidationErrors({})


def test_the_default_due_time_setting():
    assert default_due_time() == DEFAULT_DUE_TIME == dt.time(9, 0)
    save_settings({"default_due_time": "07:45"})
    assert default_due_time() == dt.time(7, 45)
    save_settings({"default_due_time": "quarter past"})
    assert default_due_time() == dt.time(9, 0)


def test_a_broken_settings_file_still_gives_the_default_due_time():
    from crm_tui.config import settings_path

    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"default_due_time": "07:45",', encoding="utf-8")  # cut short: not JSON
    assert default_due_time() == dt.time(9, 0)


def test_a_moment_outside_this_year_shows_its_year_instead_of_a_weekday():
    now = dt.datetime(2026, 12, 4, 13, 0, tzinfo=dt.UTC)
    assert dates.moment_text(dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC), now, dt.UTC) == "Sat Dec 05 09:00"
    assert dates.moment_text(dt.datetime(2024, 12, 28, 4, 55, tzinfo=dt.UTC), now, dt.UTC) == "Dec 28 2024 04:55"
    assert dates.moment_text(dt.datetime(2027, 1, 2, 8, 0, tzinfo=dt.UTC), now, dt.UTC, clock=False) == "Jan 02 2027"
    done = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert dates.moment_text(done, now, dt.UTC, clock=False, weekday=False) == "Mar 01"
    # the year is the rep's local one: 23:30 UTC on New Year's Eve is already next year in Berlin
    berlin = dt.timezone(dt.timedelta(hours=1))
    eve = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert dates.moment_text(eve, now, berlin) == "Jan 01 2027 00:30"


def test_the_end_of_time_is_shown_not_an_overflow():
    now = dt.datetime(2026, 12, 4, 13, 0, tzinfo=dt.UTC)
    end = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert dates.moment_text(end, now, tokyo) == "Dec 31 9999 23:00"
