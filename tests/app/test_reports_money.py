"""The Reports screen shows money exactly: integer cents from SQL to the text, a fraction of a
cent (a weighted value, an average) rounded once, half up — figures a binary float gets wrong."""

from __future__ import annotations

import pytest
from rich.text import Text

# 8 × 9,999,999,999,999.99 + 0.09 = 80,000,000,000,000.01: 8,000,000,000,000,001 cents, past the
# 2**53 a float holds exactly (as a float in major units it reads 80000000000000.02)
BIG = "9999999999999.99"
EXACT = "80,000,000,000,000.01"


def _cell(table, row: int, column: int) -> str:
    value = table.get_row_at(row)[column]
    return value.plain if isinstance(value, Text) else str(value)


async def test_tiles_tables_and_funnel_are_exact_past_a_floats_integers(make_app, settle, services):
    if services.db.url.get_backend_name() == "postgresql":
        pytest.skip("PostgreSQL stores an amount in a 32-bit integer: 9,999,999,999,999.99 does not fit")
    acme = services.create_customer(name="Acme")
    for i in range(8):
        won = services.create_deal(f"big {i}", customer_id=acme.id, amount=BIG, owner="ann")
        services.win_deal(won.id)
    small = services.create_deal("small", customer_id=acme.id, amount="0.09", owner="ann")
    services.win_deal(small.id)
    big = services.create_product("big", BIG)
    dime = services.create_product("nine", "0.09")
    services.create_deal("big lines", customer_id=acme.id, products=[(big.id, 8)], owner="bob")
    services.create_deal("small line", customer_id=acme.id, products=[(dime.id, 1)], owner="bob")
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        tile = lambda key: screen.query_one(f"#kpi-{key}").value  # noqa: E731
        # tiles: won (R), customer value (V), open pipeline and M = Σ P × Q summed over products
        assert tile("won") == tile("R") == tile("V") == tile("open") == tile("M") == EXACT
        # a table cell: ann's won value, the segment's value
        owners = screen.query_one("#owners-table")
        assert (_cell(owners, 0, 0), _cell(owners, 0, 3)) == ("ann", EXACT)
        segments = screen.query_one("#segments-table")
        assert EXACT in {_cell(segments, r, 2) for r in range(segments.row_count)}
        # the funnel: the Won stage's value
        funnel = str(screen.query_one("#funnel").render())
        assert [line for line in funnel.splitlines() if line.startswith("Won ")][0].split()[2] == EXACT
        # the export (the JSON shape, in major units) is exactly what `crm-tui report` writes
        assert screen.data is not None and screen.data["deals"]["won_value"] == 80000000000000.01


async def test_a_fraction_of_a_cent_rounds_half_up_once(make_app, settle, services):
    # 0.01 at 50%: weighted 0.005 → 0.01 (read back from the float 0.005, to even, it was 0.00)
    services.create_deal("half", amount="0.01", probability=50, owner="ann")
    for amount in ("0.01", "0.02"):
        services.win_deal(services.create_deal("won", amount=amount, owner="ann").id)
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        tile = lambda key: app.screen.query_one(f"#kpi-{key}").value  # noqa: E731
        assert tile("weighted") == "0.01"
        assert tile("avg") == "0.02"  # (0.01 + 0.02) ÷ 2 = 0.015
