"""`crm-tui forecast`: won value per coming month learned from the book's own history, and
``--backtest`` to replay that history and compare it with the stage-probability weighted pipeline.

Only the standard library at module level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_tui.metrics.forecast import Backtest, MonthForecast


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``crm-tui forecast`` on ``subparsers`` (``ArgumentParser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "forecast",
        help="won value per coming month, learned from the book's history (--backtest: how good it was)",
        description=(
            "Forecast the won value of this month and the next ones from the book's own history (each stage's "
            "past yield by age in stage) with an 80%% interval, beside the stage-probability weighted pipeline. "
            "--backtest replays the past months instead: at each month's start it forecasts that month from what "
            "was known then and compares both forecasts with what was won (mean absolute percentage error and bias)."
        ),
    )
    parser.add_argument("--backtest", action="store_true", help="replay the past months and print the errors")
    parser.add_argument(
        "--months",
        type=int,
        default=None,
        metavar="N",
        help="months to forecast (default 6) or, with --backtest, past months to replay (default 12)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, db_value: str | None) -> int:
    import json

    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.metrics.forecast import backtest, forecast_months

    months = args.months if args.months is not None else (12 if args.backtest else 6)
    if not 1 <= months <= 120:
        raise ValidationError(f"--months must be between 1 and 120, got {months}")
    db = Database.open(db_value, must_exist=True)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    try:
        if args.backtest:
            result = backtest(db, months=months)
            if args.format == "json":
                sys.stdout.write(json.dumps(result.json(), indent=2) + "\n")
            else:
                _print_backtest(result)
        else:
            rows = forecast_months(db, months=months)
            if args.format == "json":
                sys.stdout.write(json.dumps(_forecast_json(rows), indent=2) + "\n")
            else:
                _print_forecast(rows)
    finally:
        db.close()
    return 0


def _money(cents: int) -> str:
    return f"{cents / 100:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def _forecast_json(rows: list[MonthForecast]) -> dict[str, object]:
    from crm_tui.textnorm import cents_to_major as major

    return {
        "months": [
            {
                "month": r.month,
                "weighted": major(r.weighted_cents),
                "learned": major(r.learned_cents),
                "low": major(r.low_cents),
                "high": major(r.high_cents),
            }
            for r in rows
        ]
    }


def _print_forecast(rows: list[MonthForecast]) -> None:
    print(f"{'month':<8} {'learned':>14} {'80% interval':>27} {'weighted':>14}")
    for r in rows:
        interval = f"{_money(r.low_cents)} – {_money(r.high_cents)}"
        print(f"{r.month:<8} {_money(r.learned_cents):>14} {interval:>27} {_money(r.weighted_cents):>14}")


def _print_backtest(result: Backtest) -> None:
    print(f"{'month':<8} {'actual':>14} {'learned':>14} {'error':>8} {'baseline':>14} {'error':>8}")
    for m in result.months:
        a = m.actual_cents

        def err(f: int, a: int = a) -> str:
            return _pct((f - a) / a) if a else "—"

        print(
            f"{m.month:<8} {_money(a):>14} {_money(m.learned_cents):>14} {err(m.learned_cents):>8} "
            f"{_money(m.baseline_cents):>14} {err(m.baseline_cents):>8}"
        )
    lr, bl = result.learned, result.baseline

    def mape(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    print(f"learned   MAPE {mape(lr.mape):>7}  bias {_pct(lr.bias):>7}")
    print(f"baseline  MAPE {mape(bl.mape):>7}  bias {_pct(bl.bias):>7}  (stage probability × value)")
    if lr.mape is not None and bl.mape is not None:
        print(compared(lr.mape, bl.mape))
    print("(error: forecast − actual, of actual; months that won nothing are not scored)")


def compared(learned: float, baseline: float) -> str:
    """How the learned forecast's MAPE compares with the baseline's, in words a rep reads the right way round."""
    gap = round((baseline - learned) * 100, 1)
    if gap > 0:
        return f"the learned forecast's error is {gap:.1f} points lower than the baseline's"
    if gap < 0:
        return f"the learned forecast's error is {-gap:.1f} points higher than the baseline's"
    return "the learned forecast's error is the same as the baseline's"
