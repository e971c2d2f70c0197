"""The learned forecast's learning (``crm_tui.metrics.forecast`` says what it learns and why): the
yields of past month starts (``Learner``), the interval's calibration, what was learned
(``Learned``), applying it to the deals open now, and the backtest. The book it learns from is
``crm_tui.metrics.forecast_model``'s arrays.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crm_tui.metrics._common import utc_now
from crm_tui.metrics.forecast_model import (
    _STATES,
    CALIBRATION,
    LOOKBACK,
    MIN_CALIBRATION,
    MIN_DEALS,
    NEVER,
    UNKNOWN,
    Z80,
    Book,
    Floats,
    Ints,
    _day,
    _from_us,
    _key,
    _lookup,
    _month_index,
    _month_start_us,
    _months_between,
    _Open,
    _us,
    add_months,
    month_start,
)
from crm_tui.metrics.forecast_types import Backtest, BacktestMonth, Errors, MonthForecast


@dataclass(frozen=True)
class _Cells:
    """What some past month starts taught, per state (``codes``, sorted): how many open deals were
    in it, their open value and the value of them won in the target month; and the fresh deals'
    won value per month start."""

    codes: Ints
    n: Ints
    open_v: Ints
    won_v: Ints
    fresh: list[int]

    def rates(self, states: Ints) -> Floats:
        """The yield of each of ``states``: its own when seen on ``MIN_DEALS`` deals, else its
        stage's at any age, else every deal's."""
        stage_of = self.codes // _STATES - 1
        stages, inverse = _distinct(stage_of)
        stage_n, stage_open, stage_won = (_sum_by(inverse, len(stages), x) for x in (self.n, self.open_v, self.won_v))
        own_n, own_open, own_won = _pick(self.codes, states, (self.n, self.open_v, self.won_v))
        st_n, st_open, st_won = _pick(stages, states // _STATES - 1, (stage_n, stage_open, stage_won))
        own = own_n >= MIN_DEALS
        by_stage = ~own & (st_n >= MIN_DEALS)
        won = np.where(own, own_won, np.where(by_stage, st_won, int(self.won_v.sum())))
        opened = np.where(own, own_open, np.where(by_stage, st_open, int(self.open_v.sum())))
        # one division per distinct state, of Python ints: correctly rounded however large the sums
        return np.array([min(1.0, w / o) if o > 0 else 0.0 for w, o in zip(won.tolist(), opened.tolist())])


def _distinct(values: Ints) -> tuple[Ints, Ints]:
    """The distinct ``values`` in order and each value's index among them (``np.unique`` with
    ``return_inverse``, by counting: the values here are a few hundred state codes or months)."""
    if len(values) == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    low = int(values.min())
    if int(values.max()) - low > 1_000_000:
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, inverse.astype(np.int64)
    shifted = values - low
    present = np.bincount(shifted) > 0
    index = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64) + low, index[shifted].astype(np.int64)


def _sum_by(groups: Ints, size: int, values: Ints) -> Ints:
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, groups, values)
    return out


def _pick(known: Ints, keys: Ints, columns: tuple[Ints, ...]) -> list[Ints]:
    """Each column's value at each of ``keys`` (0 where ``known`` lacks it)."""
    if len(known) == 0:
        return [np.zeros(len(keys), dtype=np.int64) for _ in columns]
    pos = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    hit = known[pos] == keys
    return [np.where(hit, c[pos], 0) for c in columns]


