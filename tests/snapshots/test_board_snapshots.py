"""Pipeline, Tasks and Reports at 80x24 and 120x40: frozen clock, fixed data seeded through Services."""

from __future__ import annotations

import pytest

from crm_tui.tui.app import create_app

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", ["pipeline", "tasks", "reports"])
def test_screen_snapshot(snap_compare, settled, board_db, clock, mode, size):
    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode=mode)
    assert snap_compare(app, terminal_size=size, run_before=settled())
