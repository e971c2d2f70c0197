"""The learned forecast as it was computed deal by deal, one Python object per deal and per move
(``crm_tui.metrics.forecast`` before it read the book into arrays): the reference its arrays are
held to, figure for figure, in test_forecast_arrays.py."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from crm_tui.metrics._common import utc_now
from crm_tui.metrics.forecast import DealPast
from crm_tui.models import UTC
from crm_tui.money import Rates
from crm_tui.textnorm import cents_to_major


@dataclass(frozen=True)
class Book:
    """Every deal's past plus what the baseline needs of the stages."""

    deals: list[DealPast]
    probability: dict[int, int]  # stage id → win %
    closed_stages: frozenset[int]
    first_open: dict[int, int]  # pipeline id → its first open stage
    rates: Rates | None = None
    missing: frozenset[str] = frozenset()


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


@dataclass(frozen=True)
class MonthForecast:
    month: str  # YYYY-MM
    learned_cents: int
    low_cents: int
    high_cents: int
    weighted_cents: int


@dataclass(frozen=True)
class BacktestMonth:
    month: str
    actual_cents: int
    learned_cents: int
    baseline_cents: int
    low_cents: int
    high_cents: int


@dataclass(frozen=True)
class Errors:
    mape: float | None  # mean |forecast − actual| ÷ actual over the months that won something
    bias: float | None  # mean (forecast − actual) ÷ actual over the same months


@dataclass(frozen=True)
class Backtest:
    months: tuple[BacktestMonth, ...]
    learned: Errors
    baseline: Errors
    coverage: float | None  # share of scored months whose actual fell inside the 80% interval

    def json(self) -> dict[str, object]:
        return {
            "months": [
                {
                    "month": m.month,
                    "actual": cents_to_major(m.actual_cents),
                    "learned": cents_to_major(m.learned_cents),
                    "baseline": cents_to_major(m.baseline_cents),
                }
                for m in self.months
            ],
            "overall": {
                "learned": {"mape": self.learned.mape, "bias": self.learned.bias},
                "baseline": {"mape": self.baseline.mape, "bias": self.baseline.bias},
            },
        }


# -- months --------------------------------------------------------------------------------------


def month_start(t: dt.datetime | dt.date) -> dt.datetime:
    return dt.datetime(t.year, t.month, 1, tzinfo=UTC)


