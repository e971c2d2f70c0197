"""The report's figures in exact units (what the Reports screen shows) and their JSON shape.

Money is integer cents from the database to the text on screen. A figure that is fractional
by definition is exact too: a weighted value (Σ amount × probability %) is kept in integer
cent-percent and read as a ``Decimal`` of cents, an average and the sales velocity are
``Decimal`` cents; ``crm_tui.textnorm`` rounds each once, half up, when it formats it.

``json()`` is the edge: the report's JSON shape of DESIGN §5 (``crm_tui.metrics.shapes``,
money as numbers in major units), exactly as ``crm-tui report`` has always written it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypeAlias

from crm_tui.metrics._common import cp_to_major, money_ratio, rate
from crm_tui.textnorm import cents_to_major

if TYPE_CHECKING:
    from crm_tui.metrics.activities import ActivityFigures
    from crm_tui.metrics.shapes import (
        CustomerTotals,
        DealTotals,
        DemandRow,
        MonthRow,
        OrderTotals,
        OwnerRow,
        Report,
        SegmentRow,
        StageRow,
        TaskTotals,
    )

#: a section of the report (DESIGN §5), in the order of the JSON shape
SectionKey: TypeAlias = Literal[
    "customers",
    "deals",
    "stages",
    "owners",
    "tasks",
    "orders",
    "market_demand",
    "segments",
    "revenue_by_month",
    "activities",
]


def cp_cents(cent_pct: int) -> Decimal:
    """Cent-percent (Σ cents × probability %) → exact cents: 12345650 → Decimal('123456.50')."""
    return Decimal(int(cent_pct)).scaleb(-2)


@dataclass(frozen=True)
class CustomerFigures:
    """C = live customers; V = Σ purchase values (won deals + fulfilled orders)."""

    count: int
    value_cents: int

    def json(self) -> CustomerTotals:
        return {"count": self.count, "value": cents_to_major(self.value_cents)}


@dataclass(frozen=True)
class DealFigures:
    """Open, won and lost deals: the sums every deal figure (DESIGN §4) is made of."""

    open_count: int
    open_cents: int
    weighted_cp: int  # Σ amount × probability over open deals, cent-percent
    won_count: int
    won_cents: int
    lost_count: int
    lost_cents: int
    cycle_days_total: float  # Σ days from created to closed over won deals (the engine's date arithmetic)
    cycle_count: int

    @property
    def weighted_cents(self) -> Decimal:
        return cp_cents(self.weighted_cp)

    @property
    def win_rate(self) -> float | None:
        return rate(self.won_count, self.won_count + self.lost_count)

    @property
    def win_rate_by_value(self) -> float | None:
        return rate(self.won_cents, self.won_cents + self.lost_cents)

    @property
    def avg_won_cents(self) -> Decimal | None:
        """Won amount ÷ won count (None with nothing won)."""
        return Decimal(self.won_cents) / self.won_count if self.won_count else None

    @property
    def avg_cycle_days(self) -> float | None:
        """Mean days from created to won, to 2 decimals (None with nothing won)."""
        return round(self.cycle_days_total / self.cycle_count, 2) if self.cycle_count else None

    @property
    def velocity_cents(self) -> Decimal | None:
        """Open deals × win rate × average won deal ÷ sales cycle, in cents per day (None when
        a factor is undefined or the cycle is 0): open × won cents × cycles ÷ (closed × Σ days)."""
        if not self.won_count or not self.avg_cycle_days:
            return None
        numerator = Decimal(self.open_count * self.won_cents * self.cycle_count)
        return numerator / (Decimal(self.won_count + self.lost_count) * Decimal(self.cycle_days_total))

    def json(self) -> DealTotals:
        win_rate, avg_won, avg_cycle = self.win_rate, money_ratio(self.won_cents, self.won_count), self.avg_cycle_days
        velocity: float | None = None
        if win_rate is not None and avg_won is not None and avg_cycle:
            # the JSON's velocity has always been this float arithmetic, kept to the bit so the
            # report does not change; the screen shows the exact ``velocity_cents``
            exact_rate = self.won_count / (self.won_count + self.lost_count)
            exact_avg_won = self.won_cents / 100 / self.won_count
            exact_cycle = self.cycle_days_total / self.cycle_count
            velocity = round(self.open_count * exact_rate * exact_avg_won / exact_cycle, 2)
        return {
            "open_count": self.open_count,
            "open_value": cents_to_major(self.open_cents),
            "weighted_value": cp_to_major(self.weighted_cp),
            "won_count": self.won_count,
            "won_value": cents_to_major(self.won_cents),
            "lost_count": self.lost_count,
            "lost_value": cents_to_major(self.lost_cents),
            "win_rate": win_rate,
            "win_rate_by_value": self.win_rate_by_value,
            "avg_won_value": avg_won,
            "avg_cycle_days": avg_cycle,
            "velocity_per_day": velocity,
        }


@dataclass(frozen=True)
class StageFigures:
    """One stage: its open deals (an open stage) or its deals closed in the period."""

    name: str
    kind: str  # open, won or lost
    count: int
    value_cents: int
    weighted_cp: int  # a won stage's is its value, a lost stage's 0
    conversion: float | None  # to the next stage; None for won/lost stages or no deals
    pipeline: str = ""  # its pipeline's name (the screen groups by it; not in the JSON)

    @property
    def weighted_cents(self) -> Decimal:
        return cp_cents(self.weighted_cp)

    def json(self) -> StageRow:
        return {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "value": cents_to_major(self.value_cents),
            "weighted_value": cp_to_major(self.weighted_cp),
            "conversion": self.conversion,
        }


@dataclass(frozen=True)
class OwnerFigures:
    owner: str
    open_count: int
    won_count: int
    won_cents: int
    lost_count: int

    @property
    def win_rate(self) -> float | None:
        return rate(self.won_count, self.won_count + self.lost_count)

    def json(self) -> OwnerRow:
        return {
            "owner": self.owner,
            "open_count": self.open_count,
            "won_count": self.won_count,
            "won_value": cents_to_major(self.won_cents),
            "lost_count": self.lost_count,
            "win_rate": self.win_rate,
        }


@dataclass(frozen=True)
class OrderFigures:
    """O = orders not cancelled; W = Σ their line values."""

    count: int
    value_cents: int

    def json(self) -> OrderTotals:
        return {"count": self.count, "value": cents_to_major(self.value_cents)}


@dataclass(frozen=True)
class DemandFigures:
    """M = P × Q of one product on open deals."""

    product: str
    quantity: int
    unit_price_cents: int

    @property
    def demand_cents(self) -> int:
        return self.quantity * self.unit_price_cents

    def json(self) -> DemandRow:
        return {
            "product": self.product,
            "quantity": self.quantity,
            "unit_price": cents_to_major(self.unit_price_cents),
            "demand": cents_to_major(self.demand_cents),
        }


@dataclass(frozen=True)
class SegmentFigures:
    segment: str
    count: int
    value_cents: int

    def json(self) -> SegmentRow:
        return {"segment": self.segment, "count": self.count, "value": cents_to_major(self.value_cents)}


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    won_cents: int

    def json(self) -> MonthRow:
        return {"month": self.month, "won_value": cents_to_major(self.won_cents)}


@dataclass(frozen=True)
class ReportFigures:
    """The report's sections computed so far (None: not yet), exact; ``json()`` once complete."""

    customers: CustomerFigures | None = None
    deals: DealFigures | None = None
    stages: tuple[StageFigures, ...] | None = None
    owners: tuple[OwnerFigures, ...] | None = None
    tasks: TaskTotals | None = None
    orders: OrderFigures | None = None
    market_demand: tuple[DemandFigures, ...] | None = None
    segments: tuple[SegmentFigures, ...] | None = None
    revenue_by_month: tuple[MonthFigures, ...] | None = None
    activities: ActivityFigures | None = None
    #: the home currency every money figure is in, and the currencies left out for want of a rate
    currency: str = "USD"
    unconverted: frozenset[str] = frozenset()

    @property
    def complete(self) -> bool:
        return all(getattr(self, f.name) is not None for f in fields(self))

    def json(self) -> Report:
        """The report's JSON shape (DESIGN §5), keys in ``REPORT_KEYS`` order after ``currency`` (the
        home currency of every money figure); ``unconverted`` lists the currencies left out."""
        c, d, st, ow, t, o, m, sg, rv, ac = (
            self.customers,
            self.deals,
            self.stages,
            self.owners,
            self.tasks,
            self.orders,
            self.market_demand,
            self.segments,
            self.revenue_by_month,
            self.activities,
        )
        if c is None or d is None or st is None or ow is None or t is None or o is None:
            raise ValueError("the report is not complete yet")
        if m is None or sg is None or rv is None or ac is None:
            raise ValueError("the report is not complete yet")
        out: Report = {
            "currency": self.currency,
            "customers": c.json(),
            "deals": d.json(),
            "stages": [s.json() for s in st],
            "owners": [x.json() for x in ow],
            "tasks": t.copy(),  # no money in it: the same shape
            "orders": o.json(),
            "market_demand": [x.json() for x in m],
            "segments": [x.json() for x in sg],
            "revenue_by_month": [x.json() for x in rv],
            "activities": ac.json(),
        }
        if self.unconverted:
            out["unconverted"] = sorted(self.unconverted)
        return out