class Learner:
    """The yields of every past month start, read per forecast origin. Learned from the book a part
    at a time (``add`` each part, then ``done``): a part's pairs are summed into a few hundred
    cells per month start and let go, so a large book is never in memory whole (``learn_parts``).

    ``keep``: the moments whose open deals (states and values, in deal order) are kept for the
    calibration (None: every month start learned from)."""

    def __init__(
        self, horizons: int, last_end: dt.datetime, first_created: int | None, keep: Sequence[dt.datetime] | None = None
    ) -> None:
        self.horizons = horizons
        #: the month starts learned from, their microseconds, and how many of each one's horizons
        #: have a target month over by last_end
        self.origins: list[dt.datetime] = []
        if first_created is not None:
            first = _from_us(first_created)
            # the last LOOKBACK month starts at most: an old book's far past says little of now
            t = max(add_months(month_start(first), 1), add_months(last_end, -LOOKBACK - horizons))
            while add_months(t, 1) <= last_end:
                self.origins.append(t)
                t = add_months(t, 1)
        self._scored = [min(horizons, _months_between(t, last_end)) for t in self.origins]
        self._origin_us = np.array([_us(t) for t in self.origins], dtype=np.int64)
        self._index = {t: i for i, t in enumerate(self.origins)}
        count = len(self.origins)
        #: month (months since 1970-01) → value won in it, of every deal added
        self.won_by_month: dict[int, int] = {}
        self._held: dict[dt.datetime, list[tuple[Ints, Ints]]] = {
            t: [] for t in (self.origins if keep is None else keep)
        }
        #: per part added: its state codes, and per month start (and horizon) its cells' sums
        self._parts: list[tuple[Ints, Ints, Ints, Ints]] = []
        self._fresh = np.zeros((count, horizons), dtype=np.int64)
        empty = np.zeros(0, dtype=np.int64)
        self.codes = empty
        self._n = np.zeros((count, 0), dtype=np.int64)
        self._open = np.zeros((count, 0), dtype=np.int64)
        self._won = np.zeros((count, horizons, 0), dtype=np.int64)

    @classmethod
    def of(cls, book: Book, horizons: int, last_end: dt.datetime, keep: Sequence[dt.datetime] | None = None) -> Learner:
        """Learned from ``book`` whole."""
        learner = cls(horizons, last_end, int(book.created.min()) if len(book) else None, keep)
        learner.add(book)
        return learner.done()

    def add(self, book: Book) -> None:
        """Learn from ``book``'s deals: a part of the book (each deal in one part only), its parts
        added in deal order."""
        won = (book.outcome == 1) & (book.closed != NEVER)
        distinct, inverse = _distinct(_month_index(book.closed[won]))
        for month, cents in zip(distinct.tolist(), _sum_by(inverse, len(distinct), book.amount[won]).tolist()):
            self.won_by_month[month] = self.won_by_month.get(month, 0) + cents
        for t, held in self._held.items():
            if t not in self._index:  # not a month start learned from: what was open then, read here
                then = book.open_at(t)
                held.append((then.states, then.values))
        count = len(self.origins)
        if not count or not len(book):
            return
        origin_us = self._origin_us
        scored = np.array(self._scored, dtype=np.int64)
        horizons = self.horizons
        # every (deal, month start) with the deal open then: created by it, not closed by it
        first_i = np.searchsorted(origin_us, book.created, side="left")
        last_i = np.searchsorted(origin_us, book.closed, side="left")
        spans = np.maximum(last_i - first_i, 0)
        rows = np.repeat(np.arange(len(book), dtype=np.int64), spans)
        starts = np.cumsum(spans) - spans
        origin = np.repeat(first_i, spans) + np.arange(len(rows), dtype=np.int64) - np.repeat(starts, spans)
        pairs, kept = book.states_at(rows, origin_us[origin])
        del rows, starts, spans
        pairs_origin = origin[kept]
        codes, state = _distinct(pairs.states)
        states = len(codes)
        cell = pairs_origin * states + state
        n = np.bincount(cell, minlength=count * states).astype(np.int64).reshape(count, states)
        opened = _sum_by(cell, count * states, pairs.values).reshape(count, states)
        # won k months after the month start, k within its scored horizons
        won_month = np.where(book.outcome == 1, _month_index(np.where(book.closed == NEVER, 0, book.closed)), -1)
        won_month = np.where(book.closed == NEVER, -1, won_month)
        first_month = int(_month_index(origin_us[:1])[0])
        k = won_month[pairs.rows] - first_month - pairs_origin
        hit = (won_month[pairs.rows] >= 0) & (k >= 0) & (k < scored[pairs_origin])
        won_v = np.zeros((count, horizons, states), dtype=np.int64)
        np.add.at(won_v, (pairs_origin[hit], k[hit], state[hit]), pairs.values[hit])
        self._parts.append((codes, n, opened, won_v))
        # fresh: created after the month start, won k < horizons months after it
        winners = np.flatnonzero(won_month >= 0).astype(np.int64)
        if len(winners):
            rel = won_month[winners] - first_month
            after = _month_start_us(won_month[winners] + 1)  # the month start after it was won
            worth = book.value_at(winners, after)
            for k_ in range(horizons):
                i = rel - k_
                ok = (i >= 0) & (i < count)
                ok[ok] &= (book.created[winners[ok]] > origin_us[i[ok]]) & (k_ < scored[i[ok]])
                np.add.at(self._fresh[:, k_], i[ok], worth[ok])
        for t, held in self._held.items():
            at = self._index.get(t)
            if at is not None:  # the deals open then, as the learner saw them
                mine = pairs_origin == at
                held.append((pairs.states[mine], pairs.values[mine]))

    def done(self) -> Learner:
        """Every part added: the cells of every month start, over every state any part saw."""
        if self._parts:
            self.codes = np.unique(np.concatenate([p[0] for p in self._parts]))
            count, states = len(self.origins), len(self.codes)
            self._n = np.zeros((count, states), dtype=np.int64)
            self._open = np.zeros((count, states), dtype=np.int64)
            self._won = np.zeros((count, self.horizons, states), dtype=np.int64)
            for codes, n, opened, won_v in self._parts:
                at = np.searchsorted(self.codes, codes)
                self._n[:, at] += n
                self._open[:, at] += opened
                self._won[:, :, at] += won_v
            self._parts = []
        return self

    def open_then(self, t: dt.datetime) -> tuple[Ints, Ints] | None:
        """The deals open at ``t`` as the learner saw them, (states, values) in deal order; None:
        not a moment it was asked to keep."""
        held = self._held.get(t)
        if held is None:
            return None
        if len(held) != 1:  # one array each from here on
            held[:] = [(_joined([s for s, _ in held]), _joined([v for _, v in held]))]
        return held[0]

    def yields(self, origin: dt.datetime, k: int) -> _Cells:
        """Every past origin's cells for horizon k whose target month ended by ``origin``."""
        seen = 0
        for t in self.origins:
            if add_months(t, k + 1) > origin:
                break
            seen += 1
        if seen == 0:
            empty = np.zeros(0, dtype=np.int64)
            return _Cells(empty, empty, empty, empty, [])
        used = np.array([k < s for s in self._scored[:seen]], dtype=np.bool_)
        n = self._n[:seen][used].sum(axis=0)
        opened = self._open[:seen][used].sum(axis=0)
        won = self._won[:seen, k].sum(axis=0) if k < self.horizons else np.zeros_like(n)
        fresh = [int(x) for x in self._fresh[:seen, k]] if k < self.horizons else [0] * seen
        present = n > 0  # a state no included month start saw is not one of its cells
        return _Cells(self.codes[present], n[present], opened[present], won[present], fresh)


