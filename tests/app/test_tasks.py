"""The task queue: complete/undo, snooze, open, my tasks."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_tui.models import Task

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


def task(db, task_id):
    with db.read() as s:
        return s.get(Task, task_id)


@pytest.fixture
def seeded(services, clock):
    acme = services.create_customer(name="[red]Acme[/red]")
    deal = services.create_deal("Renewal", customer_id=acme.id)
    first = services.add_task("call back", kind="call", deal_id=deal.id, due_at=clock.now - dt.timedelta(days=2))
    second = services.add_task("send quote", customer_id=acme.id, due_at=clock.now + dt.timedelta(hours=2), owner="bob")
    return {"deal": deal, "customer": acme, "first": first, "second": second}


async def everyone(app, pilot, settle):
    """From the rep's own day (where the screen opens) to everyone's tasks."""
    await pilot.press("m")
    await settle(app, pilot)
    assert app.screen.owner is None


def lines(app):
    widget = app.screen.query_one("#task-list")
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_groups_and_literal_text(make_app, settle, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await everyone(app, pilot, settle)
        shown = lines(app)
        assert shown[0].startswith(" Overdue (1)")
        assert "call back" in shown[1] and "2d overdue" in shown[1] and "[red]Acme[/red] · Renewal" in shown[1]
        assert shown[2].startswith(" Today (1)")
        assert "send quote" in shown[3]


async def test_space_completes_and_ctrl_z_reopens(make_app, settle, opened, db, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("space")
        await opened(pilot, "TaskFormScreen")  # the deal's next step: skipped
        await pilot.press("escape")
        await settle(app, pilot)
        assert task(db, seeded["first"].id).done_at is not None
        assert any(line.startswith(" Done (1)") for line in lines(app))
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert task(db, seeded["first"].id).done_at is None


async def test_snooze_one_day_moves_due_by_a_day(make_app, settle, opened, db, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await everyone(app, pilot, settle)
        await pilot.press("j")  # onto "send quote" (due in 2 h)
        await pilot.press("s")
        await opened(pilot, "SnoozeScreen")
        await pilot.press("enter")  # "+1 day"
        await settle(app, pilot)
        before = seeded["second"].due_at
        assert task(db, seeded["second"].id).due_at == before + dt.timedelta(days=1)


async def test_snoozing_a_task_due_on_the_last_day_says_why_not(
    make_app, opened, until, notifications, db, services, clock
):
    """Issue 17, finding 7: +1 day on a task due 9999-12-31 showed "OverflowError"."""
    last = services.add_task("Call at the end of time", due_at="9999-12-31T12:00:00+00:00")
    app = make_app("tasks")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "Call at the end of time" in "".join(lines(app)), what="the task")
        await pilot.press("s")
        await opened(pilot, "SnoozeScreen")
        await pilot.press("enter")  # "+1 day"
        await until(pilot, lambda: seen.said("past 9999-12-31"), what="the refusal")
        assert not seen.said("OverflowError")
        assert task(db, last.id).due_at == last.due_at


async def test_snooze_escape_changes_nothing(make_app, settle, opened, db, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await opened(pilot, "SnoozeScreen")
        await pilot.press("escape")
        await opened(pilot, "TasksScreen")
        await settle(app, pilot)
        assert task(db, seeded["first"].id).due_at == seeded["first"].due_at


async def test_enter_opens_deal_or_customer(make_app, settle, seeded):
    from crm_tui.tui.screens.customer_detail import CustomerDetailScreen
    from crm_tui.tui.screens.deal_detail import DealDetailScreen

    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.deal_id == seeded["deal"].id
        await pilot.press("3")
        await settle(app, pilot)
        await everyone(app, pilot, settle)  # "send quote" is bob's
        await pilot.press("j", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, CustomerDetailScreen)


async def test_my_tasks_toggle_and_new_task(make_app, settle, opened, db, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.screen.owner == "ann"  # it opens on the rep's own day
        assert not any("send quote" in line for line in lines(app))  # bob's
        await everyone(app, pilot, settle)
        assert any("send quote" in line for line in lines(app))
        await pilot.press("m")
        await settle(app, pilot)
        assert not any("send quote" in line for line in lines(app))
        await pilot.press("n")
        await opened(pilot, "TaskFormScreen")
        await pilot.press(*"email them")
        app.screen.query_one("#field-due").value = "2026-03-20"
        app.screen.query_one("#field-priority").value = "urgent"
        await pilot.click("#form-save")
        await settle(app, pilot)
        with db.read() as s:
            from sqlalchemy import select

            new = s.execute(select(Task).where(Task.subject == "email them")).scalar_one()
        assert new.priority == 3 and new.owner == "ann"
        assert new.due_at == dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)  # 09:00 local (TZ=UTC)
        assert any("email them" in line for line in lines(app))


def open_tasks_of(db, deal_id):
    from sqlalchemy import select

    with db.read() as s:
        return (
            s.execute(select(Task).where(Task.deal_id == deal_id, Task.done_at.is_(None), Task.deleted_at.is_(None)))
            .scalars()
            .all()
        )


@pytest.mark.keys_only
async def test_done_on_a_deals_last_task_asks_for_the_next_step_and_saves_it_for_the_deal(
    make_app, settle, opened, db, seeded
):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("space")  # "call back", the only open task of Renewal
        form = await opened(pilot, "TaskFormScreen")
        assert form.form_title == "Next step for 'Renewal'? (escape skips)"
        assert form.query_one("#field-customer").value == "[red]Acme[/red]"
        await pilot.press(*"send the contract", "ctrl+s")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TasksScreen"
        (step,) = open_tasks_of(db, seeded["deal"].id)
        assert step.subject == "send the contract" and step.kind == "call" and step.owner == "ann"
        assert step.customer_id == seeded["customer"].id
        assert task(db, seeded["first"].id).done_at is not None


@pytest.mark.keys_only
async def test_escape_skips_the_next_step_and_a_deal_with_another_open_task_is_not_asked(
    make_app, settle, opened, db, seeded, services, clock
):
    later = services.add_task("demo", deal_id=seeded["deal"].id, due_at=clock.now + dt.timedelta(days=9))
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await everyone(app, pilot, settle)
        await pilot.press("space")  # "call back": "demo" is still open on the deal
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TasksScreen"
        assert [t.id for t in open_tasks_of(db, seeded["deal"].id)] == [later.id]
        await pilot.press("j")  # the cursor stayed in place, on "send quote"; "demo" is next
        await settle(app, pilot)
        assert app.screen.query_one("#task-list").current.subject == "demo"
        await pilot.press("space")
        await opened(pilot, "TaskFormScreen")
        await pilot.press("escape")  # nothing typed: the form closes without asking
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TasksScreen"
        assert open_tasks_of(db, seeded["deal"].id) == []


def bar_text(app) -> str:
    return str(app.screen.query_one("ModeBar").render())


@pytest.mark.keys_only
async def test_it_opens_on_the_reps_day_in_order_and_a_waiting_deal_gets_its_next_step(
    make_app, settle, until, opened, db, services, clock
):
    acme = services.create_customer(name="Acme", owner="ann")
    services.add_task("old call", kind="call", customer_id=acme.id, due_at=clock.now - dt.timedelta(days=1))
    services.add_task("meet at 4", kind="meeting", customer_id=acme.id, due_at=clock.now + dt.timedelta(hours=1.5))
    services.add_task("call at 3", kind="call", customer_id=acme.id, due_at=clock.now + dt.timedelta(hours=0.5))
    services.add_task("bob's call", owner="bob", customer_id=acme.id, due_at=clock.now + dt.timedelta(hours=1))
    quiet = services.create_deal("Quiet deal", customer_id=acme.id, owner="ann")
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await until(pilot, lambda: app.due_today == 3, what="the count of the rep's day")
        assert " 3 Tasks (3) " in bar_text(app)
        shown = [line.rstrip() for line in lines(app)]
        expected = [
            " Overdue (1)",
            " ☎ call   old call",
            " Today (2)",
            " ☎ call   call at 3",
            " ◷ meet   meet at 4",
            " No next step (1)",
            " ⚑ deal   Quiet deal",
            " Rotting (0)",
            " Upcoming (0)",
        ]
        assert [line[: len(want)] for line, want in zip(shown, expected, strict=False)] == expected
        assert "no next step · 0d in stage" in shown[6]
        assert "My day  1 overdue · 2 today · 1 deal without a next step · 0 rotting  owner: ann" in str(
            app.screen.query_one("#tasks-bar").render()
        )
        await pilot.press("j", "j", "j", "s")  # onto Quiet deal; s: a deal cannot be snoozed
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TasksScreen"
        await pilot.press("space")
        form = await opened(pilot, "TaskFormScreen")
        assert form.form_title == "Next step for 'Quiet deal'? (escape skips)"
        await pilot.press(*"send the terms")
        form.query_one("#field-due").value = "today 17:00"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.due_today == 4, what="the new step counted in the rep's day")
        assert " 3 Tasks (4) " in bar_text(app)
        assert not any("Quiet deal" in line and "⚑" in line for line in lines(app))
        (step,) = open_tasks_of(db, quiet.id)
        assert step.subject == "send the terms" and step.customer_id == acme.id and step.owner == "ann"
        assert step.due_at == dt.datetime(2026, 3, 16, 17, 0, tzinfo=dt.UTC)


@pytest.mark.keys_only
async def test_a_logs_the_call_with_its_outcome_note_and_next_step_in_one_go(
    make_app, settle, until, opened, db, seeded
):
    from sqlalchemy import select

    from crm_tui.models import Note

    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")  # on "call back", the Renewal deal's call
        form = await opened(pilot, "ActivityFormScreen")
        assert form.form_title == "Log 'call back'"
        assert form.query_one("#field-kind").value == "call"
        form.query_one("#field-outcome").value = "left voicemail"
        form.query_one("#field-next").focus()
        await pilot.press(*"call again", "tab", *"tomorrow 10:00", "tab", *"Anna is away until Tuesday")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "TasksScreen", what="the form closed")
        await settle(app, pilot)
        done = task(db, seeded["first"].id)
        assert done.done_at is not None and done.outcome == "left voicemail"
        (step,) = open_tasks_of(db, seeded["deal"].id)
        assert (step.subject, step.kind, step.due_at) == (
            "call again",
            "call",
            dt.datetime(2026, 3, 17, 10, 0, tzinfo=dt.UTC),
        )
        with db.read() as s:
            (note,) = s.execute(select(Note)).scalars().all()
        assert note.body == "Anna is away until Tuesday" and note.deal_id == seeded["deal"].id
        assert any("call again" in line for line in lines(app))
        # one undo takes the whole activity back
        await pilot.press("ctrl+z")
        await until(pilot, lambda: task(db, seeded["first"].id).done_at is None, what="the undo")
        assert open_tasks_of(db, seeded["deal"].id)[0].id == seeded["first"].id
        assert len(open_tasks_of(db, seeded["deal"].id)) == 1


@pytest.mark.keys_only
async def test_a_due_date_without_a_next_step_is_shown_beside_the_field_and_nothing_is_saved(
    make_app, settle, opened, db, seeded
):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        form = await opened(pilot, "ActivityFormScreen")
        form.query_one("#field-next_due").focus()
        await pilot.press(*"fri", "ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        assert "no subject" in str(form.query_one("#error-next").render())
        assert task(db, seeded["first"].id).done_at is None


@pytest.mark.keys_only
async def test_e_edits_the_highlighted_task_and_d_deletes_it_after_asking(make_app, settle, until, opened, db, seeded):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await everyone(app, pilot, settle)  # the first line: "call back", 2 days overdue
        await pilot.press("e")
        form = await opened(pilot, "TaskFormScreen")
        assert form.query_one("#field-subject").value == "call back"
        assert form.query_one("#field-customer").value == "[red]Acme[/red]"  # as stored, not markup
        await pilot.press("ctrl+u", *"Call back about the renewal", "tab", "tab", "ctrl+u", *"tomorrow 14:00", "ctrl+s")
        await until(
            pilot, lambda: task(db, seeded["first"].id).subject == "Call back about the renewal", what="the edit"
        )
        edited = task(db, seeded["first"].id)
        local = edited.due_at.astimezone()
        assert (local.hour, local.minute) == (14, 0) and edited.deal_id == seeded["deal"].id
        assert edited.customer_id == seeded["customer"].id  # the customer kept, though its name is markup-like
        await until(pilot, lambda: "Call back about the renewal" in "\n".join(lines(app)), what="the list")
        # d asks; n keeps it, y deletes it, ctrl+z brings it back
        await pilot.press("d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("n")
        await opened(pilot, "TasksScreen")
        assert task(db, seeded["first"].id).deleted_at is None
        await pilot.press("d")
        confirm = await opened(pilot, "ConfirmScreen")
        assert "Call back about the renewal" in str(confirm.query_one("#confirm-question").render())  # it followed
        await until(pilot, lambda: confirm.answerable, what="the question drawn")
        await pilot.press("y")
        await until(pilot, lambda: task(db, seeded["first"].id).deleted_at is not None, what="the delete")
        await until(pilot, lambda: "Call back about the renewal" not in "\n".join(lines(app)), what="the line gone")
        await pilot.press("ctrl+z")
        await until(pilot, lambda: task(db, seeded["first"].id).deleted_at is None, what="the undo")
