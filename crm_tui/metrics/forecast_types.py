"""What the learned forecast answers (``crm_tui.metrics.forecast``): plain records, no numpy."""

from __future__ import annotations

from dataclasses import dataclass

from crm_tui.textnorm import cents_to_major


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
