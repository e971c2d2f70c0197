"""Every key does what the rep meant: keys of a burst land in the box they open, the cursor
follows the work, number keys and escape go where a rep expects, undo and redo name what they
take back — pressed with the real keys at 80x24 and 120x40, checked on screen and in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from pilotkit import burst as send_burst
from sqlalchemy import func, select

from crm_tui.models import Customer, Deal, JournalEntry, Stage, Task

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

SIZES = [(80, 24), (120, 40)]

# Keys and screens behave the same on every engine; the journal's engines are tested in the core
# tier (tests/unit/test_journal.py) and by the undo tests below, which run on both.
KEYS_ONLY = pytest.mark.keys_only


def count(db, model, *where):
    with db.read() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def stage_name(db, deal_id):
    with db.read() as s:
        return s.get(Stage, s.get(Deal, deal_id).stage_id).name


def board_text(app):
    widget = app.screen.query_one("#board")
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def task_lines(app):
    widget = app.screen.query_one("#task-list")
    return [widget.render_line(y).text for y in range(widget.size.height)]


@pytest.fixture
def book(services, clock):
    """Customers whose names hold the list's letters, and a few deals and tasks."""
    diego = services.create_customer(name="Diego Deliveries")
    services.create_customer(name="Acme Corp")
    services.create_customer(name="Candid Dental")
    big = services.create_deal("Big rollout", customer_id=diego.id, amount="9000")
    small = services.create_deal("Small pilot", customer_id=diego.id, amount="100")
    services.move_deal_step(small.id, 1)
    call = services.add_task("Call Diego", kind="call", deal_id=big.id, due_at=clock.now - dt.timedelta(days=1))
    mail = services.add_task("Mail Acme", kind="email", due_at=clock.now + dt.timedelta(hours=1))
    later = services.add_task("Plan Q3", due_at=clock.now + dt.timedelta(days=3))
    return {"diego": diego, "big": big, "small": small, "call": call, "mail": mail, "later": later}


# -- keys of a burst --------------------------------------------------------------------------------


@KEYS_ONLY
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("burst", ["dieg", "cd", "nesd"])
async def test_letters_typed_in_one_burst_after_slash_search_and_change_nothing(
    make_app, settle, until, db, book, size, burst
):
    """As keys arrive over SSH: `/dieg` at once searched nothing and `d` opened Delete."""
    customers_before = count(db, Customer, Customer.deleted_at.is_(None))
    app = make_app("customers")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        send_burst(app, "slash", *burst)  # one burst: queued at once, as one read over SSH delivers them
        await until(pilot, lambda: app.screen.query_one("#customers-search").value == burst, what="the search text")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CustomersScreen"  # no confirmation, no form opened
        assert app.screen.query_one("#customers-search").value == burst
        assert app.screen.customer_filter.text == burst
    assert count(db, Customer, Customer.deleted_at.is_(None)) == customers_before


@KEYS_ONLY
async def test_a_burst_after_slash_on_the_board_filters_instead_of_winning(make_app, settle, until, db, book):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        send_burst(app, "slash", *"wxLn")
        await until(pilot, lambda: app.screen.query_one("#pipeline-filter").value == "wxLn", what="the filter text")
        await settle(app, pilot)
        assert app.screen.query_one("#pipeline-filter").value == "wxLn"
        assert type(app.screen).__name__ == "PipelineScreen"
    assert stage_name(db, book["big"].id) == "Lead" and stage_name(db, book["small"].id) == "Qualified"


# -- the cursor follows the work ----------------------------------------------------------------------