def _joined(arrays: list[Ints]) -> Ints:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def _moments(learner: Learner, origin: dt.datetime, k: int, states: Ints, values: Ints) -> tuple[float, float] | None:
    """The learned forecast's mean and standard deviation in cents (None: nothing learned yet),
    from the deals open at ``origin`` as their states and values."""
    return _cell_moments(learner.yields(origin, k), states, values)


def _cell_moments(cells: _Cells, states: Ints, values: Ints) -> tuple[float, float] | None:
    """``_moments`` from what was learned (``cells``) and the deals open then."""
    fresh = cells.fresh
    if not any(fresh) and not np.any(cells.won_v != 0):
        return None  # no past month won anything: nothing to learn from yet
    mean = 0.0
    var = 0.0
    if len(states):
        distinct, inverse = _distinct(states)  # a state's yield, worked out once
        p = cells.rates(distinct)[inverse]
        v = values.astype(np.float64)
        # deal by deal, added up in deal order (cumsum adds one at a time, as a loop would): past
        # 2**53 cents the order of additions shows in the cents
        mean = float(np.cumsum(v * p)[-1])
        var = float(np.cumsum(v * v * p * (1 - p))[-1])
    f_mean = sum(fresh) / len(fresh)
    if len(fresh) > 1:
        var += sum((f - f_mean) ** 2 for f in fresh) / (len(fresh) - 1)
    mean += f_mean
    return mean, math.sqrt(var)


def _learned(
    learner: Learner, origin: dt.datetime, k: int, now_open: _Open, band: tuple[float, float] = (-Z80, Z80)
) -> tuple[int, int, int] | None:
    """(forecast, low, high) in cents of the month k months after ``origin``'s month, or None when
    no past month has won anything yet (the caller then falls back to the weighted pipeline).
    low and high are the forecast + ``band`` standard deviations (never below 0)."""
    return _interval(_moments(learner, origin, k, now_open.states, now_open.values), band)


