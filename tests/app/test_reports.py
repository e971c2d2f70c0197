"""The Reports screen: tiles follow changes, period and owner selectors, CSV export."""

from __future__ import annotations

import os
import stat

import pytest


async def test_tiles_periods_owner_and_export(make_app, settle, opened, services, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = services.create_deal("a", amount="300", owner="ann")
    services.win_deal(a.id)
    clock.advance(days=-400)
    old = services.create_deal("old", amount="700", owner="bob")
    services.win_deal(old.id)
    clock.advance(days=400)
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        tile = lambda key: app.screen.query_one(f"#kpi-{key}")  # noqa: E731
        assert tile("won").value == "1,000.00"
        assert tile("C").value == "0"
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")  # This year
        await settle(app, pilot)
        assert app.screen.period == "This year"
        assert tile("won").value == "300.00"
        # a change elsewhere recomputes without asking
        services.create_customer(name="New one")
        await settle(app, pilot)
        assert tile("C").value == "1"
        await pilot.press("o")
        await opened(pilot, "PickScreen")
        await pilot.press("down", "down", "enter")  # Everyone, ann, bob → bob
        await settle(app, pilot)
        assert app.screen.owner == "bob"
        assert tile("won").value == "0.00"
        # customers are every owner's whatever the owner picked (DESIGN §2), and the tiles say so
        assert tile("C").value == "1" and tile("C").hint == "all owners"
        assert tile("V").hint == "all owners"
        panel = str(app.screen.query_one("#goals-panel").render())
        assert "none for bob; g sets one, o shows everyone's" in panel
        await pilot.press("e")
        await settle(app, pilot)
        path = tmp_path / f"crm-report-{clock.now:%Y%m%d}.csv"
        assert path.exists()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "won" in path.read_text()


def _hold_the_funnel(monkeypatch):
    """Make the report's slowest section (the funnel's history) wait until the returned event
    is set; the list counts how often it was asked for."""
    import threading

    import crm_tui.metrics.deals as deals

    release, calls = threading.Event(), []
    real = deals.furthest_counts

    def furthest_counts(*args, **kwargs):
        calls.append(1)
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(deals, "furthest_counts", furthest_counts)
    return release, calls


async def test_the_tiles_show_before_the_slowest_figures_are_computed(
    make_app, settle, until, notifications, services, monkeypatch
):
    """On a big book the funnel's history and the segments take seconds: the tiles and the
    owners table show first; the funnel and an export wait for their own figures."""
    won = services.create_deal("a", amount="300", owner="ann")
    services.win_deal(won.id)
    services.create_deal("b", amount="50", owner="bob")
    slow, _calls = _hold_the_funnel(monkeypatch)
    app = make_app("reports")
    seen = notifications(app)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            tile = lambda key: screen.query_one(f"#kpi-{key}")  # noqa: E731
            owners = screen.query_one("#owners-table")
            # the funnel's worker is held on purpose: wait without waiting for the workers
            await until(pilot, lambda: tile("won").value != "…", what="the tiles", workers=False)
            await until(pilot, lambda: owners.row_count, what="the owners table", workers=False)
            assert tile("won").value == "300.00" and tile("open").value == "50.00"
            assert owners.row_count == 2
            assert getattr(screen.query_one("#funnel"), "stages", None) is None  # still coming
            assert screen.data is None
            await pilot.press("e")
            await until(
                pilot,
                lambda: seen.said("still being computed"),
                what=lambda: f"the rep told the report is not ready; said {seen.texts()}",
                workers=False,
            )
            slow.set()
            await settle(app, pilot)
            assert [s.count for s in screen.query_one("#funnel").stages][:1] == [1]  # b, in Lead
            assert screen.data is not None and screen.data["deals"]["won_value"] == 300
    finally:
        slow.set()


async def test_a_tile_too_narrow_for_every_digit_shows_the_compact_figure():
    from textual.app import App

    from crm_tui.tui.widgets.kpi import KpiTile

    class One(App):
        def compose(self):
            yield KpiTile("Open pipeline", id="narrow")
            yield KpiTile("Open pipeline", id="wide")

        CSS = "#narrow { width: 12; } #wide { width: 30; }"

    app = One()
    async with app.run_test(size=(60, 8)) as pilot:
        for tile in app.query(KpiTile):
            tile.show_money(2218714950, "2,011 open deals")
        await pilot.pause()
        figure = lambda wid: app.query_one(f"#{wid}", KpiTile).render_line(1).text.strip()  # noqa: E731
        assert figure("narrow") == "22.19M"
        assert figure("wide") == "22,187,149.50"


async def test_changes_while_computing_wait_for_it_instead_of_starting_over(
    make_app, settle, until, services, monkeypatch
):
    """Another session saving every few seconds must not keep the slow figures from ever
    showing: changes during a computation let it finish, then one more computation runs."""
    services.create_deal("a", amount="300", owner="ann")
    slow, calls = _hold_the_funnel(monkeypatch)
    app = make_app("reports")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await until(pilot, lambda: calls, what="the computation to reach the funnel", workers=False)
            for name in ("One", "Two", "Three"):  # saved meanwhile, elsewhere (each change is announced as it commits)
                services.create_customer(name=name)
                await pilot.pause()
            assert len(calls) == 1  # still the first computation, held
            slow.set()
            await settle(app, pilot)
            assert len(calls) == 2  # the running computation and one after the changes
            assert screen.query_one("#kpi-C").value == "3" and screen.data is not None
            assert screen.query_one("#funnel").stages is not None
    finally:
        slow.set()


@pytest.mark.keys_only
async def test_the_activities_panel_counts_an_activity_logged_elsewhere(make_app, settle, services, clock):
    """The panel follows the task table like every figure: a call logged (another session, the
    services) shows up without asking, under its owner, its kind and its outcome."""
    customer = services.create_customer(name="Acme")
    services.log_activity(kind="email", outcome="sent", customer_id=customer.id)
    clock.advance(days=-400)  # last year's call: All time only
    services.log_activity(kind="call", outcome="reached", customer_id=customer.id)
    clock.advance(days=400)
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#activities-table")
        outcomes = app.screen.query_one("#outcomes-table")

        def row(t, i: int = 0) -> list[str]:
            return [str(cell) for cell in t.get_row_at(i)]

        assert row(table) == ["ann", "1", "1", "0", "0", "2"]  # Calls, Emails, Meetings, To-dos, Total
        assert table.row_count == 1  # one owner: no total row
        services.log_activity(kind="call", outcome="no answer", customer_id=customer.id)
        await settle(app, pilot)
        assert row(table) == ["ann", "2", "1", "0", "0", "3"]
        assert [row(outcomes, i) for i in range(outcomes.row_count)] == [
            ["reached", "1", "33.3%"],
            ["no answer", "1", "33.3%"],
            ["sent", "1", "33.3%"],
        ]
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")  # This year
        await settle(app, pilot)
        assert row(table) == ["ann", "1", "1", "0", "0", "2"]
