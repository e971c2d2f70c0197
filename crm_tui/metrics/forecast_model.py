"""The learned forecast's model (``crm_tui.metrics.forecast`` says what it learns and why) and its
reading of the book.

How it is computed
------------------
The book is held as arrays, one row per deal and one per stage move, with every moment as
integer microseconds since 1970 UTC (PostgreSQL computes them, ``extract(epoch …)``; SQLite's
text is parsed by numpy in one call), so no row becomes a Python object. The stage of every
(deal, moment) pair is found at once, all pairs walking their deal's moves in step; each month
start's open deals, their states and values are arrays, and the yields are grouped sums over
them. The same integers, the same decisions and the same order of float additions as the
deal-by-deal reading give the same figures to the cent.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select

from crm_tui.columns import bigint, col, pk
from crm_tui.metrics._common import live_deal, unindexed, utc_now
from crm_tui.metrics.forecast_types import Backtest, BacktestMonth, Errors, MonthForecast
from crm_tui.models import UTC, Deal, DealProduct, JournalChange, JournalEntry, Product, Stage, StageChange, UTCDateTime
from crm_tui.money import Rates, load_rates_conn

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import ClauseElement

    from crm_tui.db import Database

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: month starts the learned forecast learns from (the most recent ones)
LOOKBACK = 36
#: a state seen on fewer open deals than this borrows the yield of a wider state
MIN_DEALS = 20
#: age in the stage at the start of a month, in days: the lower bound of each bucket
AGE_BUCKETS = (0, 14, 30, 60, 90, 180, 365)
#: z of a two-sided 80% normal interval
Z80 = 1.2816
#: past months whose misses widen the interval, and how many of them it needs to
CALIBRATION = 12
MIN_CALIBRATION = 4
#: the stage key of a deal whose stage then is not recorded
UNKNOWN = -1
#: the closed_at of a deal never closed, the expected close of a deal with none (arrays)
NEVER = int(np.iinfo(np.int64).max)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = dt.date(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
_BUCKET_US = np.array([lo * _US_PER_DAY for lo in AGE_BUCKETS], dtype=np.int64)
#: a state is (stage, age bucket), coded as one integer: (stage + 1) × _STATES + bucket
_STATES = 8
_OUTCOMES = ("open", "won", "lost")


def _us(t: dt.datetime) -> int:
    """``t`` as integer microseconds since 1970 UTC."""
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(us))


def _day(d: dt.date | None) -> int:
    return NEVER if d is None else (d - _EPOCH_DAY).days


@dataclass
class DealPast:
    """One deal's recorded life, one object per deal: what ``Book.of`` reads and ``Book.deals`` gives."""

    id: int
    pipeline_id: int
    created_at: dt.datetime
    closed_at: dt.datetime | None
    outcome: str  # of its current stage: open, won or lost
    amount_cents: int  # now
    list_cents: int | None = None  # its lines at the catalogue's list price; None: no lines
    moves: list[tuple[dt.datetime, int]] = field(default_factory=list)  # (at, to stage), in time order
    amount_changes: list[tuple[dt.datetime, int]] = field(default_factory=list)  # (at, amount before it)
    expected_close: dt.date | None = None  # now
    expected_changes: list[tuple[dt.datetime, dt.date | None]] = field(default_factory=list)
    currency: str = ""  # its own (blank: the home currency); the weighted pipeline converts it

    def stage_at(self, t: dt.datetime) -> tuple[int, dt.datetime]:
        """(stage id or UNKNOWN, when it entered it) at ``t``."""
        i = bisect_right(self.moves, (t, math.inf)) if self.moves else 0
        if i == 0:
            return UNKNOWN, self.created_at
        at, stage = self.moves[i - 1]
        return stage, at

    def amount_at(self, t: dt.datetime) -> int:
        for at, before in self.amount_changes:
            if at > t:
                return before
        return self.amount_cents

    def value_at(self, t: dt.datetime) -> int:
        """Its value while open, as known at ``t``."""
        return self.list_cents if self.list_cents is not None else self.amount_at(t)

    def expected_at(self, t: dt.datetime) -> dt.date | None:
        for at, before in self.expected_changes:
            if at > t:
                return before
        return self.expected_close

    def won_in(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.outcome == "won" and self.closed_at is not None and start <= self.closed_at < end


@dataclass(frozen=True, eq=False)
class Book:
    """Every live deal's past as arrays (one row per deal, in id order; one per stage move, in
    deal, time and id order), plus what the baseline needs of the stages. Moments are integer
    microseconds since 1970 UTC, days since 1970 for dates; ``NEVER`` for none."""

    ids: Ints
    pipeline: Ints
    created: Ints
    closed: Ints  # NEVER: not closed
    outcome: npt.NDArray[np.int8]  # index into ("open", "won", "lost"), of its current stage
    amount: Ints  # cents now, home currency
    list_cents: Ints  # its lines at list price (home currency); meaningful where has_list
    has_list: Bools
    expected: Ints  # expected close now, days since 1970; NEVER: none
    currency: tuple[str, ...]
    move_deal: Ints  # the deal's row
    move_at: Ints
    move_to: Ints
    #: deal row → [(at, amount before it)] / [(at, expected close day before it)], in time order
    amount_changes: dict[int, list[tuple[int, int]]]
    expected_changes: dict[int, list[tuple[int, int]]]
    probability: dict[int, int]  # stage id → win %
    closed_stages: frozenset[int]
    first_open: dict[int, int]  # pipeline id → its first open stage
    rates: Rates | None = None  # the weighted pipeline's sums per currency are converted with them
    missing: frozenset[str] = frozenset()  # currencies with no rate: their deals count as 0

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(
        cls,
        deals: Sequence[DealPast],
        probability: dict[int, int],
        closed_stages: frozenset[int],
        first_open: dict[int, int],
        rates: Rates | None = None,
        missing: frozenset[str] = frozenset(),
    ) -> Book:
        """The book of ``deals`` (their moves in time order)."""
        deals = sorted(deals, key=lambda d: d.id)
        moves = [(i, _us(at), to) for i, d in enumerate(deals) for at, to in d.moves]
        move_cols = np.array(moves, dtype=np.int64).reshape(-1, 3)
        return cls(
            ids=np.array([d.id for d in deals], dtype=np.int64),
            pipeline=np.array([d.pipeline_id for d in deals], dtype=np.int64),
            created=np.array([_us(d.created_at) for d in deals], dtype=np.int64),
            closed=np.array([NEVER if d.closed_at is None else _us(d.closed_at) for d in deals], dtype=np.int64),
            outcome=np.array([_OUTCOMES.index(d.outcome) for d in deals], dtype=np.int8),
            amount=np.array([d.amount_cents for d in deals], dtype=np.int64),
            list_cents=np.array([d.list_cents or 0 for d in deals], dtype=np.int64),
            has_list=np.array([d.list_cents is not None for d in deals], dtype=np.bool_),
            expected=np.array([_day(d.expected_close) for d in deals], dtype=np.int64),
            currency=tuple(d.currency for d in deals),
            move_deal=move_cols[:, 0].copy(),
            move_at=move_cols[:, 1].copy(),
            move_to=move_cols[:, 2].copy(),
            amount_changes={
                i: [(_us(at), before) for at, before in d.amount_changes]
                for i, d in enumerate(deals)
                if d.amount_changes
            },
            expected_changes={
                i: [(_us(at), _day(before)) for at, before in d.expected_changes]
                for i, d in enumerate(deals)
                if d.expected_changes
            },
            probability=probability,
            closed_stages=closed_stages,
            first_open=first_open,
            rates=rates,
            missing=missing,
        )

    @cached_property
    def deals(self) -> list[DealPast]:
        """One ``DealPast`` per deal (built on first use: the forecast itself reads the arrays)."""
        out = []
        starts = self._move_span
        for i in range(len(self)):
            lo, hi = int(starts[i]), int(starts[i + 1])
            closed = int(self.closed[i])
            expected = int(self.expected[i])
            out.append(
                DealPast(
                    int(self.ids[i]),
                    int(self.pipeline[i]),
                    _from_us(int(self.created[i])),
                    None if closed == NEVER else _from_us(closed),
                    _OUTCOMES[int(self.outcome[i])],
                    int(self.amount[i]),
                    int(self.list_cents[i]) if self.has_list[i] else None,
                    [(_from_us(int(a)), int(s)) for a, s in zip(self.move_at[lo:hi], self.move_to[lo:hi])],
                    [(_from_us(a), b) for a, b in self.amount_changes.get(i, [])],
                    None if expected == NEVER else _EPOCH_DAY + dt.timedelta(days=expected),
                    [
                        (_from_us(a), None if b == NEVER else _EPOCH_DAY + dt.timedelta(days=b))
                        for a, b in self.expected_changes.get(i, [])
                    ],
                    self.currency[i],
                )
            )
        return out

    # -- what the learner asks of it, for many (deal, moment) pairs at once --------------------

    @cached_property
    def _move_span(self) -> Ints:
        """Where each deal's moves begin in the move arrays (and where the last one's end)."""
        return np.searchsorted(self.move_deal, np.arange(len(self) + 1, dtype=np.int64)).astype(np.int64)

    def stage_since(self, rows: Ints, at: Ints) -> tuple[Ints, Ints]:
        """(stage or UNKNOWN, when it entered it) of deal ``rows[j]`` at moment ``at[j]``: its last
        move at or before then (the last by id among moves at the same moment). Each step walks
        every pair still short of ``at`` one move on: as many steps as a deal has moves."""
        span = self._move_span
        first = span[rows]
        end = span[rows + 1]
        pos = first.copy()
        walking = np.flatnonzero(pos < end)
        while len(walking):
            walking = walking[self.move_at[pos[walking]] <= at[walking]]
            pos[walking] += 1
            walking = walking[pos[walking] < end[walking]]
        found = pos > first
        last = np.maximum(pos - 1, 0)
        if len(self.move_to) == 0:
            return np.full(len(rows), UNKNOWN, dtype=np.int64), self.created[rows]
        stage = np.where(found, self.move_to[last], UNKNOWN)
        since = np.where(found, self.move_at[last], self.created[rows])
        return stage, since

    def value_at(self, rows: Ints, at: Ints) -> Ints:
        """Each deal's value while open as known at its moment: its lines' list value, else its
        amount as the journal says it stood then."""
        value = np.where(self.has_list[rows], self.list_cents[rows], self.amount[rows])
        if self.amount_changes:
            changed = np.fromiter(self.amount_changes, dtype=np.int64, count=len(self.amount_changes))
            for j in np.flatnonzero(np.isin(rows, changed) & ~self.has_list[rows]):
                t = int(at[j])
                for when, before in self.amount_changes[int(rows[j])]:
                    if when > t:
                        value[j] = before
                        break
        return value

    def expected_at(self, rows: Ints, at: int) -> Ints:
        """Each deal's expected close day (NEVER: none) as known at moment ``at``."""
        expected = self.expected[rows].copy()
        if self.expected_changes:
            changed = np.fromiter(self.expected_changes, dtype=np.int64, count=len(self.expected_changes))
            for j in np.flatnonzero(np.isin(rows, changed)):
                for when, before in self.expected_changes[int(rows[j])]:
                    if when > at:
                        expected[j] = before
                        break
        return expected

    @cached_property
    def _closed_stage_ids(self) -> Ints:
        return np.array(sorted(self.closed_stages), dtype=np.int64)

    def open_at(self, t: dt.datetime) -> _Open:
        """The deals open at ``t`` (created by then, not closed by then, not in a closed stage then):
        their rows, states, values then and stages then."""
        at = _us(t)
        rows = np.flatnonzero((self.created <= at) & (self.closed > at)).astype(np.int64)
        return self.states_at(rows, np.full(len(rows), at, dtype=np.int64))[0]

    def states_at(self, rows: Ints, at: Ints) -> tuple[_Open, Bools]:
        """Deal ``rows[j]`` at moment ``at[j]``, leaving out those in a closed stage then (the second:
        which pairs were kept)."""
        stage, since = self.stage_since(rows, at)
        keep = ~np.isin(stage, self._closed_stage_ids)
        rows, at, stage, since = rows[keep], at[keep], stage[keep], since[keep]
        return _Open(rows, _state_code(stage, at - since), self.value_at(rows, at), stage), keep


@dataclass(frozen=True)
class _Open:
    rows: Ints
    states: Ints
    values: Ints
    stages: Ints


def _state_code(stage: Ints, age_us: Ints) -> Ints:
    bucket = np.maximum(np.searchsorted(_BUCKET_US, age_us, side="right") - 1, 0)
    return (stage + 1) * _STATES + bucket


def _lookup(table: dict[int, int], keys: Ints, default: int) -> Ints:
    """``table[k]`` for each of ``keys`` (``default`` when absent)."""
    if not table:
        return np.full(len(keys), default, dtype=np.int64)
    known = np.array(sorted(table), dtype=np.int64)
    values = np.array([table[int(k)] for k in known], dtype=np.int64)
    pos = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    return np.where(known[pos] == keys, values[pos], default)


# -- months --------------------------------------------------------------------------------------


def month_start(t: dt.datetime | dt.date) -> dt.datetime:
    return dt.datetime(t.year, t.month, 1, tzinfo=UTC)


def add_months(t: dt.datetime, n: int) -> dt.datetime:
    m = t.year * 12 + t.month - 1 + n
    return dt.datetime(m // 12, m % 12 + 1, 1, tzinfo=UTC)


def _key(t: dt.datetime) -> str:
    return t.strftime("%Y-%m")


def _months_between(start: dt.datetime, t: dt.datetime) -> int:
    return (t.year - start.year) * 12 + t.month - start.month


def _month_index(us: Ints) -> Ints:
    """Months since 1970-01 of each moment."""
    return us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)


def _month_start_us(months: Ints) -> Ints:
    """The first moment of each month (months since 1970-01)."""
    return months.astype("datetime64[M]").astype("datetime64[us]").astype(np.int64)


# -- the learned model ---------------------------------------------------------------------------


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
    """The yields of every past month start, built once per book, read per forecast origin."""

    def __init__(self, book: Book, horizons: int, last_end: dt.datetime) -> None:
        self.book = book
        self.horizons = horizons
        #: the month starts learned from, their microseconds, and how many of each one's horizons
        #: have a target month over by last_end
        self.origins: list[dt.datetime] = []
        self._scored: list[int] = []
        if len(book) == 0:
            return
        first = _from_us(int(book.created.min()))
        # the last LOOKBACK month starts at most: an old book's far past says little of now
        t = max(add_months(month_start(first), 1), add_months(last_end, -LOOKBACK - horizons))
        while add_months(t, 1) <= last_end:
            self.origins.append(t)
            t = add_months(t, 1)
        if not self.origins:
            return
        self._scored = [min(horizons, _months_between(t, last_end)) for t in self.origins]
        origin_us = np.array([_us(t) for t in self.origins], dtype=np.int64)
        count = len(self.origins)
        scored = np.array(self._scored, dtype=np.int64)
        # every (deal, month start) with the deal open then: created by it, not closed by it
        first_i = np.searchsorted(origin_us, book.created, side="left")
        last_i = np.searchsorted(origin_us, book.closed, side="left")
        spans = np.maximum(last_i - first_i, 0)
        rows = np.repeat(np.arange(len(book), dtype=np.int64), spans)
        starts = np.cumsum(spans) - spans
        origin = np.repeat(first_i, spans) + np.arange(len(rows), dtype=np.int64) - np.repeat(starts, spans)
        pairs, kept = book.states_at(rows, origin_us[origin])
        self._pairs_origin = origin[kept]
        self.codes, state = _distinct(pairs.states)
        states = len(self.codes)
        cell = self._pairs_origin * states + state
        self._n = np.bincount(cell, minlength=count * states).astype(np.int64).reshape(count, states)
        self._open = _sum_by(cell, count * states, pairs.values).reshape(count, states)
        # won k months after the month start, k within its scored horizons
        won_month = np.where(book.outcome == 1, _month_index(np.where(book.closed == NEVER, 0, book.closed)), -1)
        won_month = np.where(book.closed == NEVER, -1, won_month)
        first_month = int(_month_index(origin_us[:1])[0])
        k = won_month[pairs.rows] - first_month - self._pairs_origin
        hit = (won_month[pairs.rows] >= 0) & (k >= 0) & (k < scored[self._pairs_origin])
        self._won = np.zeros((count, horizons, states), dtype=np.int64)
        np.add.at(self._won, (self._pairs_origin[hit], k[hit], state[hit]), pairs.values[hit])
        # fresh: created after the month start, won k < horizons months after it
        self._fresh = np.zeros((count, horizons), dtype=np.int64)
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
        self._pairs = pairs

    def open_pairs(self, i: int) -> tuple[Ints, Ints]:
        """The deals open at month start ``i`` as the learner saw them: (states, values)."""
        mine = self._pairs_origin == i
        return self._pairs.states[mine], self._pairs.values[mine]

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
    book's own misses say how much. Measured on horizon 0 and applied to every month ahead."""

    def __init__(self, book: Book, learner: Learner) -> None:
        self.book, self.learner = book, learner
        self._residuals: dict[dt.datetime, float | None] = {}
        self._index = {t: i for i, t in enumerate(learner.origins)}
        won = (book.outcome == 1) & (book.closed != NEVER)
        months = _month_index(book.closed[won])
        distinct, inverse = _distinct(months)
        sums = _sum_by(inverse, len(distinct), book.amount[won])
        #: month (months since 1970-01) → value won in it
        self._won = {int(m): int(s) for m, s in zip(distinct, sums)}

    def residual(self, start: dt.datetime) -> float | None:
        if start not in self._residuals:
            i = self._index.get(start)
            if i is not None:  # the learner saw the deals open then
                states, values = self.learner.open_pairs(i)
            else:
                then = self.book.open_at(start)
                states, values = then.states, then.values
            moments = _moments(self.learner, start, 0, states, values)
            r = None
            if moments is not None and moments[1] > 0:
                won = self._won.get((start.year - 1970) * 12 + start.month - 1, 0)
                r = (won - moments[0]) / moments[1]
            self._residuals[start] = r
        return self._residuals[start]

    def band(self, origin: dt.datetime) -> tuple[float, float]:
        """The band for a forecast made at ``origin``, from the months over by then."""
        this = month_start(origin)
        seen = [self.residual(add_months(this, -i)) for i in range(1, CALIBRATION + 1)]
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


# -- reading the book ----------------------------------------------------------------------------


def load_book(db: Database) -> Book:
    """Every live deal with its stage moves, list value and journaled amount changes (a handful of
    queries, read straight into arrays)."""
    with db.read() as session:
        return read_book(session.connection())


def _fetch(conn: Connection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` as the driver gives it (no per-row work of ours or SQLAlchemy's), in
    ``conn``'s transaction."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return cast("list[tuple[Any, ...]]", cursor.fetchall())
    finally:
        cursor.close()


def _moment_column(column: Any, dialect: str, *, date: bool = False) -> Any:
    """``column`` as the database can best hand it over for arrays: PostgreSQL computes integer
    microseconds (days for a date) itself; SQLite's stored text is parsed by numpy."""
    if dialect != "postgresql":
        return column
    name = str(column.compile(compile_kwargs={"literal_binds": True}))
    if date:
        return literal_column(f"({name} - DATE '1970-01-01')")
    return literal_column(f"CAST(EXTRACT(EPOCH FROM {name}) * 1000000 AS BIGINT)")


def _moments_of(values: Sequence[Any], *, date: bool = False) -> Ints:
    """Integer microseconds (days for dates) of the fetched ``values``; None → NEVER."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    unit = "datetime64[D]" if date else "datetime64[us]"
    sample = next((v for v in values if v is not None), None)
    if sample is None:
        return np.full(len(values), NEVER, dtype=np.int64)
    if isinstance(sample, int):  # computed by the database
        return np.array([NEVER if v is None else v for v in values], dtype=np.int64)
    try:
        parsed = np.array(["NaT" if v is None else v for v in values], dtype=unit).astype(np.int64)
    except ValueError:  # an unusual stored form (a zone suffix): one at a time
        parsed = np.array([_one_moment(v, date) for v in values], dtype=np.int64)
    return np.where(parsed == np.iinfo(np.int64).min, NEVER, parsed)


def _one_moment(value: Any, date: bool) -> int:
    if value is None:
        return NEVER
    if date:
        return _day(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10]))
    t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return _us(t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))


#: rows per group_concat read (SQLite): a bounded string however large the table, each chunk
#: parsed into arrays before the next is read, so only one chunk's text is ever in hand
_CHUNK = 200_000
_KINDS = ("int", "moment", "day", "text")


def _columns(
    conn: Connection, table: str, columns: Sequence[tuple[Any, str]], where: Any, *, whole: bool = False
) -> list[Any]:
    """Each of ``columns`` (an expression of ``table`` and its kind: "int", "moment", "day" or
    "text") over the rows matching ``where``, in one row order: int64 arrays (a moment as
    microseconds, a day as days since 1970, NEVER for none) or, for text, a list of str.

    SQLite hands each column over as one comma-joined string per million rows (``group_concat``,
    every column from the same pass over the rows, so they line up), parsed by numpy: no Python
    object per row. Anything unusual there (a NULL in an int column, a moment not written the
    usual way) is read row by row instead, as every other engine is. ``whole``: in one statement,
    not in chunks of ids (a few rows that ``where`` finds through an index)."""
    if conn.dialect.name == "sqlite":
        joined = _joined_sqlite(conn, table, columns, where, whole)
        if joined is not None:
            return joined
    dialect = conn.dialect.name
    exprs = [c if kind in ("int", "text") else _moment_column(c, dialect, date=kind == "day") for c, kind in columns]
    rows = _fetch(conn, select(*exprs).where(where))
    out: list[Any] = []
    for i, (_c, kind) in enumerate(columns):
        values = [r[i] for r in rows]
        if kind == "int":
            out.append(np.array(values, dtype=np.int64).reshape(len(values)))
        elif kind == "text":
            out.append([str(v or "") for v in values])
        else:
            out.append(_moments_of(values, date=kind == "day"))
    return out


def _joined_sqlite(
    conn: Connection, table: str, columns: Sequence[tuple[Any, str]], where: Any, whole: bool = False
) -> list[Any] | None:
    def sql(e: Any) -> str:
        return str(e.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))

    parts, checks = [], []
    for c, kind in columns:
        x = sql(c)
        if kind == "int":
            parts.append(f"group_concat({x}, ',')")
            checks.append(f"count({x})")
        elif kind == "text":
            parts.append(f"group_concat(replace(ifnull({x}, ''), ',', ' '), ',')")
        else:
            parts.append(f"group_concat(ifnull({x}, 'NaT'), ',')")
    cursor = conn.connection.cursor()
    #: per column, the arrays (or, for text, the lists) of each chunk read so far
    pieces: list[list[Any]] = [[] for _ in columns]
    shared: dict[str, str] = {}  # one str object per distinct text value (a currency: a few codes)
    try:
        ranges = [""]
        if not whole:
            low, high = cursor.execute(f"SELECT min(id), max(id) FROM {table}").fetchone()
            starts = range(int(low), int(high) + 1, _CHUNK) if low is not None else range(0)
            ranges = [f"{table}.id BETWEEN {start} AND {start + _CHUNK - 1} AND " for start in starts]
        for within in ranges:
            row = cursor.execute(
                f"SELECT count(*), {', '.join(parts + checks)} FROM {table} WHERE {within}({sql(where)})"
            ).fetchone()
            count = int(row[0])
            if any(int(k) != count for k in row[1 + len(parts) :]):
                return None  # a NULL in an int column: it would not line up
            if not count:
                continue
            for j, (_c, kind) in enumerate(columns):
                text = row[1 + j]
                if kind == "text":
                    pieces[j].append([shared.setdefault(v, v) for v in text.split(",")])
                    continue
                try:
                    pieces[j].append(_parse_joined(text, count, kind))
                except ValueError:
                    return None
            del row, text  # this chunk's strings go before the next chunk's arrive
    finally:
        cursor.close()
    out: list[Any] = []
    for (_c, kind), got in zip(columns, pieces):
        if kind == "text":
            out.append([v for chunk in got for v in chunk])
        else:
            out.append(np.concatenate(got) if got else np.zeros(0, dtype=np.int64))
        got.clear()  # one column's chunks and its whole array in hand at a time, not every column's
    return out


def _parse_joined(text: str, count: int, kind: str) -> Ints:
    """``count`` comma-joined values of ``kind`` as an int64 array (ValueError: not as expected)."""
    if kind == "int":
        values = np.fromstring(text, dtype=np.int64, sep=",")
    elif kind == "moment" and len(text) == 27 * count - 1:  # all written the usual way, to the microsecond
        raw = np.frombuffer((text + ",").encode("ascii"), dtype=np.uint8).reshape(count, 27)
        if not np.all(raw[:, 26] == ord(",")):
            raise ValueError("not fixed width")
        fixed = np.ascontiguousarray(raw[:, :26]).view("S26").reshape(count)
        values = fixed.astype("datetime64[us]").astype(np.int64)
    else:
        unit = "datetime64[D]" if kind == "day" else "datetime64[us]"
        values = np.array(text.split(","), dtype=unit).astype(np.int64)
    if len(values) != count:
        raise ValueError("a value did not parse")
    if kind != "int":
        values = np.where(values == np.iinfo(np.int64).min, NEVER, values)
    return values


def _line_values(conn: Connection, lines: Any) -> tuple[Ints, Ints]:
    """(deal id, its lines' list value) of every deal with lines; on SQLite as two joined columns."""
    if conn.dialect.name == "sqlite":
        grouped = lines.subquery()
        deal_id, total = grouped.c
        joined = select(
            func.count(), func.group_concat(deal_id, ","), func.group_concat(func.ifnull(total, 0), ",")
        ).select_from(grouped)
        [(count, ids_text, sums_text)] = _fetch(conn, joined)
        try:
            if not count:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            return _parse_joined(ids_text, count, "int"), _parse_joined(sums_text, count, "int")
        except ValueError:
            pass  # a sum past what fits: row by row
    rows = _fetch(conn, lines)
    return (
        np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows)),
        np.array([int(r[1] or 0) for r in rows], dtype=np.int64).reshape(len(rows)),
    )


def read_book(conn: Connection, *, open_at: dt.datetime | None = None) -> Book:
    """``load_book`` on an open read transaction. The collector is paused while the rows are in
    hand: a million fetched tuples are garbage it would otherwise walk again and again.

    ``open_at``: only the deals open then (created by then, not closed by then) with their moves,
    lines and the journaled changes after then (earlier ones cannot change what they were then) —
    what applying a learned forecast reads (``apply_learned``): a fraction of the book, found
    through the index of close times."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _read_book(conn, open_at)
    finally:
        if paused:
            gc.enable()


def _read_book(conn: Connection, open_at: dt.datetime | None) -> Book:
    from crm_tui.journal import decode

    stage_rows = conn.execute(
        select(
            pk(Stage.id), col(Stage.pipeline_id), col(Stage.position), col(Stage.probability), col(Stage.outcome)
        ).order_by(col(Stage.pipeline_id), col(Stage.position), pk(Stage.id))
    ).all()
    outcome = {sid: out for sid, _p, _pos, _prob, out in stage_rows}
    probability = {sid: prob for sid, _p, _pos, prob, _out in stage_rows}
    first_open: dict[int, int] = {}
    for sid, pid, _pos, _prob, out in stage_rows:
        if out == "open":
            first_open.setdefault(pid, sid)
    rates = load_rates_conn(conn)
    deals = live_deal()
    if open_at is not None:
        then = literal(open_at, UTCDateTime)
        deals = and_(
            deals,
            # through the close time's index (a few deals open now), never the creation time's (every
            # deal created before now, nearly the book)
            unindexed(col(Deal.created_at)) <= then,
            or_(col(Deal.closed_at).is_(None), col(Deal.closed_at) > then),
        )
    deal_ids, pipeline, deal_stage, amount, created, closed, expected, currency_list = _columns(
        conn,
        "deal",
        [
            (pk(Deal.id), "int"),
            (col(Deal.pipeline_id), "int"),
            (col(Deal.stage_id), "int"),
            (col(Deal.amount_cents), "int"),
            (col(Deal.created_at), "moment"),
            (col(Deal.closed_at), "moment"),
            (col(Deal.expected_close), "day"),
            (col(Deal.currency), "text"),
        ],
        deals,
        whole=open_at is not None,
    )
    # read in id order already (chunks of ids, each in rowid order): then no copy of every column
    in_order = bool(np.all(deal_ids[1:] > deal_ids[:-1]))
    by_id = np.arange(len(deal_ids), dtype=np.int64) if in_order else np.argsort(deal_ids, kind="stable")

    def sorted_(values: Ints) -> Ints:
        return values if in_order else values[by_id]

    ids = sorted_(deal_ids)
    n = len(ids)
    stage_outcome = {sid: _OUTCOMES.index(out) if out in _OUTCOMES else 0 for sid, out in outcome.items()}
    deal_outcome = _lookup(stage_outcome, sorted_(deal_stage), 0).astype(np.int8)
    amount = sorted_(amount)
    list_cents = np.zeros(n, dtype=np.int64)
    has_list = np.zeros(n, dtype=np.bool_)
    lines = (
        select(col(DealProduct.deal_id), func.sum(bigint(col(DealProduct.quantity)) * col(Product.unit_price_cents)))
        .join(Product, pk(Product.id) == col(DealProduct.product_id))
        .group_by(col(DealProduct.deal_id))
    )
    # the deals read, by id (those open then are found once, through the index of close times)
    of_deals = _among(ids, conn.dialect.name) if open_at is not None else None
    if of_deals is not None:
        lines = lines.where(of_deals("deal_product.deal_id"))
    line_ids, line_sum = _line_values(conn, lines)
    if len(line_ids) and n:
        pos = np.minimum(np.searchsorted(ids, line_ids), n - 1)
        live = ids[pos] == line_ids
        list_cents[pos[live]] = line_sum[live]
        has_list[pos[live]] = True
    move_id, move_deal, move_to, move_at = _columns(
        conn,
        "stage_change",
        [
            (pk(StageChange.id), "int"),
            (col(StageChange.deal_id), "int"),
            (col(StageChange.to_stage_id), "int"),
            (col(StageChange.at), "moment"),
        ],
        # an import's record of the final stage is not history (module docstring)
        and_(
            ~(col(StageChange.from_stage_id).is_(None) & (col(StageChange.by) == "import")),
            *([of_deals("stage_change.deal_id")] if of_deals is not None else []),
        ),
        whole=open_at is not None,
    )
    m = len(move_id)
    move_row = np.minimum(np.searchsorted(ids, move_deal), max(n - 1, 0)) if n else np.zeros(m, np.int64)
    live_move = ids[move_row] == move_deal if n else np.zeros(m, dtype=np.bool_)
    if not live_move.all():  # moves of deals not read (deleted): left out first
        move_id, move_row, move_at, move_to = (a[live_move] for a in (move_id, move_row, move_at, move_to))
    # the moves by deal, then time, then id — one index, so each array is copied once (read in id
    # order, a stable sort of deal and time is that order already, without sorting by id too)
    by_id_already = bool(np.all(move_id[1:] > move_id[:-1]))
    taken = np.lexsort((move_at, move_row) if by_id_already else (move_id, move_at, move_row))
    del move_id, move_deal, live_move
    # each taken in turn, its unsorted self let go before the next (a few million moves each)
    move_row = move_row[taken]
    move_at = move_at[taken]
    move_to = move_to[taken]
    del taken
    amount_changes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    expected_changes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    journal = (
        select(col(JournalChange.record_id), col(JournalEntry.at), col(JournalChange.before))
        .join(JournalEntry, pk(JournalEntry.id) == col(JournalChange.entry_id))
        .where(
            (col(JournalChange.table_name) if open_at is None else unindexed(col(JournalChange.table_name))) == "deal",
            col(JournalChange.op) == "update",
            col(JournalChange.before).like('%"amount_cents"%') | col(JournalChange.before).like('%"expected_close"%'),
            # the deals as they are then: only a change after then says they were otherwise (the
            # journal's index of times finds those, mostly none; not each open deal's entries)
            *(_after(open_at) if open_at is not None else []),
        )
        .order_by(col(JournalEntry.at), pk(JournalChange.id))
    )
    for did, at, before_text in conn.execute(journal):
        row = int(np.searchsorted(ids, did)) if n else 0
        if row >= n or ids[row] != did:
            continue
        before = decode("deal", before_text) or {}
        if "amount_cents" in before and before["amount_cents"] is not None:
            amount_changes[row].append((_us(at), int(before["amount_cents"])))
        if "expected_close" in before:
            expected_changes[row].append((_us(at), _day(before["expected_close"])))
    currency = tuple(currency_list) if in_order else tuple(map(currency_list.__getitem__, by_id.tolist()))
    closed_stages = frozenset(sid for sid, out in outcome.items() if out != "open")
    book = Book(
        ids=ids,
        pipeline=sorted_(pipeline),
        created=sorted_(created),
        closed=sorted_(closed),
        outcome=deal_outcome,
        amount=amount,
        list_cents=list_cents,
        has_list=has_list,
        expected=sorted_(expected),
        currency=currency,
        move_deal=move_row,
        move_at=move_at,
        move_to=move_to,
        amount_changes=dict(amount_changes),
        expected_changes=dict(expected_changes),
        probability=probability,
        closed_stages=closed_stages,
        first_open=first_open,
        rates=rates,
    )
    return _to_home(book, rates)


def _after(t: dt.datetime) -> list[ColumnElement[bool]]:
    """Journal entries after ``t``, found through the journal's index of times (SQLite's planner,
    left alone, walks every change to a deal instead)."""
    then = literal(t, UTCDateTime)
    later = select(pk(JournalEntry.id)).where(col(JournalEntry.at) > then).correlate(None)
    return [col(JournalEntry.at) > then, col(JournalChange.entry_id).in_(later)]


def _among(ids: Ints, dialect: str) -> Callable[[str], ColumnElement[bool]]:
    """A condition "``column`` is one of ``ids``", written out (a few tens of thousands of ids at
    most: the deals open at one moment), so no statement looks the deals up again. As one array
    (a JSON one on SQLite), never a long IN list: past a few tens of thousands of values SQLite's
    planner would rather scan the whole table than look each one up in its index."""
    listed = ",".join(map(str, ids.tolist()))
    if dialect == "postgresql":
        values = f"= ANY('{{{listed}}}'::bigint[])"
    else:
        values = f"IN (SELECT value FROM json_each('[{listed}]'))"

    def among(column: str) -> ColumnElement[bool]:  # as written: no bind parameters to look for in it
        return literal_column(f"{column} {values}")

    return among


def _to_home(book: Book, rates: Rates) -> Book:
    """Every deal's amounts in the home currency (rounded per deal: the learned forecast learns
    from amounts, so they must be one currency); a deal in a currency with no rate counts as 0,
    never 1:1, and its currency is named in ``missing``."""
    missing: set[str] = set()
    codes_used = set(book.currency)
    home_codes = {c for c in codes_used if (c or rates.home).upper() == rates.home}
    foreign = [i for i, c in enumerate(book.currency) if c not in home_codes] if home_codes != codes_used else []
    if not foreign:
        return book
    codes = [(c or rates.home).upper() for c in book.currency]
    amount, list_cents = book.amount.copy(), book.list_cents.copy()
    currency = list(book.currency)
    amount_changes = dict(book.amount_changes)
    for i in foreign:
        code = codes[i]
        if rates.rate(code) is None:
            missing.add(code)

        def home(cents: int, code: str = code) -> int:
            return rates.to_home(cents, code) or 0

        amount[i] = home(int(amount[i]))
        if book.has_list[i]:
            list_cents[i] = home(int(list_cents[i]))
        if i in amount_changes:
            amount_changes[i] = [(at, home(before)) for at, before in amount_changes[i]]
        currency[i] = rates.home
    return Book(
        **{
            **{f: getattr(book, f) for f in book.__dataclass_fields__},
            "amount": amount,
            "list_cents": list_cents,
            "currency": tuple(currency),
            "amount_changes": amount_changes,
            "missing": frozenset(missing),
        }
    )


# -- what callers use ----------------------------------------------------------------------------


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
    now = utc_now(now)
    this = month_start(now)
    learner = Learner(book, months, this)
    band = _Calibration(book, learner).band(now) if widen else (-Z80, Z80)
    return Learned(_key(this), band, tuple(learner.yields(now, k) for k in range(months)))


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


def backtest(db: Database, *, months: int = 12, now: dt.datetime | None = None) -> Backtest:
    """Replay the last ``months`` months that are over (ending with the last month any deal was
    won in, when that is earlier): at each month's start, the learned and the baseline forecast
    of its won value from what was known then, against what it won."""
    return backtest_book(load_book(db), months=months, now=now)


def backtest_book(book: Book, *, months: int = 12, now: dt.datetime | None = None, widen: bool = True) -> Backtest:
    now = utc_now(now)
    last = month_start(now)  # the current month is not over: the last one scored is before it
    won = (book.outcome == 1) & (book.closed != NEVER)
    if np.any(won):
        last = min(last, add_months(month_start(_from_us(int(book.closed[won].max()))), 1))
    learner = Learner(book, 1, last)
    calibration = _Calibration(book, learner)
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