def _interval(moments: tuple[float, float] | None, band: tuple[float, float]) -> tuple[int, int, int] | None:
    """(forecast, low, high) in cents from the mean and standard deviation (None: nothing learned)."""
    if moments is None:
        return None
    mean, sd = moments
    return round(mean), max(0, round(mean + band[0] * sd)), round(mean + band[1] * sd)


class _Calibration:
    """How far the actual fell from the learned forecast in past months, in its own standard
    deviations: the 80% interval's band is the 10th and 90th percentiles of the last
    ``CALIBRATION`` months' residuals (each forecast from what was known at its month's start),
    never narrower than the normal ± 1.2816. The model's σ counts only the luck of which deals
    close; a month's real spread (deals slipping together, a market's swing) is wider, and the
    book's own misses say how much. Measured on horizon 0 and applied to every month ahead.

    ``open_at``: what was open at a moment the learner did not keep (the whole book's)."""

    def __init__(self, learner: Learner, open_at: Callable[[dt.datetime], _Open] | None = None) -> None:
        self.learner, self._open_at = learner, open_at
        self._residuals: dict[dt.datetime, float | None] = {}

    def residual(self, start: dt.datetime) -> float | None:
        if start not in self._residuals:
            held = self.learner.open_then(start)
            if held is None:
                assert self._open_at is not None, "a moment the learner was not asked to keep"
                then = self._open_at(start)
                held = then.states, then.values
            moments = _moments(self.learner, start, 0, *held)
            r = None
            if moments is not None and moments[1] > 0:
                won = self.learner.won_by_month.get((start.year - 1970) * 12 + start.month - 1, 0)
                r = (won - moments[0]) / moments[1]
            self._residuals[start] = r
        return self._residuals[start]

    def band(self, origin: dt.datetime) -> tuple[float, float]:
        """The band for a forecast made at ``origin``, from the months over by then."""
        seen = [self.residual(t) for t in _calibrated_from(origin)]
        rs = sorted(r for r in seen if r is not None)
        if len(rs) < MIN_CALIBRATION:
            return -Z80, Z80
        return min(-Z80, _quantile(rs, 0.1)), max(Z80, _quantile(rs, 0.9))


