"""The learned forecast's book (``crm_tui.metrics.forecast`` says what it learns and why): every deal's
past as arrays. Learning from it is ``crm_tui.metrics.forecast_learn``; reading it from the database,
``crm_tui.metrics.forecast_read``.

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

import numpy as np
import numpy.typing as npt

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
