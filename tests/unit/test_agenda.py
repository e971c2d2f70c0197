"""A rep's agenda: overdue first, then what is due in time order until the end of the last day,
then their deals with no next step and their rotting deals; as JSON and as an iCalendar feed
that a real iCalendar parser reads back."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from crm_tui.queries.agenda import NO_NEXT_STEP, ROTTING, agenda, as_json
from crm_tui.services import Services

UTC = dt.UTC


@pytest.fixture
def day(db, services, clock):
    """ann's book at 14:30 UTC on Mon 16 Mar 2026 (the tests' local time is UTC)."""
    acme = services.create_customer(name="Acme")
    rollout = services.create_deal("Rollout", customer_id=acme.id, amount="1000")  # its Lead stage has no task
    pilot = services.create_deal("Pilot", customer_id=acme.id, amount="500")
    at = clock.now
    services.add_task("Late call", kind="call", deal_id=pilot.id, due_at=at - dt.timedelta(days=2))
    four = at + dt.timedelta(hours=1, minutes=30)
    services.add_task("Demo at four", kind="meeting", customer_id=acme.id, due_at=four)
    services.add_task("Quote at three", kind="email", due_at=at + dt.timedelta(minutes=30))
    services.add_task("Tomorrow's call", kind="call", due_at=at + dt.timedelta(days=1))
    services.add_task("Next week", due_at=at + dt.timedelta(days=7))
    Services(db, user="bob", clock=clock).add_task("Bob's call", kind="call", due_at=at + dt.timedelta(hours=1))
    stale = services.create_deal("Stale deal", amount="10")
    services.add_task("Old step", deal_id=stale.id, due_at=at + dt.timedelta(days=3))
    return {"rollout": rollout, "pilot": pilot, "stale": stale}


def test_overdue_first_then_due_in_time_order_then_deals_needing_a_step(db, clock, day):
    got = agenda(db, "ann", now=clock.now)
    assert [(i.kind, i.subject, i.overdue) for i in got.items] == [
        ("call", "Late call", True),
        ("email", "Quote at three", False),
        ("meeting", "Demo at four", False),
        (NO_NEXT_STEP, "Rollout", False),
    ]
    assert got.items[2].customer == "Acme" and got.items[0].deal == "Pilot"
    two = agenda(db, "ann", now=clock.now, days=2)
    assert [i.subject for i in two.tasks] == ["Late call", "Quote at three", "Demo at four", "Tomorrow's call"]


def test_rotting_deals_come_last_and_another_reps_day_is_theirs(db, clock, day):
    later = clock.now + dt.timedelta(days=20)  # Lead's rot threshold is 14 days: its deals rot by then
    got = agenda(db, "ann", now=later)
    kinds = [(i.kind, i.deal) for i in got.items if i.task_id is None]
    assert (NO_NEXT_STEP, "Rollout") in kinds
    assert {(ROTTING, "Pilot"), (ROTTING, "Stale deal")} <= set(kinds)
    assert kinds.index((NO_NEXT_STEP, "Rollout")) < kinds.index((ROTTING, "Pilot"))
    assert [i.subject for i in agenda(db, "bob", now=clock.now).items] == ["Bob's call"]


def test_the_json_shape_is_the_documented_one(db, clock, day):
    data = as_json(agenda(db, "ann", now=clock.now))
    assert data["owner"] == "ann"
    assert set(data["items"][0]) == {"kind", "subject", "due", "customer", "deal", "overdue"}
    assert data["items"][0]["due"] == "2026-03-14T14:30:00+00:00"
    assert data["items"][-1]["due"] is None


def test_the_ics_feed_parses_back_with_one_event_per_task(db, clock, day):
    from icalendar import Calendar

    from crm_tui.cli_agenda import ics

    got = agenda(db, "ann", now=clock.now, days=2)
    calendar = Calendar.from_ical(ics(got))
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(got.tasks) == 4
    by_summary = {str(e["SUMMARY"]): e for e in events}
    demo = by_summary["Meeting: Demo at four"]
    assert demo.decoded("DTSTART") == dt.datetime(2026, 3, 16, 16, 0, tzinfo=UTC)
    assert demo.decoded("DTEND") - demo.decoded("DTSTART") == dt.timedelta(hours=1)
    assert str(demo["DESCRIPTION"]) == "Acme"
    assert len({str(e["UID"]) for e in events}) == 4  # stable and distinct: a subscription updates, not doubles


def test_the_command_prints_json_and_writes_an_ics_file(tmp_path, clock):
    from crm_tui.db import Database

    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    s = Services(db, user="ann")
    s.add_task("Call Anna", kind="call", due_at=dt.datetime.now(UTC) + dt.timedelta(minutes=5))
    db.close()
    run = [sys.executable, "-m", "crm_tui", "agenda", "--db", str(path), "--owner", "ann"]
    done = subprocess.run([*run, "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [i["subject"] for i in json.loads(done.stdout)["items"]] == ["Call Anna"]
    feed = tmp_path / "ann.ics"
    done = subprocess.run([*run, "--format", "ics", "-o", str(feed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert feed.stat().st_mode & 0o077 == 0 and "SUMMARY:Call: Call Anna" in feed.read_text()
    done = subprocess.run([*run, "--days", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("crm-tui: error: --days must be between 1 and 366")


def test_the_top_of_the_day_read_first_is_the_whole_queues_top_with_its_groups_sizes(db, services, clock, day):
    from crm_tui.queries.agenda import day_first_lines
    from crm_tui.queries.tasks import load_tasks

    at = clock.now - dt.timedelta(hours=5)
    for i, prio in enumerate((0, 3, 1, 2)):  # one due time, four priorities: the whole read orders them
        services.add_task(f"Same hour {i}", due_at=at, priority=prio)
    services.add_task("Later", due_at=at + dt.timedelta(hours=1))
    whole = load_tasks(db, now=clock.now, owner="ann", deals=True)
    wanted = [(g, r.id) for g in ("Overdue", "Today") for r in whole.groups[g]]
    for limit in (2, 3, 5, 6, 50):  # a due time cut in the middle is left to the whole read
        top, counts = day_first_lines(db, now=clock.now, owner="ann", limit=limit)
        got = [(g, r.id) for g in ("Overdue", "Today") for r in top.groups[g]]
        assert got == wanted[: len(got)] and len(got) <= limit
        assert counts == {"Overdue": len(whole.groups["Overdue"]), "Today": len(whole.groups["Today"])}
    assert len(got) == len(wanted) == 8  # the six overdue (Late call, four at one hour, Later), two today
