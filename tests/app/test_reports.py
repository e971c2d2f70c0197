"""The Reports screen: tiles follow changes, period and owner selectors, CSV export."""

from __future__ import annotations

import os
import stat


async def test_tiles_periods_owner_and_export(make_app, settle, services, clock, tmp_path, monkeypatch):
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
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")  # Everyone, ann, bob → bob
        await settle(app, pilot)
        assert app.screen.owner == "bob"
        assert tile("won").value == "0.00"
        await pilot.press("e")
        await settle(app, pilot)
        path = tmp_path / f"crm-report-{clock.now:%Y%m%d}.csv"
        assert path.exists()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "won" in path.read_text()
