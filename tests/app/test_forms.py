"""The form base: every error at once beside its field, cleared when fixed; conflicts and unexpected
failures shown with the form still usable; one task form with one rule for dates, natural dates everywhere."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest
from pilotkit import text_of, wait_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from textual.widgets import Button, Input

from crm_tui.config import save_settings
from crm_tui.models import Customer, Deal, Task

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

UTC = dt.UTC


def screen_name(app) -> str:
    return type(app.screen).__name__


def error_text(form, field: str) -> str:
    """The message shown under ``field``, or "" when none is shown."""
    widget = form.query_one(f"#error-{field}")
    return text_of(widget) if widget.has_class("-shown") else ""


async def open_form(app, pilot, settle, until, key: str, form: str):
    await settle(app, pilot)
    await pilot.press(key)
    await until(
        pilot, lambda: screen_name(app) == form and app.focused is not None, what=f"{form} with a focused field"
    )
    return app.screen


def tasks(db) -> list[Task]:
    with db.read() as s:
        return list(s.execute(select(Task).order_by(Task.id)).scalars())


async def test_deal_edit_conflict_shows_stored_values_then_second_save_replaces(make_app, settle, db, services):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert form.__class__.__name__ == "DealFormScreen"
        assert form.query_one("#field-amount").value == "1000.00"
        form.query_one("#field-title").value = "Rollout phase 2"
        form.query_one("#field-probability").value = "150"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # a ValidationError lands beside its field; what was typed stays
        assert "probability" in str(form.query_one("#error-probability").render())
        assert form.query_one("#field-title").value == "Rollout phase 2"
        services.update_deal(deal.id, amount="5000")  # another session, meanwhile
        form.query_one("#field-probability").value = ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        message = str(form.query_one("#form-error").render())
        assert "changed in another session" in message and "Amount: 5000.00" in message
        stored = services.get(Deal, deal.id)
        assert stored.title == "Rollout" and stored.amount_cents == 500000  # nothing overwritten
        await pilot.press("ctrl+s")  # saving again replaces knowingly
        await settle(app, pilot)
        assert app.screen is not form
        stored = services.get(Deal, deal.id)
        assert stored.title == "Rollout phase 2" and stored.amount_cents == 100000


async def test_every_error_shows_at_once_and_each_clears_when_its_field_is_fixed(make_app, settle, until, db):
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, settle, until, "n", "CustomerForm")
        form.query_one("#field-email", Input).value = "not-an-email"
        form.query_one("#field-phone", Input).value = "555\x07"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: error_text(form, "name"), what="the name's error")
        assert error_text(form, "name") == "name is required; type a name"  # the service's own words
        assert "email must look like name@example.com" in error_text(form, "email")
        assert "phone contains a control character" in error_text(form, "phone")
        assert app.focused.id == "field-name"  # the first field in error
        await pilot.press(*"Omega")  # fixed: its error goes as it is typed, the others stay
        assert error_text(form, "name") == "" and error_text(form, "email") and error_text(form, "phone")
        form.query_one("#field-email", Input).value = "still wrong"
        await pilot.pause()
        assert "email must look like" in error_text(form, "email")
        form.query_one("#field-email", Input).value = "ok@omega.example"
        form.query_one("#field-phone", Input).value = "555"
        await pilot.pause()
        assert error_text(form, "email") == "" and error_text(form, "phone") == ""
        with db.read() as s:
            assert s.execute(select(Customer)).first() is None  # nothing was saved meanwhile
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="the form to close")
        with db.read() as s:
            assert s.execute(select(Customer.email).where(Customer.name == "Omega")).scalar_one() == "ok@omega.example"


async def test_task_errors_from_the_form_and_from_the_database_show_together(make_app, settle, until, db):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, settle, until, "n", "TaskFormScreen")
        form.query_one("#field-due", Input).value = "someday"
        form.query_one("#field-customer", Input).value = "Nobody Inc"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: error_text(form, "customer"), what="the customer's error")
        assert error_text(form, "subject") == "subject is required; type a subject"
        assert error_text(form, "due").startswith("due: 'someday' is not a date; try tomorrow, fri 14:00")
        assert "no customer is called 'Nobody Inc'" in error_text(form, "customer")
        assert not form.query_one("#form-save", Button).disabled and tasks(db) == []


async def test_an_unexpected_failure_re_enables_the_form_and_says_why(make_app, settle, until, db, monkeypatch):
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, settle, until, "n", "CustomerForm")
        calls = []

        def broken(**fields):
            calls.append(fields)
            raise IntegrityError(
                "INSERT INTO customer ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed: customer.name")
            )

        monkeypatch.setattr(app.services, "create_customer", broken)
        await pilot.press(*"Acme", "ctrl+s")
        await until(pilot, lambda: calls and not form.saving, what="the failed save to come back")
        message = text_of(form.query_one("#form-error"))
        assert (
            message
            == "Could not save: IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: customer.name"
        )
        assert app.screen is form and form.query_one("#field-name", Input).value == "Acme"
        assert not form.query_one("#form-save", Button).disabled
        monkeypatch.undo()  # the database is fine again: the same form saves
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="the form to close")
        with db.read() as s:
            assert s.execute(select(Customer.name)).scalar_one() == "Acme"


async def test_while_saving_the_save_button_is_off_and_the_form_says_so(make_app, settle, until, db, monkeypatch):
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, settle, until, "n", "CustomerForm")
        release = threading.Event()
        create = app.services.create_customer

        def slow(**fields):
            release.wait(10)
            return create(**fields)

        monkeypatch.setattr(app.services, "create_customer", slow)
        await pilot.press(*"Acme", "ctrl+s")
        await wait_for(lambda: form.saving, "the save to start")
        await pilot.pause()
        assert form.query_one("#form-save", Button).disabled and text_of(form.query_one("#form-keys")) == "Saving…"
        await pilot.press("ctrl+s")  # a second save while the first runs does nothing
        release.set()
        await wait_for(lambda: screen_name(app) == "CustomersScreen", "the form to close")
        with db.read() as s:
            assert len(s.execute(select(Customer)).all()) == 1


# -- one task form, one rule for dates ----------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch):
    """The rep's machine in New York (UTC-4 in late March), a default due time of 08:30."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    save_settings({"default_due_time": "08:30"})