@KEYS_ONLY
@pytest.mark.parametrize("size", SIZES)
async def test_a_new_deal_is_selected_so_the_next_key_acts_on_it(make_app, settle, until, db, book, size):
    app = make_app("pipeline")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#field-title").value = "Fresh lead"
        form.query_one("#field-amount").value = "50"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not form, what="the form to close")
        board = app.screen.query_one("#board")
        await until(pilot, lambda: board.cursor_card is not None and board.cursor_card.title == "Fresh lead",
                    what="the cursor on the new card")  # fmt: skip
        await pilot.press("L")
        await settle(app, pilot)
    with db.read() as s:
        fresh = s.scalars(select(Deal).where(Deal.title == "Fresh lead")).one()
    assert stage_name(db, fresh.id) == "Qualified"  # L moved the new deal, not the old card
    assert stage_name(db, book["big"].id) == "Lead"


@KEYS_ONLY
@pytest.mark.parametrize("size", SIZES)
async def test_after_a_win_the_cursor_is_on_the_next_card_of_the_column_and_enter_opens_it(
    make_app, settle, until, db, services, size
):
    first = services.create_deal("First", amount="300")
    second = services.create_deal("Second", amount="200")
    app = make_app("pipeline")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        board = app.screen.query_one("#board")
        assert board.cursor_card.id == first.id  # biggest first
        await pilot.press("w")
        await until(pilot, lambda: stage_name(db, first.id) == "Won", what="the win")
        await settle(app, pilot)
        await until(pilot, lambda: board.cursor_card is not None and board.cursor_card.id == second.id,
                    what="the cursor on the next card")  # fmt: skip
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "DealDetailScreen" and app.screen.deal_id == second.id


@KEYS_ONLY
async def test_done_keeps_the_cursor_in_place_and_mine_shows_the_headers(make_app, settle, until, opened, db, book):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        task_list = app.screen.query_one("#task-list")
        assert task_list.current.id == book["call"].id
        await pilot.press("space")
        await until(pilot, lambda: count(db, Task, Task.done_at.is_not(None)) == 1, what="the completion")
        await opened(pilot, "TaskFormScreen")  # Big rollout's next step: skipped
        await pilot.press("escape")
        await settle(app, pilot)
        # the cursor stays where it was — on the task that took its place — not in Done
        assert task_list.current.id == book["mail"].id
        await pilot.press("space")
        await until(pilot, lambda: count(db, Task, Task.done_at.is_not(None)) == 2, what="the second completion")
        await settle(app, pilot)
        # next in line, in the rep's own day: a deal of theirs waiting for its next step
        assert task_list.current.group == "No next step" and task_list.current.done_at is None
        await pilot.press("m")  # everyone's tasks
        await settle(app, pilot)
        shown = task_lines(app)
        assert shown[0].startswith(" Overdue") and task_list.top == 0
    with db.read() as s:
        assert {t.subject for t in s.scalars(select(Task).where(Task.done_at.is_not(None)))} == {
            "Call Diego",
            "Mail Acme",
        }


# -- screens: number keys and escape -----------------------------------------------------------------


