"""The app shell: screen keys, the palette, undo, themes, help and warnings."""

from __future__ import annotations

import os

import pytest

from crm_tui.models import Deal

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


async def test_number_keys_and_screen_bar_switch_screens(make_app, settle):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        for key, mode in (("2", "pipeline"), ("3", "tasks"), ("4", "reports"), ("1", "customers")):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.current_mode == mode
        await pilot.press("f2")
        assert app.current_mode == "pipeline"
        await pilot.click("ModeBar", offset=(30, 0))  # "3 Tasks" in the screen bar
        await settle(app, pilot)
        assert app.current_mode == "tasks"


async def test_palette_reaches_screens_and_jumps_to_a_customer(make_app, settle, services, palette):
    acme = services.create_customer(name="Acme Rockets")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await palette(pilot, "Go to Reports")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_mode == "reports"
        await palette(pilot, "Rockets", offers="Acme Rockets")  # the customer, found in the database
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CustomerDetailScreen"  # on top of Reports
        assert app.screen.customer_id == acme.id
        await pilot.press("escape")  # back where the rep came from
        await settle(app, pilot)
        assert app.current_mode == "reports" and type(app.screen).__name__ == "ReportsScreen"


async def test_undo_with_nothing_to_undo_says_so(make_app, settle, until, notifications):
    app = make_app()
    seen = notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+z")
        await until(pilot, lambda: seen.said("Nothing to undo"), what=lambda: f"'Nothing to undo'; said {seen.texts()}")


async def test_undo_takes_back_a_stage_move_made_on_the_board(make_app, settle, services, db):
    deal = services.create_deal("Rollout", amount=1000)
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("L")
        await settle(app, pilot)
        assert services.get(Deal, deal.id).stage_id != deal.stage_id
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert services.get(Deal, deal.id).stage_id == deal.stage_id


async def test_theme_is_remembered(make_app, settle):
    from crm_tui.config import load_settings

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.theme = "nord"
        await pilot.pause()
    assert load_settings()["theme"] == "nord"
    again = make_app()
    async with again.run_test(size=(100, 30)):
        assert again.theme == "nord"


async def test_help_key_toggles_the_key_list(make_app, settle):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")


@pytest.mark.sqlite_only
async def test_database_readable_by_others_is_flagged_once(db_path, db, clock, settle, until, notifications):
    from crm_tui.tui.app import create_app

    os.chmod(db_path, 0o644)
    app = create_app(db=str(db_path), clock=clock, user="ann", poll=False)
    seen = notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.db is not None, what="the database to open")
        await settle(app, pilot, rounds=5)  # and every screen to have loaded from it (a second warning would be out)
        warnings = seen.titled("Privacy")
        assert len(warnings) == 1 and "doctor --fix" in warnings[0]


@pytest.mark.sqlite_only
async def test_unopenable_database_exits_with_one_clear_message(tmp_path, until):
    from crm_tui.tui.app import create_app

    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 500)
    import gc

    usual = gc.get_threshold()
    app = create_app(db=str(junk), poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.return_code is not None, what="the app to give up on the file")
    assert app.return_code == 2
    assert "not a valid crm-tui database" in app.startup_error
    assert gc.get_threshold() == usual  # a failed start-up changes nothing in the process


