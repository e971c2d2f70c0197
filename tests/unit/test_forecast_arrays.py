"""The learned forecast read from arrays gives the figures of the deal-by-deal reading it replaced
(tests/unit/forecast_reference.py) to the cent, on random books full of the edges: moves at the
very moment of a month start or an age bucket's bound, several moves at one moment, deals moved
into a closed stage and out again, no recorded history, amounts and expected closes edited later,
product lines."""

from __future__ import annotations

import datetime as dt
import random

import forecast_reference as reference
import pytest

from crm_tui.metrics.forecast import Book, DealPast, backtest_book, forecast_book

UTC = dt.UTC
PROBABILITY = {1: 10, 2: 25, 3: 50, 4: 75, 5: 100, 6: 0, 7: 20, 8: 60, 9: 100, 10: 0}
CLOSED = frozenset({5, 6, 9, 10})
FIRST_OPEN = {1: 1, 2: 7}
STAGES = {1: (1, 2, 3, 4, 5, 6), 2: (7, 8, 9, 10)}
WON = {5, 9}


def _moment(rng: random.Random, start: dt.datetime, days: int) -> dt.datetime:
    """A moment up to ``days`` after ``start``: often exactly a month start or a whole number of
    days after one (where a comparison can tip), else anywhere to the microsecond."""
    roll = rng.random()
    base = start + dt.timedelta(days=rng.randrange(days))
    if roll < 0.15:
        return dt.datetime(base.year, base.month, 1, tzinfo=UTC)
    if roll < 0.3:
        return dt.datetime(base.year, base.month, 1, tzinfo=UTC) - dt.timedelta(days=rng.choice((14, 30, 60, 90)))
    return base + dt.timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(1_000_000))


def random_deals(seed: int, count: int = 400) -> list[DealPast]:
    rng = random.Random(seed)
    deals = []
    for i in range(1, count + 1):
        pipeline = rng.choice((1, 1, 2))
        created = _moment(rng, dt.datetime(2023, 1, 1, tzinfo=UTC), 880)
        moves: list[tuple[dt.datetime, int]] = []
        t = created
        for _ in range(rng.choice((0, 1, 2, 3, 3, 4, 6))):
            if rng.random() > 0.2:  # else at the same moment as the last
                t = max(t, _moment(rng, t, 120))
            moves.append((t, rng.choice(STAGES[pipeline])))
        last = moves[-1][1] if moves else rng.choice(STAGES[pipeline])
        outcome = "won" if last in WON else "lost" if last in CLOSED else "open"
        closed = (moves[-1][0] if moves else _moment(rng, created, 200)) if outcome != "open" else None
        if outcome == "open" and rng.random() < 0.05:
            closed = _moment(rng, created, 90)  # reopened: a close date kept from before
        # now and then an amount past 2**53 cents in sum, where the order of additions shows in the cents
        amount = rng.choice((0, rng.randrange(1, 10_000_000), rng.randrange(1, 10_000_000), rng.randrange(10**15)))
        changes = sorted(_moment(rng, created, 400) for _ in range(rng.choice((0, 0, 0, 1, 2))))
        expected = rng.choice((None, (created + dt.timedelta(days=rng.randrange(300))).date()))
        later = sorted(_moment(rng, created, 300) for _ in range(rng.choice((0, 0, 1))))
        deals.append(
            DealPast(
                i,
                pipeline,
                created,
                closed,
                outcome,
                amount,
                rng.choice((None, None, None, rng.randrange(1, 5_000_000))),
                moves,
                [(at, rng.randrange(0, 10_000_000)) for at in changes],
                expected,
                [(at, rng.choice((None, (at + dt.timedelta(days=rng.randrange(90))).date()))) for at in later],
            )
        )
    return deals


NOWS = (
    dt.datetime(2025, 6, 2, 12, 0, 0, 123456, tzinfo=UTC),
    dt.datetime(2025, 3, 1, tzinfo=UTC),
    dt.datetime(2024, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_arrays_give_the_deal_by_deal_figures(seed):
    deals = random_deals(seed)
    book = Book.of(deals, PROBABILITY, CLOSED, FIRST_OPEN)
    ref = reference.Book(deals, PROBABILITY, CLOSED, FIRST_OPEN)
    for now in NOWS:
        for widen in (True, False):
            got = [tuple(vars(m).values()) for m in forecast_book(book, months=6, now=now, widen=widen)]
            want = [tuple(vars(m).values()) for m in reference.forecast_book(ref, months=6, now=now, widen=widen)]
            assert got == want, (now, widen)
        got_bt = backtest_book(book, months=12, now=now)
        want_bt = reference.backtest_book(ref, months=12, now=now)
        assert [tuple(vars(m).values()) for m in got_bt.months] == [tuple(vars(m).values()) for m in want_bt.months]
        assert vars(got_bt.learned) == vars(want_bt.learned) and vars(got_bt.baseline) == vars(want_bt.baseline)
        assert got_bt.coverage == want_bt.coverage
    # the arrays give back the deals they were made of
    assert [vars(d) for d in book.deals] == [vars(d) for d in deals]


def test_the_forecast_learns_something_from_these_books():
    """The comparison above is worth something only if the learned figures are not all the baseline."""
    deals = random_deals(1)
    rows = forecast_book(Book.of(deals, PROBABILITY, CLOSED, FIRST_OPEN), months=3, now=NOWS[0])
    assert any(r.learned_cents != r.weighted_cents for r in rows)
    assert any(r.low_cents < r.learned_cents < r.high_cents for r in rows)


@pytest.mark.parametrize("seed", [1, 2])
def test_learning_a_part_at_a_time_gives_what_the_whole_book_teaches(seed):
    """A large book is learned from a part at a time (``learn_parts``): however it is cut, the
    same cells, the same band, the same months as learning from it whole."""
    from crm_tui.metrics.forecast_learn import learn, learn_parts

    deals = sorted(random_deals(seed), key=lambda d: d.id)
    whole = Book.of(deals, PROBABILITY, CLOSED, FIRST_OPEN)
    first = int(whole.created.min())
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(deals)), 6))
    parts = [Book.of(deals[a:b], PROBABILITY, CLOSED, FIRST_OPEN) for a, b in zip([0, *cuts], [*cuts, len(deals)])]
    for now in NOWS:
        want = learn(whole, months=6, now=now).json()
        assert learn_parts(parts, first, months=6, now=now).json() == want, now
        # one deal a part: a part with no pair at some month start, or none at all
        single = (Book.of([d], PROBABILITY, CLOSED, FIRST_OPEN) for d in deals)
        assert learn_parts(single, first, months=6, now=now).json() == want, now
