"""Money on screen comes from integer cents through one set of formatters: no binary float
between the database and the text a rep reads."""

from __future__ import annotations

from decimal import Decimal

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


@pytest.mark.parametrize(
    "cents, text",
    [
        (Decimal("0.5"), "0.01"),  # half a cent: half up
        (Decimal("0.4999"), "0.00"),
        (Decimal("2.5"), "0.03"),  # not to even
        (Decimal("6734512.5"), "67,345.13"),
        (Decimal("-0.4"), "0.00"),  # no '-0.00'
        (Decimal("-1.5"), "-0.02"),  # away from zero
    ],
)
def test_a_fraction_of_a_cent_rounds_half_up_once(cents, text):
    assert money_text(cents) == text


def test_whole_units_round_once_from_the_exact_figure():
    assert money_whole(Decimal("49.5")) == "0"  # 0.495: not 0.50 first, then 1
    assert money_whole(Decimal("50")) == "1"
    assert money_whole(-49) == "0"  # no '-0'


def test_compact_money_takes_exact_fractions_of_a_cent():
    assert money_compact(Decimal("2218714949.5")) == "22.19M"
    assert money_compact(Decimal("99999.4")) == "999.99"
    assert money_compact(Decimal("99999.5")) == "1.00k"  # 1,000.00 once rounded to the cent
