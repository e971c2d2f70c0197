"""Goals on screen at 80x24 and 120x40: the board's attainment line and a "deals advanced into"
goal on its stage header, the Reports goals panel, and the goal form (g on Reports). The board
snapshots' data plus ann's won-value goal of the month and everyone's Proposal goal."""

from __future__ import annotations

import pytest

from crm_tui.services import Services
from crm_tui.tui.app import create_app

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", ["pipeline", "reports", "goal_form"])
def test_goals_snapshot(snap_compare, settled, board_db, clock, view, size):
    services = Services(board_db, user="ann", clock=clock)
    services.set_goal("won_value", "month", "40000", owner="ann")
    services.set_goal("deals_advanced", "month", "3", stage="Proposal")
    services.set_goal("activities_done", "week", "5", owner="bob")
    mode = "pipeline" if view == "pipeline" else "reports"
    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode=mode)
    keys = ("g",) if view == "goal_form" else ()
    assert snap_compare(app, terminal_size=size, run_before=settled(*keys))
