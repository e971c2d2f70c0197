"""Figures whose products pass 32 bits: PostgreSQL keeps amounts, probabilities, quantities and
unit prices in INTEGER columns, where amount × probability or quantity × unit price failed with
"integer out of range" (a 300,000.00 deal with its own probability; 1,000 × 25,000.00 on an order)."""

from __future__ import annotations

import datetime as dt

from crm_tui.metrics import forecast_by_month, report, stage_summaries
from crm_tui.queries.customer_detail import customer_detail
from crm_tui.queries.pipeline import load_board

NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=dt.UTC)


def test_figures_past_32_bits_on_every_engine(services, db, clock):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("big", customer_id=acme.id, amount="300000", probability=50)  # 3e9 cent-percent
    product = services.create_product("seat", "25000")
    order = services.create_order(acme.id, [(product.id, 1000)])  # 2.5e9 cents
    services.approve_order(order.id)
    services.fulfil_order(order.id)
    services.create_deal("lines", customer_id=acme.id, products=[(product.id, 100)])  # 2,500,000.00 at 10%

    data = report(db, now=clock.now)
    assert data["deals"]["weighted_value"] == 150000 + 250000
    assert data["orders"] == {"count": 1, "value": 25000000}
    assert data["customers"]["value"] == 25000000
    assert data["market_demand"][0]["demand"] == 2500000
    summaries = {s.name: s for s in stage_summaries(db, deal.pipeline_id)}
    assert summaries["Lead"].weighted_cents == 15000000 + 25000000
    assert forecast_by_month(db, now=clock.now) == [(clock.now.strftime("%Y-%m"), 40000000)]
    board = load_board(db, deal.pipeline_id, now=clock.now)
    assert board.headers[deal.stage_id].weighted_cents == 40000000
    detail = customer_detail(db, acme.id)
    assert detail is not None and [o.value_cents for o in detail.orders] == [2500000000]