async def test_full_collections_wait_only_for_start_up(make_app, settle, monkeypatch):
    """No full collection in the middle of start-up (a 60–80 ms pause at 100k customers):
    they are held off until the database is open, then what start-up made is frozen and
    the usual thresholds come back."""
    import gc

    import crm_tui.services
    from crm_tui.tui.collector import Collector

    usual = gc.get_threshold()
    frozen = []
    memory = Collector(freezer=lambda: frozen.append(1))
    seen = []
    real = crm_tui.services.Services

    def opening(*args, **kwargs):  # made while the database layer opens, during start-up
        seen.append((memory.held, gc.get_threshold()[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(crm_tui.services, "Services", opening)
    app = make_app(memory=memory)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.db is not None
        assert not memory.held and gc.get_threshold()[1:] == usual[1:]
    assert seen and seen[0][0] and seen[0][1] > 10**6
    assert frozen  # what start-up made was frozen once it was over
    assert gc.get_threshold() == usual  # the app gone, Python's thresholds are back


async def test_young_collections_wait_for_many_objects_while_the_app_runs(make_app, settle):
    """A frame makes thousands of short-lived objects: at Python's default the collector ran
    five or six times a frame and brought 15–25 ms full collections while scrolling. While
    an app runs, young collections wait for YOUNG new objects; after, the usual comes back."""
    import gc

    from crm_tui.tui.collector import YOUNG, Collector

    usual = gc.get_threshold()
    app = make_app(memory=Collector(freezer=lambda: None))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert gc.get_threshold()[0] == max(usual[0], YOUNG) > 700
    assert gc.get_threshold() == usual


async def test_an_app_made_without_the_command_line_leaves_the_collector_alone(make_app, settle, monkeypatch):
    """Importing and running the app (tests, another program embedding it) changes nothing in
    the process: only `crm-tui` itself tunes the garbage collector and the frame rate."""
    import gc
    import importlib
    import os

    monkeypatch.delenv("TEXTUAL_FPS", raising=False)
    importlib.reload(importlib.import_module("crm_tui.tui"))
    assert "TEXTUAL_FPS" not in os.environ
    usual, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        assert gc.get_threshold() == usual
    assert gc.get_freeze_count() == frozen_before


def test_young_setting_and_holds_are_independent():
    import gc

    from crm_tui.tui.collector import _NEVER, YOUNG, Collector

    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever ran before
    try:
        collector = Collector()
        collector.app_started()
        collector.hold()
        assert gc.get_threshold() == (YOUNG, 10, _NEVER) and collector.held
        collector.release(freeze=False)
        assert gc.get_threshold() == (YOUNG, 10, 10)  # full collections back, young still wide
        collector.app_stopped()
        collector.app_stopped()  # one stop too many changes nothing
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*saved)


def test_holds_on_full_collections_nest_across_threads():
    import gc
    import threading

    from crm_tui.tui.collector import _NEVER, Collector

    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        holds = Collector()
        holds.hold()
        worker = threading.Thread(target=lambda: (holds.hold(), holds.release()))
        worker.start()
        worker.join()
        assert holds.held and gc.get_threshold() == (700, 10, _NEVER)  # the other thread's release kept mine
        holds.release(freeze=False)
        assert not holds.held and gc.get_threshold() == (700, 10, 10)
        holds.release()  # one release too many changes nothing
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*saved)


async def test_palette_shows_names_literally(make_app, settle, services, palette):
    services.create_customer(name="[red]ACME[/red] Tools")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        shown = await palette(pilot, "ACME", offers="Tools", first=False)  # the customer's hit has come
        assert any("[red]ACME[/red] Tools" in text for text in shown), shown


@pytest.mark.sqlite_only
async def test_the_first_rows_come_without_a_stylesheet_reparse_and_the_filters_follow(
    db_path, services, clock, settle, until, monkeypatch
):
    """Start-up's first screen is built once: no re-parse of every stylesheet on the way to the
    first rows (a mode's new screen cost two, a tenth of start-up), and the filter menus, mounted
    after the rows, work as before: ``f`` reaches them and the owner menu lists the owners."""
    from textual.css.stylesheet import Stylesheet

    from crm_tui.tui.app import create_app

    services.create_customer(name="Acme Rockets", owner="bob")
    services.create_customer(name="Bolt Tools", owner="ann")
    reparsed = []
    real = Stylesheet.reparse

    def reparse(self):
        reparsed.append(1)
        return real(self)

    monkeypatch.setattr(Stylesheet, "reparse", reparse)
    app = create_app(db=str(db_path), clock=clock, user="ann", poll=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.table.row_count == 2, what="the first rows")
        assert reparsed == []
        await settle(app, pilot)
        assert app.current_mode == "customers"
        await pilot.press("f")
        await settle(app, pilot)
        assert app.focused is app.screen.query_one("#filter-status")
        owners = app.screen.query_one("#filter-owner")
        menu = owners.query_one("SelectOverlay")
        await until(pilot, lambda: menu.option_count == 3, what="the owners in the menu")  # blank, ann, bob
        await pilot.press("2", "1")  # away and back: the same screen, its menus still there
        await settle(app, pilot)
        assert app.screen.query_one("#filter-owner") is owners