def add_months(t: dt.datetime, n: int) -> dt.datetime:
    m = t.year * 12 + t.month - 1 + n
    return dt.datetime(m // 12, m % 12 + 1, 1, tzinfo=UTC)


def _key(t: dt.datetime) -> str:
    return t.strftime("%Y-%m")


# -- the learned model ---------------------------------------------------------------------------


def _age_bucket(days: float) -> int:
    return max(i for i, lo in enumerate(AGE_BUCKETS) if days >= lo) if days >= 0 else 0


def _open_at(d: DealPast, t: dt.datetime, closed_stages: frozenset[int]) -> bool:
    if d.created_at > t or (d.closed_at is not None and d.closed_at <= t):
        return False
    return d.stage_at(t)[0] not in closed_stages


@dataclass
class _Cell:
    n: int = 0
    open_v: int = 0
    won_v: int = 0

    def add(self, other: _Cell) -> None:
        self.n += other.n
        self.open_v += other.open_v
        self.won_v += other.won_v


@dataclass
class _Yields:
    """What past month starts taught: state → cell, per horizon, and the fresh deals' part."""

    cells: dict[tuple[int, int], _Cell] = field(default_factory=lambda: defaultdict(_Cell))
    fresh: list[int] = field(default_factory=list)

    def rate(self, state: tuple[int, int]) -> float:
        """The yield of ``state``: its own when seen on ``MIN_DEALS`` deals, else its stage's at any
        age, else every deal's."""
        levels = (
            [state],
            [k for k in self.cells if k[0] == state[0]],
            list(self.cells),
        )
        for i, keys in enumerate(levels):
            c = _Cell()
            for k in keys:
                if k in self.cells:
                    c.add(self.cells[k])
            if c.n >= MIN_DEALS or i == len(levels) - 1:
                return min(1.0, c.won_v / c.open_v) if c.open_v > 0 else 0.0
        return 0.0  # pragma: no cover - the last level always answers


class Learner:
    """The yields of every past month start, built once per book, read per forecast origin."""

    def __init__(self, book: Book, horizons: int, last_end: dt.datetime) -> None:
        self.book = book
        self.horizons = horizons
        first = min((d.created_at for d in book.deals), default=None)
        # per origin (month start), per horizon k: its own cells and fresh part (target over by last_end)
        self.origins: list[dt.datetime] = []
        self.per_origin: list[list[_Yields]] = []
        #: per origin, every deal open then as (state, value): what a forecast made then reads
        self.open_pairs: list[list[tuple[tuple[int, int], int]]] = []
        if first is None:
            return
        # the last LOOKBACK month starts at most: an old book's far past says little of now
        t = max(add_months(month_start(first), 1), add_months(last_end, -LOOKBACK - horizons))
        while add_months(t, 1) <= last_end:
            self.origins.append(t)
            t = add_months(t, 1)
        if not self.origins:
            return
        #: how many of each origin's horizons have a target month over by last_end
        self._scored = [min(horizons, _months_between(t, last_end)) for t in self.origins]
        self.per_origin = [[_Yields() for _ in range(horizons)] for _ in self.origins]
        self.open_pairs = [[] for _ in self.origins]
        fresh = [[0] * horizons for _ in self.origins]
        for d in book.deals:  # each deal visits only the month starts it was open at (or fresh for)
            self._learn_deal(d, last_end, fresh)
        for per, sums in zip(self.per_origin, fresh):
            for y, total in zip(per, sums):
                y.fresh = [total]

    def _learn_deal(self, d: DealPast, last_end: dt.datetime, fresh: list[list[int]]) -> None:
        """Add what deal ``d`` teaches to every month start: its open value in its state then (and
        whether it was won k months later), or its won value as a fresh deal's."""
        origins, horizons, scored = self.origins, self.horizons, self._scored
        # the month it was won in, counted from the first origin (None: not won)
        won = _months_between(origins[0], d.closed_at) if d.outcome == "won" and d.closed_at is not None else None
        if won is not None and d.closed_at is not None:
            # fresh: created after the month start t, won k < horizons months after it (t ≤ its close)
            for i in range(max(0, won - horizons + 1), min(won + 1, len(origins))):
                if d.created_at <= origins[i]:
                    continue
                k = won - i
                if k < scored[i]:
                    fresh[i][k] += d.value_at(add_months(origins[i], k + 1))
        closed = self.book.closed_stages
        # open at t: created by t and not closed by t (closed_at > t)
        first = bisect_left(origins, d.created_at)
        last = bisect_left(origins, d.closed_at) if d.closed_at is not None else len(origins)
        for i in range(first, last):
            t = origins[i]
            state = _state(d, t)
            if state[0] in closed:
                continue
            v = d.value_at(t)
            self.open_pairs[i].append((state, v))
            per = self.per_origin[i]
            for k in range(scored[i]):
                c = per[k].cells[state]
                c.n += 1
                c.open_v += v
            if won is not None and 0 <= won - i < scored[i]:
                per[won - i].cells[state].won_v += v

    def yields(self, origin: dt.datetime, k: int) -> tuple[_Yields, list[int]]:
        """Every past origin's cells for horizon k whose target month ended by ``origin``."""
        y = _Yields()
        fresh: list[int] = []
        for t, per in zip(self.origins, self.per_origin):
            if add_months(t, k + 1) > origin:
                break
            for state, c in per[k].cells.items():
                y.cells[state].add(c)
            fresh.append(per[k].fresh[0])
        return y, fresh


def _months_between(start: dt.datetime, t: dt.datetime) -> int:
    return (t.year - start.year) * 12 + t.month - start.month


def _state(d: DealPast, t: dt.datetime) -> tuple[int, int]:
    stage, since = d.stage_at(t)
    return stage, _age_bucket((t - since).total_seconds() / 86400)


def _learned(
    book: Book,
    learner: Learner,
    origin: dt.datetime,
    k: int,
    open_deals: Sequence[DealPast],
    band: tuple[float, float] = (-Z80, Z80),
) -> tuple[int, int, int] | None:
    """(forecast, low, high) in cents of the month k months after ``origin``'s month, or None when
    no past month has won anything yet (the caller then falls back to the weighted pipeline).
    low and high are the forecast + ``band`` standard deviations (never below 0)."""
    moments = _moments(learner, origin, k, [(_state(d, origin), d.value_at(origin)) for d in open_deals])
    if moments is None:
        return None
    mean, sd = moments
    return round(mean), max(0, round(mean + band[0] * sd)), round(mean + band[1] * sd)


def _moments(
    learner: Learner, origin: dt.datetime, k: int, open_now: Iterable[tuple[tuple[int, int], int]]
) -> tuple[float, float] | None:
    """The learned forecast's mean and standard deviation in cents (None: nothing learned yet),
    from the deals open at ``origin`` as (state, value) pairs."""
    y, fresh = learner.yields(origin, k)
    if not any(fresh) and not any(c.won_v for c in y.cells.values()):
        return None  # no past month won anything: nothing to learn from yet
    mean = 0.0
    var = 0.0
    rates: dict[tuple[int, int], float] = {}  # a state's yield, worked out once (many deals share it)
    for state, v in open_now:
        p = rates.get(state)
        if p is None:
            p = rates[state] = y.rate(state)
        mean += v * p
        var += v * v * p * (1 - p)
    f_mean = sum(fresh) / len(fresh)
    if len(fresh) > 1:
        var += sum((f - f_mean) ** 2 for f in fresh) / (len(fresh) - 1)
    mean += f_mean
    return mean, math.sqrt(var)


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
        self._won: dict[dt.datetime, int] = defaultdict(int)  # month start → value won in it
        for d in book.deals:
            if d.outcome == "won" and d.closed_at is not None:
                self._won[month_start(d.closed_at)] += d.amount_cents

    def residual(self, start: dt.datetime) -> float | None:
        if start not in self._residuals:
            i = self._index.get(start)
            if i is not None:  # the learner saw the deals open then
                pairs = self.learner.open_pairs[i]
            else:
                book = self.book
                pairs = [
                    (_state(d, start), d.value_at(start)) for d in book.deals if _open_at(d, start, book.closed_stages)
                ]
            moments = _moments(self.learner, start, 0, pairs)
            r = None
            if moments is not None and moments[1] > 0:
                r = (self._won.get(start, 0) - moments[0]) / moments[1]
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


def _baseline(book: Book, origin: dt.datetime, month_end: dt.datetime, open_deals: Iterable[DealPast]) -> int:
    """The stage-probability weighted pipeline expected by ``month_end``: each open deal with no
    expected close, or one before the month's end, at its stage's % (then)."""
    per_currency: dict[str, int] = defaultdict(int)  # cent-percent, summed per currency, converted once each
    last_day = (month_end - dt.timedelta(days=1)).date()
    for d in open_deals:
        expected = d.expected_at(origin)
        if expected is not None and expected > last_day:
            continue
        stage = d.stage_at(origin)[0]
        if stage == UNKNOWN:
            stage = book.first_open.get(d.pipeline_id, UNKNOWN)
        per_currency[d.currency] += d.value_at(origin) * book.probability.get(stage, 0)
    rates = book.rates
    total = rates.convert(per_currency.items()).cents if rates is not None else sum(per_currency.values())
    return round(total / 100)


def forecast_book(
    book: Book, *, months: int = 6, now: dt.datetime | None = None, widen: bool = True
) -> list[MonthForecast]:
    now = utc_now(now)
    this = month_start(now)
    learner = Learner(book, months, this)
    open_now = [d for d in book.deals if _open_at(d, now, book.closed_stages)]
    band = _Calibration(book, learner).band(now) if widen else (-Z80, Z80)
    out = []
    for k in range(months):
        start = add_months(this, k)
        end = add_months(start, 1)
        weighted = _baseline(book, now, end, open_now) - (_baseline(book, now, start, open_now) if k else 0)
        learned = _learned(book, learner, now, k, open_now, band)
        if learned is None:
            learned = (weighted, weighted, weighted)
        out.append(MonthForecast(_key(start), *learned, weighted))
    return out


def backtest_book(book: Book, *, months: int = 12, now: dt.datetime | None = None, widen: bool = True) -> Backtest:
    now = utc_now(now)
    last = month_start(now)  # the current month is not over: the last one scored is before it
    won_at = [d.closed_at for d in book.deals if d.outcome == "won" and d.closed_at is not None]
    if won_at:
        last = min(last, add_months(month_start(max(won_at)), 1))
    learner = Learner(book, 1, last)
    calibration = _Calibration(book, learner)
    rows = []
    for i in range(months, 0, -1):
        start = add_months(last, -i)
        end = add_months(start, 1)
        open_deals = [d for d in book.deals if _open_at(d, start, book.closed_stages)]
        actual = sum(d.amount_cents for d in book.deals if d.won_in(start, end))
        baseline = _baseline(book, start, end, open_deals)
        band = calibration.band(start) if widen else (-Z80, Z80)
        learned = _learned(book, learner, start, 0, open_deals, band) or (baseline, baseline, baseline)
        rows.append(BacktestMonth(_key(start), actual, learned[0], baseline, learned[1], learned[2]))
    scored = [m for m in rows if m.actual_cents > 0]
    inside = [m for m in scored if m.low_cents <= m.actual_cents <= m.high_cents]
    return Backtest(
        tuple(rows),
        _errors([(m.learned_cents, m.actual_cents) for m in scored]),
        _errors([(m.baseline_cents, m.actual_cents) for m in scored]),
        round(len(inside) / len(scored), 4) if scored else None,
    )


def _errors(pairs: list[tuple[int, int]]) -> Errors:
    if not pairs:
        return Errors(None, None)
    ape = [abs(f - a) / a for f, a in pairs]
    pe = [(f - a) / a for f, a in pairs]
    return Errors(round(sum(ape) / len(ape), 4), round(sum(pe) / len(pe), 4))
