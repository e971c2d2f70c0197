"""The report's JSON shape (DESIGN §5) as typed dicts: what ``report()`` returns, what each
section function builds and what ``crm_tui.report.render`` reads. Plain dicts at run time."""

from __future__ import annotations

from typing import NotRequired, TypeAlias, TypedDict

#: money as a JSON number in major units (an int when it is whole)
Major: TypeAlias = float | int


class CustomerTotals(TypedDict):
    count: int
    value: Major


class DealTotals(TypedDict):
    open_count: int
    open_value: Major
    weighted_value: Major
    won_count: int
    won_value: Major
    lost_count: int
    lost_value: Major
    win_rate: float | None
    win_rate_by_value: float | None
    avg_won_value: Major | None
    avg_cycle_days: float | None
    velocity_per_day: float | None


class StageRow(TypedDict):
    name: str
    kind: str
    count: int
    value: Major
    weighted_value: Major
    conversion: float | None


class OwnerRow(TypedDict):
    owner: str
    open_count: int
    won_count: int
    won_value: Major
    lost_count: int
    win_rate: float | None


class TaskTotals(TypedDict):
    open: int
    overdue: int
    due_today: int
    done: int
    on_time_rate: float | None


class OrderTotals(TypedDict):
    count: int
    value: Major


class DemandRow(TypedDict):
    product: str
    quantity: int
    unit_price: Major
    demand: Major


class SegmentRow(TypedDict):
    segment: str
    count: int
    value: Major


class MonthRow(TypedDict):
    month: str  # YYYY-MM
    won_value: Major


class KindCounts(TypedDict):
    """Activities per kind (``crm_tui.models.TASK_KINDS``)."""

    call: int
    email: int
    meeting: int
    todo: int


class ActivityOwnerRow(KindCounts):
    owner: str
    total: int


class OutcomeRow(TypedDict):
    outcome: str  # one of TASK_OUTCOMES, or "not recorded"
    count: int
    share: float | None  # count ÷ all activities in the period


class ActivityTotals(TypedDict):
    """Activities done in the period (tasks with ``done_at`` in it), per kind, per owner and kind,
    and their outcome mix."""

    total: int
    by_kind: KindCounts
    by_owner: list[ActivityOwnerRow]
    outcomes: list[OutcomeRow]


class ForecastMonth(TypedDict):
    """A month ahead: stage-weighted pipeline, learned forecast and its 80% range (major units)."""

    month: str
    weighted: Major
    learned: Major
    low: Major
    high: Major


class ForecastSection(TypedDict):
    """The report's ``forecast``: months ahead and this month by category (``metrics.categories``)."""

    months: list[ForecastMonth]
    categories: dict[str, Major]


class GoalRow(TypedDict):
    """A goal's progress in its period containing now (``crm_tui.metrics.goals``)."""

    owner: str  # "" for everyone
    metric: str
    period: str
    start: str  # the period's first local day, YYYY-MM-DD
    end: str  # its last local day
    target: Major  # major units for won_value, a count otherwise
    actual: Major
    attainment: float


class Report(TypedDict):
    """The whole report: the home currency every money figure is in, then the sections in
    ``REPORT_KEYS`` order; ``unconverted`` (only when some) names the currencies with no rate,
    whose amounts every figure left out."""

    currency: str
    customers: CustomerTotals
    deals: DealTotals
    stages: list[StageRow]
    owners: list[OwnerRow]
    tasks: TaskTotals
    orders: OrderTotals
    market_demand: list[DemandRow]
    segments: list[SegmentRow]
    revenue_by_month: list[MonthRow]
    activities: ActivityTotals
    unconverted: NotRequired[list[str]]
    goals: NotRequired[list[GoalRow]]  # added by ``report()``
    forecast: NotRequired[ForecastSection]  # added by ``report()``
