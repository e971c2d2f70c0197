"""What every screen shares: the key bar, stylesheets read once, one reload per change."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_tui.tui.widgets.key_bar import KeyBar


def bar_line(bar: KeyBar) -> str:
    """The key bar as the rep sees it."""
    return "".join(segment.text for segment in bar.render_line(0))


@pytest.mark.keys_only
async def test_key_bar_lists_the_keys_that_work_here_and_follows_focus(make_app, settle, until):
    app = make_app("customers")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(KeyBar)
        shown = {description for _key, _shown, description, _on, _tip in bar.keys()}
        assert {"Search", "Filter", "Sort", "New", "Edit", "Delete", "Undo", "Keys", "Open"} <= shown
        assert "Reverse" not in shown  # show=False bindings stay out of the bar
        line = bar_line(bar)
        assert "/ Search" in line and "n New" in line
        await pilot.press("slash")  # the search box has focus: the table's keys go
        await pilot.pause()
        assert "Open" not in {d for _k, _s, d, _on, _t in bar.keys()}
        await pilot.press("escape")  # back to the table: its keys come back
        await until(pilot, lambda: "Open" in {d for _k, _s, d, _on, _t in bar.keys()}, what="the table's keys")
        assert app.screen.table.has_focus and " Open " in bar_line(bar)


@pytest.mark.keys_only
async def test_clicking_a_key_in_the_bar_presses_it(make_app, settle):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(KeyBar)
        await pilot.click(KeyBar, offset=(bar_line(bar).index("/ Filter"), 0))
        await pilot.pause()
        assert app.screen.query_one("#pipeline-filter").has_focus


@pytest.mark.keys_only
async def test_hovering_a_key_shows_its_tooltip(make_app, settle):
    app = make_app("tasks")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(KeyBar)
        _key, shown, description, _on, tooltip = bar.keys()[0]
        await pilot.hover(KeyBar, offset=(bar_line(bar).index(f"{shown} {description}"), 0))
        await pilot.pause()
        assert bar.tooltip == tooltip and tooltip


@pytest.mark.keys_only
def test_every_stylesheet_is_read_at_start_up():
    """A screen whose stylesheet is new makes Textual re-parse and re-apply all CSS when it
    opens (~0.15 s): every .tcss of the app must be in CrmApp.CSS_PATH."""
    from crm_tui.tui import app as app_module

    folder = Path(app_module.__file__).parent
    listed = {(folder / p).resolve() for p in app_module.CrmApp.CSS_PATH}
    on_disk = {p.resolve() for p in folder.rglob("*.tcss")}
    assert on_disk == listed


async def test_each_screen_reloads_once_per_change(make_app, settle, services):
    """The screen on show re-reads once per change: a screen subscribed twice re-read
    everything twice on every save (it happened: see CrmScreen.on_mount)."""
    app = make_app("customers")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        for n, key in enumerate(("1", "2", "3", "4")):
            await pilot.press(key)
            await settle(app, pilot)
            screen = app.screen
            calls = []
            original = screen.reload
            screen.reload = lambda original=original: (calls.append(1), original())
            services.create_customer(name=f"Fresh {n}")  # every main screen watches customers
            await settle(app, pilot)
            del screen.reload
            assert len(calls) == 1, type(screen).__name__


async def test_a_failed_read_is_said_not_swallowed(make_app, settle, notifications, monkeypatch):
    """A search whose read fails must say so, not leave the old rows on screen in silence."""
    import crm_tui.queries.customers as queries
    from crm_tui.errors import DatabaseError

    app = make_app("customers")
    seen = notifications(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        before = len(seen)

        def broken(*_a, **_k):
            raise DatabaseError("the database file is gone; put it back or restart crm-tui")

        monkeypatch.setattr(queries, "first_page", broken)  # what a new search reads
        await pilot.press("slash", "x")
        await settle(app, pilot)
        assert seen.texts()[before:] == ["Could not load: the database file is gone; put it back or restart crm-tui"]


@pytest.mark.keys_only
async def test_a_narrow_key_bar_keeps_whole_keys_and_the_key_that_lists_them_all(make_app, settle):
    app = make_app("pipeline")
    async with app.run_test(size=(60, 24)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(KeyBar)
        line = "".join(segment.text for segment in bar.render_line(0)).rstrip()
        assert len(bar.keys()) > 6 and len(line) <= 60
        assert line.endswith("… ? Keys")
        drawn = [description for _key, _shown, description, _on, _tip in bar.keys() if f" {description} " in line]
        assert drawn[0] == bar.keys()[0][2]  # the first keys, each whole
        await pilot.click(KeyBar, offset=(len(line) - 3, 0))  # "? Keys" still works from the bar
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        app.set_keymap({"app.help": "f1"})  # a rep who moved the help key keeps it in view
        await pilot.pause()
        bar.refresh()
        await pilot.pause()
        line = "".join(segment.text for segment in bar.render_line(0)).rstrip()
        assert line.endswith("… f1 Keys") and len(line) <= 60
