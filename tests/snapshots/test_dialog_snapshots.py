"""Every page, form and dialog a key opens, at 80x24 and 120x40, on the board's fixed book with a
frozen clock: the deal page with its History, the deal, contact, note and customer forms, the
lost reason, the snooze menu, the activity form, the next step asked after a deal's last task,
the owner picker, the funnel design page with its stage and stage task forms, the product catalogue and
its form, the delete question, the discard question, the import and export prompts and the import's preview."""

from __future__ import annotations

import pytest

from crm_tui.tui.app import create_app

SIZES = [(80, 24), (120, 40)]

# (name, the screen it starts on, the keys that open it)
OPENED = [
    ("deal_page", "pipeline", ("enter",)),
    ("deal_form", "pipeline", ("n",)),
    ("deal_edit", "pipeline", ("enter", "e")),
    ("lost_reason", "pipeline", ("x",)),
    ("owner_picker", "pipeline", ("o",)),
    ("delete_question", "customers", ("d",)),
    ("customer_form", "customers", ("e",)),
    ("contact_form", "customers", ("enter", "c")),
    ("note_form", "customers", ("enter", "n")),
    ("snooze_menu", "tasks", ("s",)),
    ("activity_form", "pipeline", ("enter", "a")),
    ("next_step_question", "tasks", ("space",)),
    ("discard_question", "customers", ("n", "A", "c", "m", "e", "escape")),
    ("funnel_design", "pipeline", ("S", "down")),
    ("product_catalogue", "orders", ("P",)),
    ("stage_form", "pipeline", ("S", "n")),
    ("stage_task_form", "pipeline", ("S", "down", "t")),
    ("product_form", "orders", ("P", "n")),
]


def quiet_cursors(pilot) -> None:
    """No blinking cursor: it would make the picture depend on the moment it is taken."""
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name, mode, keys", OPENED, ids=[o[0] for o in OPENED])
def test_opened_by_a_key(snap_compare, settled, board_db, clock, name, mode, keys, size):
    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode=mode)
    press = settled(*keys)

    async def run_before(pilot) -> None:
        await press(pilot)
        quiet_cursors(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("direction", ["import", "export"])
def test_import_and_export_prompts(snap_compare, settled, board_db, clock, direction, size):
    from crm_tui.tui.transfer_commands import open_transfer

    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode="customers")
    ready = settled()

    async def run_before(pilot) -> None:
        await ready(pilot)
        open_transfer(pilot.app, direction, "deals")
        await ready(pilot)
        quiet_cursors(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_import_preview(snap_compare, settled, board_db, clock, size):
    """The preview step of a Zoho deals file: profile, counts, the first rows, the mapping."""
    from pathlib import Path

    from crm_tui.tui.transfer_commands import open_transfer

    source = Path(__file__).resolve().parents[1] / "data" / "io" / "zoho_crm_deals.csv"
    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode="customers")
    ready = settled()

    async def run_before(pilot) -> None:
        await ready(pilot)
        open_transfer(pilot.app, "import", "deals")
        await ready(pilot)
        pilot.app.screen.query_one("#transfer-path").value = str(source)
        await pilot.press("enter")
        await ready(pilot)
        assert type(pilot.app.screen).__name__ == "ImportPreviewScreen"
        quiet_cursors(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