def _quantile(xs: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``xs``, interpolated linearly."""
    at = q * (len(xs) - 1)
    lo = math.floor(at)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (at - lo)


def _baseline(book: Book, origin: dt.datetime, month_end: dt.datetime, open_deals: _Open) -> int:
    """The stage-probability weighted pipeline expected by ``month_end``: each open deal with no
    expected close, or one before the month's end, at its stage's % (then)."""
    rows = open_deals.rows
    last_day = _day((month_end - dt.timedelta(days=1)).date())
    expected = book.expected_at(rows, _us(origin))
    due = (expected == NEVER) | (expected <= last_day)
    stage = open_deals.stages
    unknown = stage == UNKNOWN
    if np.any(unknown):
        stage = np.where(unknown, _lookup(book.first_open, book.pipeline[rows], UNKNOWN), stage)
    percent = _lookup(book.probability, stage, 0)
    # cent-percent, added up as Python ints (exact past 2**63); every deal's value is in the home
    # currency already (load_book)
    total: int = sum((open_deals.values[due] * percent[due]).tolist())
    return round(total / 100)


def forecast_book(
    book: Book, *, months: int = 6, now: dt.datetime | None = None, widen: bool = True
) -> list[MonthForecast]:
    now = utc_now(now)
    return apply_learned(learn(book, months=months, now=now, widen=widen), book, now=now)


@dataclass(frozen=True)
class Learned:
    """What the book's past taught for a forecast made in ``month`` (its start, 'YYYY-MM'): per
    month ahead k, the cells of every past month start whose k-months-later target is over, and
    the interval's band. Only facts from before that month's start go in (module docstring of
    ``forecast``), so it stays good for the whole month while the months before it are unchanged."""

    month: str
    band: tuple[float, float]
    cells: tuple[_Cells, ...]

    def json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "band": list(self.band),
            "cells": [
                [c.codes.tolist(), c.n.tolist(), c.open_v.tolist(), c.won_v.tolist(), list(c.fresh)] for c in self.cells
            ],
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> Learned:
        """From ``json()`` (KeyError, TypeError or ValueError: not that shape)."""
        low, high = (float(x) for x in data["band"])

        def ints(values: Any) -> Ints:
            return np.array([int(x) for x in values], dtype=np.int64).reshape(len(values))

        cells = tuple(
            _Cells(ints(codes), ints(n), ints(open_v), ints(won_v), [int(x) for x in fresh])
            for codes, n, open_v, won_v, fresh in data["cells"]
        )
        return cls(str(data["month"]), (low, high), cells)


def learn(book: Book, *, months: int = 6, now: dt.datetime | None = None, widen: bool = True) -> Learned:
    """What ``book``'s past teaches for the ``months`` months from ``now``'s."""
    first = int(book.created.min()) if len(book) else None
    return learn_parts([book], first, months=months, now=now, widen=widen)


def learn_parts(
    parts: Iterable[Book],
    first_created: int | None,
    *,
    months: int = 6,
    now: dt.datetime | None = None,
    widen: bool = True,
) -> Learned:
    """``learn`` from the book a part at a time (``forecast_read.read_parts``): ``parts`` hold every
    deal once, in deal order, and ``first_created`` is the earliest creation among them
    (microseconds; None: no deals). The same figures as the whole book, in a part's memory."""
    now = utc_now(now)
    this = month_start(now)
    learner = Learner(months, this, first_created, keep=_calibrated_from(now))
    for part in parts:
        learner.add(part)
    learner.done()
    band = _Calibration(learner).band(now) if widen else (-Z80, Z80)
    return Learned(_key(this), band, tuple(learner.yields(now, k) for k in range(months)))


def _calibrated_from(origin: dt.datetime) -> list[dt.datetime]:
    """The month starts whose residuals the band of a forecast made at ``origin`` reads."""
    this = month_start(origin)
    return [add_months(this, -i) for i in range(1, CALIBRATION + 1)]


def apply_learned(learned: Learned, book: Book, *, now: dt.datetime) -> list[MonthForecast]:
    """The forecast of the months ``learned`` covers, for the deals of ``book`` open at ``now`` —
    the whole book, or only the deals open now (``read_book(…, open_at=now)``): the same figures."""
    this = month_start(now)
    open_now = book.open_at(now)
    out = []
    for k, cells in enumerate(learned.cells):
        start = add_months(this, k)
        end = add_months(start, 1)
        weighted = _baseline(book, now, end, open_now) - (_baseline(book, now, start, open_now) if k else 0)
        interval = _interval(_cell_moments(cells, open_now.states, open_now.values), learned.band)
        out.append(MonthForecast(_key(start), *(interval or (weighted, weighted, weighted)), weighted))
    return out


def backtest_book(book: Book, *, months: int = 12, now: dt.datetime | None = None, widen: bool = True) -> Backtest:
    now = utc_now(now)
    last = month_start(now)  # the current month is not over: the last one scored is before it
    won = (book.outcome == 1) & (book.closed != NEVER)
    if np.any(won):
        last = min(last, add_months(month_start(_from_us(int(book.closed[won].max()))), 1))
    learner = Learner.of(book, 1, last)
    calibration = _Calibration(learner, book.open_at)
    rows = []
    for i in range(months, 0, -1):
        start = add_months(last, -i)
        end = add_months(start, 1)
        open_deals = book.open_at(start)
        inside = won & (book.closed >= _us(start)) & (book.closed < _us(end))
        actual = int(book.amount[inside].sum())
        baseline = _baseline(book, start, end, open_deals)
        band = calibration.band(start) if widen else (-Z80, Z80)
        learned = _learned(learner, start, 0, open_deals, band) or (baseline, baseline, baseline)
        rows.append(BacktestMonth(_key(start), actual, learned[0], baseline, learned[1], learned[2]))
    scored = [m for m in rows if m.actual_cents > 0]
    hits = [m for m in scored if m.low_cents <= m.actual_cents <= m.high_cents]
    return Backtest(
        tuple(rows),
        _errors([(m.learned_cents, m.actual_cents) for m in scored]),
        _errors([(m.baseline_cents, m.actual_cents) for m in scored]),
        round(len(hits) / len(scored), 4) if scored else None,
    )


def _errors(pairs: list[tuple[int, int]]) -> Errors:
    if not pairs:
        return Errors(None, None)
    ape = [abs(f - a) / a for f, a in pairs]
    pe = [(f - a) / a for f, a in pairs]
    return Errors(round(sum(ape) / len(ape), 4), round(sum(pe) / len(pe), 4))
