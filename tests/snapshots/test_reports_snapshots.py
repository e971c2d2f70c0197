"""Reports scrolled to its last panel, the activities done in the period (per owner and kind, and
their outcomes), at 80x24 and 120x40: frozen clock, the board snapshots' data (one email done)."""

from __future__ import annotations

import pytest

from crm_tui.tui.app import create_app

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reports_scrolled_to_the_activities(snap_compare, settled, board_db, clock, size):
    app = create_app(db=board_db, clock=clock, user="ann", poll=False, initial_mode="reports")
    ready = settled()

    async def run_before(pilot) -> None:
        await ready(pilot)
        body = pilot.app.screen.query_one("#reports-body")
        body.scroll_end(animate=False, immediate=True)
        await ready(pilot)
        assert body.scroll_y == body.max_scroll_y > 0
        assert pilot.app.screen.query_one("#activities").region.bottom <= body.region.bottom  # all of it in view

    assert snap_compare(app, terminal_size=size, run_before=run_before)
