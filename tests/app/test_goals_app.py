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
    """The first time Reports opens, the goals are read alone, from the moment the screen is built
    (side by side with the report and the forecast they waited several times as long); the rest
    follows them, and still comes when reading the goals fails (which is said)."""
    import threading
    import time

    import crm_tui.tui.screens.reports as reports

    services.set_goal("deals_won", "month", "3")
    services.win_deal(services.create_deal("a", amount="300").id)
    calls: list[tuple[str, str]] = []

    def noted(name, real, fail_first=False):
        def read(*args, **kwargs):
            calls.append((name, threading.current_thread().name))
            try:
                if fail_first and len([c for c in calls if c[0] == name]) == 1:
                    time.sleep(0.2)  # long enough for anything started beside it to show
                    raise RuntimeError("the goals could not be read")
                return real(*args, **kwargs)
            finally:
                calls.append((f"{name} done", ""))

        return read

    monkeypatch.setattr(reports, "goal_progress", noted("goals", reports.goal_progress, fail_first=True))
    monkeypatch.setattr(reports, "report_sections", noted("report", reports.report_sections))
    monkeypatch.setattr(reports, "category_forecast", noted("forecast", reports.category_forecast))
    app = make_app()
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        screen = app.screen
        await until(pilot, lambda: screen.data is not None, what="the report after the failed goals")
        names = [name for name, _thread in calls]
        assert calls[0] == ("goals", "crm-tui read ahead"), calls  # from the moment the screen was built
        assert names.index("goals done") < names.index("report") and names.index("goals done") < names.index("forecast")
        assert seen.said("the goals could not be read")
        assert screen.query_one("#kpi-won").value == "300.00"
        services.create_deal("b", amount="5")  # a change: this time everything side by side
        await settle(app, pilot)
        assert len(screen.query_one("GoalsPanel").rows) == 1 and names.count("goals") == 1
        assert [name for name, _thread in calls].count("goals") == 2
