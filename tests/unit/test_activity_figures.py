"""Activity figures (metrics.activities): activities done per owner and kind in the period and their
outcome mix, against counts worked out by hand from the rows inserted here; the query's plan."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import event

from crm_tui.metrics import Filters, activity_figures, report
from crm_tui.metrics.activities import NOT_RECORDED, activity_counts
from crm_tui.models import TASK_OUTCOMES, Customer, Deal, Stage, Task

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
MARCH = Filters(since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 15))


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, s, us, tzinfo=UTC)


@pytest.fixture
def book(db):
    """Done, open and deleted tasks of ann, bob and nobody around the edges of 1–15 March."""
    from sqlalchemy import select

    with db.write({"customer", "deal", "task"}) as s:
        lead = s.execute(select(Stage).where(Stage.name == "Lead")).scalar_one()
        live, gone = Customer(name="Live", name_key="live"), Customer(name="Gone", name_key="gone", deleted_at=NOW)
        s.add_all([live, gone])
        s.flush()
        dropped = Deal(title="dropped", pipeline_id=lead.pipeline_id, stage_id=lead.id, deleted_at=NOW)
        s.add(dropped)
        s.flush()

        def task(owner, kind, done, outcome=None, **kw):
            s.add(Task(subject="t", owner=owner, kind=kind, done_at=done, outcome=outcome, customer_id=live.id, **kw))

        # in March 1–15: ann 2 calls (reached, no answer), 1 email (sent), 1 to-do (none); bob 1 meeting (held)
        task("ann", "call", at(2026, 3, 1), "reached")  # the first instant of the period
        task("ann", "call", at(2026, 3, 15, 23, 59, 59, 999999), "no answer")  # the last
        task("ann", "email", at(2026, 3, 7, 12), "sent")
        task("ann", "todo", at(2026, 3, 8))  # ticked done without logging: not recorded
        task("bob", "meeting", at(2026, 3, 9), "held")
        # outside the period: counted all time only
        task("ann", "call", at(2026, 2, 28, 23, 59, 59, 999999), "reached")
        task("bob", "call", at(2026, 3, 16), "left voicemail")
        task("", "email", at(2026, 1, 5))  # nobody's, no outcome
        # never counted: open, deleted, on a deleted customer or deal
        task("ann", "call", None, due_at=at(2026, 3, 10))
        task("ann", "call", at(2026, 3, 10), "reached", deleted_at=NOW)
        s.add(Task(subject="t", owner="ann", kind="call", done_at=at(2026, 3, 10), customer_id=gone.id))
        s.add(Task(subject="t", owner="bob", kind="meeting", done_at=at(2026, 3, 10), deal_id=dropped.id))
    return db


def test_march_per_owner_and_kind_with_the_outcome_mix(book):
    got = report(book, MARCH, now=NOW)["activities"]
    assert got["total"] == 5
    assert got["by_kind"] == {"call": 2, "email": 1, "meeting": 1, "todo": 1}
    assert got["by_owner"] == [
        {"owner": "ann", "call": 2, "email": 1, "meeting": 0, "todo": 1, "total": 4},
        {"owner": "bob", "call": 0, "email": 0, "meeting": 1, "todo": 0, "total": 1},
    ]
    mix = {o["outcome"]: (o["count"], o["share"]) for o in got["outcomes"]}
    assert [o["outcome"] for o in got["outcomes"]] == [*TASK_OUTCOMES, NOT_RECORDED]  # every one, in order
    assert mix["reached"] == mix["no answer"] == mix["sent"] == mix["held"] == mix[NOT_RECORDED] == (1, 0.2)
    assert mix["left voicemail"] == (0, 0.0)


def test_all_time_owner_filter_and_the_task_figures_agree(book):
    everything = report(book, Filters(), now=NOW)
    got = everything["activities"]
    assert got["total"] == 8 == everything["tasks"]["done"]  # every done task that counts, nothing else
    assert got["by_kind"] == {"call": 4, "email": 2, "meeting": 1, "todo": 1}
    assert [(o["owner"], o["total"]) for o in got["by_owner"]] == [("ann", 5), ("bob", 2), ("", 1)]
    mix = {o["outcome"]: o["count"] for o in got["outcomes"]}
    assert (mix["reached"], mix["left voicemail"], mix[NOT_RECORDED]) == (2, 1, 2)
    assert sum(o["share"] for o in got["outcomes"]) == pytest.approx(1.0)

    bob = activity_figures(book, Filters(owner="bob", since=dt.date(2026, 3, 9)))
    assert [(o.owner, o.counts) for o in bob.by_owner] == [("bob", (1, 0, 1, 0))]  # the meeting and the 16th's call
    assert bob.total == 2 and dict(bob.outcomes)["held"] == 1
    nobody = report(book, Filters(owner="carl"), now=NOW)["activities"]
    assert nobody["total"] == 0 and nobody["by_owner"] == []
    assert all(o["share"] is None for o in nobody["outcomes"])  # nothing to divide by


def test_logging_an_activity_counts_it_under_its_kind_and_outcome(services, db, clock):
    customer = services.create_customer(name="Acme")
    before = activity_figures(db, Filters(since=clock.now.date(), until=clock.now.date()))
    open_task = services.add_task("call back", kind="call", customer_id=customer.id, due_at=clock.now)
    assert activity_figures(db).total == before.total == 0  # an open task is not an activity
    services.log_activity(kind="meeting", outcome="meeting booked", task_id=open_task.id)
    services.log_activity(kind="email", outcome="replied", customer_id=customer.id)
    done = services.add_task("tidy", customer_id=customer.id)
    services.complete_task(done.id)
    today = activity_figures(db, Filters(since=clock.now.date(), until=clock.now.date()))
    assert [(o.owner, o.counts) for o in today.by_owner] == [("ann", (0, 1, 1, 1))]
    outcomes = {**dict.fromkeys(TASK_OUTCOMES, 0), "meeting booked": 1, "replied": 1, NOT_RECORDED: 1}
    assert dict(today.outcomes) == outcomes
    yesterday = clock.now.date() - dt.timedelta(days=1)
    assert activity_figures(db, Filters(since=yesterday, until=yesterday)).total == 0


def test_one_grouped_sum_of_the_kept_cells_never_the_tasks(book):
    """One grouped statement however many owners, over the task figures the database keeps: no
    task is read, whatever the period or the owner, and the counts are the tasks' own."""
    with book.write({"task"}) as s:  # 40 tasks done last year: March is 8 of the book's 52 tasks
        s.add_all(Task(subject="old", owner="carl", kind="call", done_at=at(2025, 5, 1)) for _ in range(40))
    seen: list[str] = []

    def listen(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(book.engine, "before_cursor_execute", listen)
    try:
        for filters in (
            Filters(),
            MARCH,
            Filters(since=dt.date(2025, 1, 1), until=dt.date(2026, 3, 31)),
            Filters(owner="ann", since=dt.date(2026, 3, 1)),
            Filters(owner="ann"),
        ):
            seen.clear()
            with book.read() as session:
                activity_counts(session.connection(), filters)
            grouped = [s for s in seen if "GROUP BY" in s]
            assert len(grouped) == 1 and "fig_task" in grouped[0], seen
            assert not [s for s in seen if "FROM task" in s]
    finally:
        event.remove(book.engine, "before_cursor_execute", listen)
    late = activity_figures(book, Filters(since=dt.date(2025, 1, 1), until=dt.date(2026, 3, 31)))
    by_owner = [(o.owner, o.total) for o in late.by_owner]
    assert by_owner == [("carl", 40), ("ann", 5), ("bob", 2), ("", 1)] and late.total == 48


def test_text_and_csv_carry_the_section(book):
    from crm_tui.report import render

    data = report(book, MARCH, now=NOW)
    data["activities"]["by_owner"][1]["owner"] = "=\x1b[31mbob"  # a hostile name: shown, never run
    text = render(data, "text")
    section = text.split("\nActivities done (calls, emails, meetings, to-dos)\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "  owner         call  email  meeting  todo  total",
        "  ------------  ----  -----  -------  ----  -----",
        "  ann              2      1        0     1      4",
        "  =\\x1b[31mbob     0      0        1     0      1",
        "  (all)            2      1        1     1      5",
        "  outcomes: reached 1 (20.0%) · no answer 1 (20.0%) · sent 1 (20.0%) · held 1 (20.0%)"
        " · not recorded 1 (20.0%)",
    ]
    cells = {tuple(r[:3]): r[3] for r in csv.reader(io.StringIO(render(data, "csv")))}
    assert cells[("activities", "", "total")] == "5" and cells[("activities", "", "meeting")] == "1"
    assert cells[("activities.by_owner", "ann", "call")] == "2"
    assert cells[("activities.by_owner", "ann", "total")] == "4"
    assert cells[("activities.by_owner", "'=\x1b[31mbob", "meeting")] == "1"  # a formula-looking name is quoted
    assert cells[("activities.outcomes", "not recorded", "share")] == "0.2"
    assert cells[("activities.outcomes", "replied", "count")] == "0"
    empty = render(report(book, Filters(owner="carl"), now=NOW), "text")
    assert "\nActivities done (calls, emails, meetings, to-dos)\n  none in the period\n" in empty