@KEYS_ONLY
async def test_number_keys_go_to_the_list_of_their_section(make_app, settle, until, book):
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # a customer's page
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CustomerDetailScreen"
        await pilot.press("2", "1")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CustomersScreen"  # the list, not the page left open
        await pilot.press("2", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "DealDetailScreen"
        await pilot.press("3", "2")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "PipelineScreen"


@KEYS_ONLY
async def test_escape_goes_back_to_where_the_rep_came_from(make_app, settle, book):
    app = make_app("tasks")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # the overdue call's deal
        await settle(app, pilot)
        assert type(app.screen).__name__ == "DealDetailScreen" and app.screen.deal_id == book["big"].id
        await pilot.press("c")  # and its customer
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CustomerDetailScreen"
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "DealDetailScreen"
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TasksScreen" and app.current_mode == "tasks"


# -- undo and redo name what they take back ----------------------------------------------------------


async def test_undo_takes_back_a_snooze_not_an_older_win_and_names_it(
    make_app, settle, until, db, services, clock, book, notifications
):
    services.win_deal(book["small"].id)  # an older action of the same rep
    app = make_app("tasks")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        before = book["call"].due_at
        await pilot.press("s")
        await settle(app, pilot)
        await pilot.press("enter")  # +1 day
        await until(pilot, lambda: seen.said("Snoozed"), what="the snooze")
        await pilot.press("ctrl+z")
        await until(pilot, lambda: seen.said("Undo: snooze 'Call Diego'"), what="the undo's message")
        with db.read() as s:
            assert s.get(Task, book["call"].id).due_at == before
        assert stage_name(db, book["small"].id) == "Won"  # the older win is untouched
        await pilot.press("ctrl+y")
        await until(pilot, lambda: seen.said("Redo: snooze 'Call Diego'"), what="the redo's message")
        with db.read() as s:
            assert s.get(Task, book["call"].id).due_at == clock.now + dt.timedelta(days=1)  # +1 day from now


async def test_undo_says_what_another_session_changed_instead_of_overwriting(
    make_app, settle, until, db, services, clock, book, notifications
):
    from crm_tui.services import Services

    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("L")  # Big rollout: Lead → Qualified
        await until(pilot, lambda: stage_name(db, book["big"].id) == "Qualified", what="the move")
        Services(db, user="bob", clock=clock).move_deal_step(book["big"].id, 1)  # another rep moves it on
        await pilot.press("ctrl+z")
        await until(pilot, lambda: seen.said("Cannot undo"), what="the refusal")
        assert seen.said("was changed since") and seen.said("stage")
        assert stage_name(db, book["big"].id) == "Proposal"  # bob's move stands


async def test_history_on_the_deal_page_lists_changes_and_follows_an_undo(make_app, settle, until, db, book):
    from crm_tui.tui.screens.deal_detail import DealDetailScreen

    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("L")
        await until(pilot, lambda: stage_name(db, book["big"].id) == "Qualified", what="the move")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)
        history = app.screen.query_one("#deal-changes")

        def text():
            return str(history.render())

        await until(pilot, lambda: "move 'Big rollout' from Lead to Qualified" in text(), what="the history")
        assert "stage: Lead → Qualified" in text()
        await pilot.press("ctrl+z")
        await until(pilot, lambda: "(undone)" in text(), what="the undo in the history")
        assert "undo move 'Big rollout'" in text()
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(JournalEntry)).scalar() >= 2


@KEYS_ONLY
async def test_the_deal_page_offers_win_and_lose_only_on_open_deals_and_reopen_on_closed(
    make_app, settle, until, db, services, book
):
    services.win_deal(book["small"].id)
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(book["small"].id)
        await settle(app, pilot)
        bar = {d for _k, _s, d, on, _t in app.screen.query_one("KeyBar").keys() if on}
        assert "Reopen" in bar and "Win" not in bar and "Lose" not in bar
        await pilot.press("w")  # nothing: it is won already
        await pilot.press("r")
        await until(pilot, lambda: stage_name(db, book["small"].id) == "Qualified", what="the reopen")
        await settle(app, pilot)
        bar = {d for _k, _s, d, on, _t in app.screen.query_one("KeyBar").keys() if on}
        assert "Win" in bar and "Reopen" not in bar


# -- the palette reaches every key's action by name -----------------------------------------------------


@KEYS_ONLY
async def test_the_palette_lists_every_binding_of_every_screen_by_name(make_app, settle, until, book):
    """Nothing exists only behind a key: each action bound where the rep is — the screen's, its
    focused widget's, the app's — is a palette command named by what it does."""
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        visits = [
            ("1", None), ("2", None), ("3", None), ("4", None), ("5", None),
            ("2", "enter"), ("1", "enter"), ("2", "S"), ("5", "P"),
        ]  # fmt: skip
        for key, then in visits:
            await pilot.press(key)
            if then:
                await pilot.press(then)
            await settle(app, pilot)
            screen = app.screen
            titles = {command.title for command in app.get_system_commands(screen)}
            bound = [active.binding for active in screen.active_bindings.values() if active.binding.id]
            # named by what it does (the tooltip) and by the name the key bar shows beside its key
            missing = [
                (b.description, b.tooltip)
                for b in bound
                if not (b.description in ("Quit", "Keys") and b.description in titles)  # Textual's own commands
                and not any(b.tooltip in t and b.description.strip("◀▶ ").lower() in t.lower() for t in titles)
            ]
            assert bound and not missing, (type(screen).__name__, missing)
            assert {"Go to Customers", "Go to Pipeline", "Go to Tasks", "Go to Reports"} <= titles
            # the design screens from anywhere: by name, or by their own key's name where it is bound
            assert "Edit stages" in titles or any(t.startswith("Edit stages:") for t in titles)
            assert "Products" in titles or any(t.startswith("Products:") for t in titles)


