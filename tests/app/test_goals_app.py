"""Goals in the app: set one from Reports with g, win a deal on the board, and the board's
attainment line and the Reports goals panel follow without a reload."""

from __future__ import annotations

import pytest


def panel_text(app):
    """The goals panel's text, or '' while another screen (the form, still saving) is on top."""
    found = app.screen.query("#goals-panel")
    return str(found.first().render()) if found else ""


def goal_line(app):
    found = app.screen.query("#pipeline-goal")
    return str(found.first().render()) if found else ""


@pytest.mark.keys_only
async def test_set_a_goal_then_a_win_moves_the_bar_and_the_panel(make_app, settle, opened, until, services):
    services.create_deal("Big", amount="1100", owner="ann")
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "none set yet" in panel_text(app)
        await pilot.press("g")
        form = await opened(pilot, "GoalFormScreen")
        form.query_one("#field-target").focus()
        await pilot.pause()
        await pilot.press(*"2000", "ctrl+s")
        await until(pilot, lambda: "0% of 2,000 won" in panel_text(app), what=lambda: panel_text(app))
        assert "everyone" in panel_text(app)  # the owner left blank: everyone's goal
        await pilot.press("2")  # the board
        await until(pilot, lambda: "Mar: 0% of 2,000 won" in goal_line(app), what=lambda: goal_line(app))
        assert app.screen.query_one("#pipeline-goal").has_class("-behind")
        await pilot.press("w")
        await until(pilot, lambda: "Mar: 55% of 2,000 won" in goal_line(app), what=lambda: goal_line(app))
        assert app.screen.query_one("#pipeline-goal").has_class(
            "-ahead"
        )  # 55% by Mar 16 14:30 (50.3% of March gone): on pace
        await pilot.press("4")  # back on Reports: the panel followed the win
        await until(pilot, lambda: "55% of 2,000 won" in panel_text(app), what=lambda: panel_text(app))
