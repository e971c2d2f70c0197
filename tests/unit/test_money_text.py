"""Money on screen comes from integer cents through one set of formatters: no binary float
between the database and the text a rep reads."""

from __future__ import annotations

import pytest

from crm_tui.textnorm import money_compact, money_text, money_whole


@pytest.mark.parametrize(
    "cents, text",
    [(0, "0.00"), (5, "0.05"), (123456, "1,234.56"), (-123456, "-1,234.56"), (10**15, "10,000,000,000,000.00")],
)
def test_money_text_is_exact(cents, text):
    assert money_text(cents) == text


@pytest.mark.parametrize(
    "cents, text", [(0, "0"), (49, "0"), (50, "1"), (149, "1"), (150, "2"), (123456789, "1,234,568"), (-150, "-2")]
)
def test_whole_units_round_half_up(cents, text):
    assert money_whole(cents) == text


@pytest.mark.parametrize(
    "cents, kwargs, text",
    [
        (99999, {}, "999.99"),
        (150000, {}, "1.50k"),
        (1509000, {}, "15.09k"),
        (2218714950, {}, "22.19M"),
        (-2218714950, {}, "-22.19M"),
        (99999950, {"places": 1, "smallest": 10**6}, "1.0M"),  # rounds up into the next figure, not 1,000.0k
        (99999950000, {}, "1.00B"),
        (2**53 + 1, {}, "90,071.99B"),  # past the integers a float holds exactly: still exact
    ],
)
def test_compact_money_picks_the_unit_that_keeps_it_short(cents, kwargs, text):
    assert money_compact(cents, **kwargs) == text


def test_a_board_header_rounds_from_cents_not_from_a_float():
    from crm_tui.tui.widgets.kanban import short_money

    assert short_money(250) == "3"  # round(2.5) in float arithmetic would give 2
    assert short_money(99999949) == "999,999" and short_money(99999950) == "1.0M"