@KEYS_ONLY
async def test_the_word_beside_a_key_finds_its_action_in_the_palette(make_app, settle, palette):
    """The key bar says "w Win", "x Lose", "s Snooze": typing that word finds the action, and
    Quit is offered once."""
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await palette(pilot, "win", offers="Win: Mark the highlighted deal won")
        await pilot.press("escape")
        await palette(pilot, "lose", offers="Lose: Mark the highlighted deal lost")
        await pilot.press("escape")
        hits = await palette(pilot, "quit", offers="Quit")
        assert sum("Quit" in hit for hit in hits) == 1, hits
        await pilot.press("escape", "3")
        await settle(app, pilot)
        await palette(pilot, "snooze", offers="Snooze: Push the due date")


@KEYS_ONLY
async def test_an_action_found_by_name_in_the_palette_runs_on_the_highlighted_card(make_app, settle, until, db, book):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p", *"highlighted deal won")
        palette = app.screen

        def offered():
            from textual.widgets import OptionList

            options = palette.query_one(OptionList)
            return options.option_count and "won" in str(options.get_option_at_index(0).prompt)

        await until(pilot, offered, what="the palette to offer the win")
        await pilot.press("enter")
        await until(pilot, lambda: stage_name(db, book["big"].id) == "Won", what="the win")


@KEYS_ONLY
async def test_a_keymap_mistake_is_said_not_silently_ignored(make_app, settle, until, notifications, palette):
    """A misspelt id in the keymap, and a key given to Lose that Win had: each is said once,
    naming the id to fix; the palette shows each action's id to write in the keymap."""
    import json
    import os
    from pathlib import Path

    folder = Path(os.environ["CRM_TUI_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    keymap = {"pipeline.winn": "W", "pipeline.lose": "w"}
    (folder / "settings.json").write_text(json.dumps({"keymap": keymap}), encoding="utf-8")
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await until(
            pilot, lambda: seen.said("'pipeline.winn' (did you mean 'pipeline.win'?)"), what="the misspelt id said"
        )
        await until(
            pilot, lambda: seen.said("gave the key of Win (pipeline.win) to another action"), what="Win keyless said"
        )
        await pilot.press("down", "up")
        await settle(app, pilot)
        assert len([t for t in seen.titled("Keys") if "has no key" in t]) == 1  # said once, not per key
        await palette(pilot, "lose", offers="Lose: Mark the highlighted deal lost")
        hits = app.screen.query_one("OptionList")
        assert "keymap id pipeline.lose" in str(hits.get_option_at_index(0).prompt)


@KEYS_ONLY
async def test_a_remapped_section_key_is_the_one_the_screen_bar_shows_and_the_one_that_works(make_app, settle, until):
    import json
    import os
    from pathlib import Path

    folder = Path(os.environ["CRM_TUI_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"keymap": {"screen.pipeline": "f9"}}), encoding="utf-8")
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        bar = str(app.screen.query_one("ModeBar").render())
        assert "f9 Pipeline" in bar.replace("F9", "f9") and "2 Pipeline" not in bar
        await pilot.press("f9")
        await until(pilot, lambda: app.current_mode == "pipeline", what="the remapped key")
