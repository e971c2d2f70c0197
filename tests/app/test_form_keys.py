"""Keys in forms and dialogs: enter moves on, ctrl+s saves, escape asks first, and a burst of keys
typed with the key that opens a form lands in its first field, in order (never in a binding)."""

from __future__ import annotations

import datetime as dt

import pytest
from pilotkit import burst, text_of
from sqlalchemy import func, select
from textual.widgets import Input, TextArea

from crm_tui.models import Customer, Deal, Note, Task

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

SIZES = [(80, 24), (120, 40)]


def count(db, model) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def one(db, model, *where):
    with db.read() as s:
        return s.execute(select(model).where(*where)).scalar_one()


def screen_name(app) -> str:
    return type(app.screen).__name__


async def shown(app, pilot, until, form: str) -> None:
    """Wait until ``form`` is up with its first widget focused (its early keys are in by then)."""
    await until(
        pilot, lambda: screen_name(app) == form and app.focused is not None, what=f"{form} with a focused field"
    )


async def open_form(app, pilot, settle, until, key: str, form: str) -> None:
    await settle(app, pilot)
    await pilot.press(key)
    await shown(app, pilot, until, form)


# -- enter, ctrl+s, escape --------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_enter_goes_to_the_next_field_and_saves_only_on_the_last(make_app, settle, until, db, services, size):
    services.create_customer(name="Acme")
    app = make_app("pipeline")
    async with app.run_test(size=size) as pilot:
        await open_form(app, pilot, settle, until, "n", "DealFormScreen")
        typed = ["Rollout", "Acme", "1200", "eur", "", "+2w", "40"]
        fields = ["title", "customer", "amount", "currency", "owner", "expected_close", "probability"]
        for field, text in zip(fields, typed):
            assert app.focused.id == f"field-{field}"
            if field == "owner":
                app.focused.value = ""  # pre-filled with the rep's name; cleared like a rep would
            await pilot.press(*text)
            if field != "probability":
                await pilot.press("enter")
                assert count(db, Deal) == 0, f"enter in {field} saved the form"
        await pilot.press("enter")  # the last field: saves
        await until(pilot, lambda: screen_name(app) == "PipelineScreen", what="the form to close after saving")
        deal = one(db, Deal, Deal.title == "Rollout")
        assert deal.amount_cents == 120000 and deal.probability == 40 and deal.owner == ""
        assert deal.currency == "EUR"
        assert deal.expected_close == dt.date(2026, 3, 30)  # +2w from the frozen Monday 2026-03-16


async def test_enter_in_the_task_subject_does_not_save_a_task_without_its_due_date(make_app, settle, until, db):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, settle, until, "n", "TaskFormScreen")
        await pilot.press(*"Call Anna", "enter")
        await settle(app, pilot)
        assert screen_name(app) == "TaskFormScreen" and count(db, Task) == 0
        assert app.focused.id == "field-kind"
        await pilot.press("tab", *"tomorrow", "ctrl+s")
        await until(pilot, lambda: screen_name(app) == "TasksScreen", what="the form to close after ctrl+s")
        task = one(db, Task, Task.subject == "Call Anna")
        assert task.due_at == dt.datetime(2026, 3, 17, 9, 0, tzinfo=dt.UTC)


async def test_ctrl_s_saves_from_any_field(make_app, settle, until, db):
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, settle, until, "n", "CustomerForm")
        await pilot.press(*"Globex", "ctrl+s")
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="the form to close after ctrl+s")
        assert one(db, Customer, Customer.name == "Globex").status == "lead"