@pytest.mark.keys_only  # keys and forms: the same on every engine
async def test_the_same_task_form_everywhere_with_one_rule_for_a_bare_date(
    make_app, settle, until, db, services, new_york
):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id)
    friday_0830_local = dt.datetime(2026, 3, 20, 12, 30, tzinfo=UTC)  # 08:30 EDT
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        shapes = []

        async def add(key: str, subject: str, due: str) -> None:
            form = await open_form(app, pilot, settle, until, key, "TaskFormScreen")
            shapes.append(([(f.name, f.kind, f.options) for f in form.fields], form.values()["kind"]))
            await pilot.press(*subject)
            form.query_one("#field-due", Input).value = due
            await pilot.press("ctrl+s")
            await until(
                pilot, lambda: screen_name(app) != "TaskFormScreen", what=f"the task form for {subject!r} to close"
            )

        await add("n", "from the queue", "fri")
        app.open_deal(deal.id)
        await add("t", "from the deal", "2026-03-20")
        app.open_customer(acme.id)
        await add("t", "from the customer", "Friday")
        assert shapes[0] == shapes[1] == shapes[2]  # the same fields, kinds, choices and default kind
        saved = {t.subject: t for t in tasks(db)}
        assert {t.due_at for t in saved.values()} == {friday_0830_local}
        assert saved["from the deal"].deal_id == deal.id and saved["from the deal"].customer_id == acme.id
        assert saved["from the customer"].customer_id == acme.id and saved["from the customer"].deal_id is None
        assert {t.kind for t in saved.values()} == {"todo"} and {t.priority for t in saved.values()} == {1}


@pytest.mark.parametrize(
    ("typed", "due"),
    [
        ("today", dt.datetime(2026, 3, 16, 9, tzinfo=UTC)),
        ("tomorrow 14:00", dt.datetime(2026, 3, 17, 14, tzinfo=UTC)),
        ("+3d", dt.datetime(2026, 3, 19, 9, tzinfo=UTC)),
        ("next week", dt.datetime(2026, 3, 23, 9, tzinfo=UTC)),
        ("in 2 weeks", dt.datetime(2026, 3, 30, 9, tzinfo=UTC)),
        ("2026-04-01 16:15", dt.datetime(2026, 4, 1, 16, 15, tzinfo=UTC)),
        ("", None),
    ],
)
async def test_natural_due_dates_in_the_task_form(make_app, settle, until, db, typed, due):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, settle, until, "n", "TaskFormScreen")
        assert "fri 14:00" in form.query_one("#field-due", Input).placeholder
        await pilot.press(*"Call Anna")
        form.query_one("#field-due", Input).value = typed
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_name(app) == "TasksScreen", what="the form to close")
        assert tasks(db)[0].due_at == due


async def test_natural_expected_close_in_the_deal_form(make_app, settle, until, db, services):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id)
    app = make_app("pipeline")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        form = await open_form(app, pilot, settle, until, "e", "DealFormScreen")
        close = form.query_one("#field-expected_close", Input)
        close.value = "someday"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: error_text(form, "expected_close"), what="the expected close error")
        assert error_text(form, "expected_close").startswith("expected close date: 'someday' is not a date")
        close.value = "+1m"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_name(app) == "DealDetailScreen", what="the form to close")
        assert services.get(Deal, deal.id).expected_close == dt.date(2026, 4, 16)


async def test_snooze_to_a_typed_natural_date(make_app, settle, until, db, services, clock):
    task = services.add_task("Call Anna", due_at=clock.now + dt.timedelta(hours=1))
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await until(
            pilot, lambda: screen_name(app) == "SnoozeScreen" and app.focused is not None, what="the snooze dialog"
        )
        assert "next week" in app.screen.query_one("#snooze-date", Input).placeholder
        await pilot.press(*"next week 10:00", "enter")
        await until(
            pilot,
            lambda: services.get(Task, task.id).due_at == dt.datetime(2026, 3, 23, 10, tzinfo=UTC),
            what="the task to be due Monday 10:00",
        )
