"""The Reports forecast panel follows the board's F: the deal moves between categories there."""

from __future__ import annotations

import pytest

from crm_tui.models import Deal


def panel_text(app) -> str:
    panel = app.screen.query_one("#forecast-panel")
    return "\n".join(panel.render_line(y).text for y in range(panel.size.height))


@pytest.mark.keys_only
async def test_F_on_the_board_moves_the_deal_in_the_reports_forecast(make_app, settle, services, db, clock):
    acme = services.create_customer(name="[b]ACME")
    deal = services.create_deal("Big", customer_id=acme.id, amount="1234", expected_close=clock.now.date())
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("F", "F")  # Lead's 10%: pipeline → best case → commit
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Deal, deal.id).forecast_category == "commit"
        await pilot.press("4")
        await settle(app, pilot)
        text = panel_text(app)
        assert "closed + commit 1,234" in text, text
        assert "Learned" in text and "80% range" in text  # the months ahead came in their own worker
