"""The forms as a rep sees them at 80x24 and 120x40: the task form with every error at once, and the
question before a changed form is dropped. Frozen clock, fixed data."""

from __future__ import annotations

import pytest

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def db(db_path, new_sqlite):
    """Snapshots are of the screen, not the engine: one SQLite file."""
    from crm_tui.db import Database

    database = Database.open(str(new_sqlite(db_path)))
    yield database
    database.close()


def make_app(db, clock, mode):
    from crm_tui.tui.app import create_app

    return create_app(db=db, clock=clock, user="ann", poll=False, initial_mode=mode)


async def _still(pilot) -> None:
    """No blinking cursor (it would make the picture random); let everything settle."""
    for widget in pilot.app.screen.query("Input"):
        widget.cursor_blink = False
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_task_form_with_every_error(snap_compare, settled, db, clock, size):
    open_form = settled("n")

    async def run_before(pilot) -> None:
        await open_form(pilot)
        form = pilot.app.screen
        form.query_one("#field-due").value = "someday"
        form.query_one("#field-customer").value = "Nobody Inc"
        await pilot.press("ctrl+s")
        await _still(pilot)

    assert snap_compare(make_app(db, clock, "tasks"), terminal_size=size, run_before=run_before)


def test_discard_question_at_80x24(snap_compare, settled, db, clock):
    open_form = settled("n")

    async def run_before(pilot) -> None:
        await open_form(pilot)
        await pilot.press(*"Initech", "escape")
        await _still(pilot)

    assert snap_compare(make_app(db, clock, "customers"), terminal_size=(80, 24), run_before=run_before)