@pytest.mark.parametrize("size", SIZES)
async def test_escape_closes_an_unchanged_form_at_once_and_asks_before_dropping_a_changed_one(
    make_app, settle, until, db, size
):
    app = make_app("customers")
    async with app.run_test(size=size) as pilot:
        await open_form(app, pilot, settle, until, "n", "CustomerForm")
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="an unchanged form to close on escape")

        await open_form(app, pilot, settle, until, "n", "CustomerForm")
        form = app.screen
        await pilot.press(*"Initech")
        assert form.dirty and "esc discard" in text_of(form.query_one("#form-keys"))
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "ConfirmScreen", what="the discard question")
        confirm = app.screen
        assert "Discard your changes?" in text_of(confirm.query_one("#confirm-question"))
        assert app.focused.id == "confirm-no"  # the safe answer is the default
        await until(pilot, lambda: confirm.answerable, what="the question to be drawn")
        await pilot.press("enter")  # on "Keep editing"
        await until(pilot, lambda: app.screen is form, what="back in the form")
        assert form.query_one("#field-name", Input).value == "Initech"

        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "ConfirmScreen", what="the discard question again")
        await until(pilot, lambda: app.screen.answerable, what="the question to be drawn")
        await pilot.press("y")
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="the form to be discarded")
        assert count(db, Customer) == 0


async def test_a_form_changed_back_to_what_it_opened_with_closes_without_asking(make_app, settle, until, services):
    acme = services.create_customer(name="Acme")
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_customer(acme.id)
        await settle(app, pilot)
        await open_form(app, pilot, settle, until, "e", "CustomerForm")
        await pilot.press("end", "x")
        assert app.screen.dirty
        await pilot.press("backspace")
        assert not app.screen.dirty
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "CustomerDetailScreen", what="the unchanged form to close")


async def test_enter_in_a_note_is_a_new_line_and_ctrl_s_saves(make_app, settle, until, db, services):
    acme = services.create_customer(name="Acme")
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_customer(acme.id)
        await settle(app, pilot)
        await open_form(app, pilot, settle, until, "n", "NoteForm")
        await pilot.press(*"Called", "enter", *"went well")
        assert app.focused.text == "Called\nwent well" and count(db, Note) == 0
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_name(app) == "CustomerDetailScreen", what="the note form to close")
        assert one(db, Note, Note.customer_id == acme.id).body == "Called\nwent well"


# -- keys typed in one burst with the key that opens the form ---------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_a_burst_after_n_lands_in_the_new_form_in_order(make_app, settle, until, db, size):
    app = make_app("customers")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        burst(app, "n", *"Acme Corp")
        await shown(app, pilot, until, "CustomerForm")
        form = app.screen
        name = form.query_one("#field-name", Input)
        await until(
            pilot, lambda: name.value == "Acme Corp", what=f"'Acme Corp' in the name field (it holds {name.value!r})"
        )
        assert app.focused is name
        await pilot.press(*" Ltd")  # keys typed afterwards follow the burst
        assert name.value == "Acme Corp Ltd"


async def test_pressed_in_one_call_n_and_a_name_land_in_the_first_field(make_app, settle, until, db):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n", *"Acme")
        await shown(app, pilot, until, "TaskFormScreen")
        subject = app.screen.query_one("#field-subject", Input)
        await until(pilot, lambda: subject.value == "Acme", what=f"'Acme' in the subject (it holds {subject.value!r})")


async def test_a_burst_with_tab_and_ctrl_s_fills_several_fields_then_saves(make_app, settle, until, db, services):
    services.create_customer(name="Acme")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        burst(app, "n", *"Rollout", "tab", *"Acme", "enter", *"900", "ctrl+s")
        await until(pilot, lambda: count(db, Deal) == 1, what="the deal typed in one burst to be saved")
        deal = one(db, Deal, Deal.title == "Rollout")
        assert deal.amount_cents == 90000 and deal.customer_id is not None


@pytest.mark.keys_only
async def test_enter_typed_in_one_burst_after_the_last_field_saves_every_letter_before_it(
    make_app, settle, until, opened, db, services
):
    """The enter that saves is taken by the form before the field has the letters typed just before
    it: it must save them too (found saving an empty pipeline name; a phone number lost its end)."""
    deal = services.create_deal("Rollout")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        page = await opened(pilot, "DealDetailScreen")
        await until(pilot, lambda: page.detail is not None, what="the deal page")
        await pilot.press("e")
        form = await opened(pilot, "DealFormScreen")
        last = form.query(Input).last()
        form.set_focus(last)
        await pilot.pause()
        last.value = ""
        burst(app, *"55", "enter")
        await until(pilot, lambda: one(db, Deal, Deal.id == deal.id).probability == 55, what="the probability saved")


