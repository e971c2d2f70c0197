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


@pytest.mark.keys_only
async def test_on_the_first_visit_the_goals_come_first_and_a_failure_holds_nothing_back(
    make_app, settle, until, notifications, services, monkeypatch
):
    """The first time Reports opens, the goals are read alone (side by side with the report and
    the forecast they waited several times as long); the rest follows them, and still comes when
    reading the goals fails (which is said)."""
    import threading

    import crm_tui.tui.screens.reports as reports

    services.set_goal("deals_won", "month", "3")
    services.win_deal(services.create_deal("a", amount="300").id)
    real, held, started = reports.goal_progress, threading.Event(), []

    def goal_progress(*args, **kwargs):
        started.append(1)
        held.wait(10)
        if len(started) == 1:
            raise RuntimeError("the goals could not be read")
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "goal_progress", goal_progress)
    app = make_app("reports")
    seen = notifications(app)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await until(pilot, lambda: started, what="the goals being read", workers=False)
            await pilot.pause(0.2)
            assert screen.query_one("#kpi-won").value == "…"  # the report waits for the goals
            assert "by category" not in str(screen.query_one("ForecastPanel").render())  # nor the forecast
            held.set()
            await until(pilot, lambda: screen.data is not None, what="the report after the failed goals")
            assert seen.said("the goals could not be read")
            assert screen.query_one("#kpi-won").value == "300.00"
            services.create_deal("b", amount="5")  # a change: this time everything side by side
            await settle(app, pilot)
            assert len(screen.query_one("GoalsPanel").rows) == 1 and len(started) == 2
    finally:
        held.set()
