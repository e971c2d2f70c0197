"""The learned forecast's model (``crm_tui.metrics.forecast`` says what it learns and why); its
reading of the book is ``crm_tui.metrics.forecast_read``.

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
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from crm_tui.metrics._common import utc_now
from crm_tui.metrics.forecast_types import Backtest, BacktestMonth, Errors, MonthForecast
from crm_tui.models import UTC
from crm_tui.money import Rates

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