async def test_letters_of_screen_bindings_typed_in_a_burst_never_act_on_the_screen_below(
    make_app, settle, until, db, services
):
    """Every single-letter binding of the board and the deal page, typed right after the key that opens
    a form, is text in that form: no deal is won, lost, moved or edited."""
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    sentence = "went well wxrHLmopcetn"
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        await settle(app, pilot)
        burst(app, "t", *sentence)
        await shown(app, pilot, until, "TaskFormScreen")
        subject = app.screen.query_one("#field-subject", Input)
        await until(
            pilot, lambda: subject.value == sentence, what=f"the sentence in the subject (it holds {subject.value!r})"
        )
        stored = services.get(Deal, deal.id)
        assert stored.stage_id == deal.stage_id and stored.closed_at is None and stored.version == deal.version


async def test_a_burst_after_x_is_the_lost_reason_and_nothing_else(make_app, settle, until, db, services):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id)
    app = make_app("pipeline")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        burst(app, "x", *"Too pricey", "enter")
        await until(pilot, lambda: services.get(Deal, deal.id).closed_at is not None, what="the deal to be lost")
        assert services.get(Deal, deal.id).lost_reason == "Too pricey"


async def test_a_burst_after_s_types_the_snooze_date(make_app, settle, until, db, services, clock):
    task = services.add_task("Call Anna", due_at=clock.now + dt.timedelta(hours=1))
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        burst(app, "s", *"fri", "enter")
        await until(
            pilot,
            lambda: services.get(Task, task.id).due_at == dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC),
            what="the task to be due Friday 09:00",
        )


async def test_the_note_form_takes_a_burst_into_its_text_area(make_app, settle, until, db, services):
    acme = services.create_customer(name="Acme")
    app = make_app("customers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_customer(acme.id)
        await settle(app, pilot)
        burst(app, "n", *"Called", "enter", *"ok")
        await shown(app, pilot, until, "NoteForm")
        area = app.screen.query_one(TextArea)
        await until(pilot, lambda: area.text == "Called\nok", what=f"the note typed (it holds {area.text!r})")


# -- the confirm dialog -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_a_burst_after_d_never_confirms_a_delete(make_app, settle, until, db, services, size):
    services.create_customer(name="Acme")
    app = make_app("customers")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        burst(app, "d", "y", "enter", "y")
        await shown(app, pilot, until, "ConfirmScreen")
        confirm = app.screen
        await until(pilot, lambda: confirm.answerable, what="the question to be drawn")
        await settle(app, pilot)
        assert app.screen is confirm and app.focused.id == "confirm-no"
        with db.read() as s:
            assert s.execute(select(Customer.deleted_at)).scalar_one() is None
        await pilot.press("y")  # pressed once the question is on the screen: an answer
        await until(pilot, lambda: screen_name(app) == "CustomersScreen", what="the dialog to close")
        await settle(app, pilot)
        with db.read() as s:
            assert s.execute(select(Customer.deleted_at)).scalar_one() is not None


@pytest.mark.keys_only
async def test_tab_and_enter_typed_in_one_burst_move_on_before_the_next_letters(make_app, settle, until, db):
    """Over SSH "Call back<tab>fri" arrives at once: "fri" belongs in the field after the tab."""
    app = make_app("pipeline")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, settle, until, "n", "DealFormScreen")
        burst(app, *"Rollout", "tab", *"Acme", "shift+tab", "tab", "enter", *"1200")
        await until(pilot, lambda: app.screen.query_one("#field-amount", Input).value == "1200", what="the amount")
        form = app.screen
        assert form.query_one("#field-title", Input).value == "Rollout"
        assert form.query_one("#field-customer", Input).value == "Acme"
        assert count(db, Deal) == 0  # enter moved on; it saved nothing
