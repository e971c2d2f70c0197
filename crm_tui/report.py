"""Rendering a metrics report (``crm_tui.metrics.report``) as text, JSON or CSV.

- ``json``: the report dict as is, indented, UTF-8 text.
- ``text``: sections for a terminal or an e-mail, with the seeds' symbols
  (M C V S R O W), money with thousands separators, rates as percentages.
- ``csv``: one flat table a spreadsheet opens, columns ``section,item,key,value``:
  ``section`` is the report key (``deals``, ``stages``...), ``item`` names the
  row inside a list section (stage, owner, product, segment, month; blank for
  the single-row sections), ``key`` the figure and ``value`` the number
  (blank for undefined). Money in major units, rates as fractions 0..1. A name
  that a spreadsheet would run as a formula starts with a quote (``crm_tui.csv_cells``).
  ``activities`` has three parts: ``activities`` (blank item) holds ``total`` and the
  count per kind; ``activities.by_owner`` one item per owner with a count per kind and
  ``total``; ``activities.outcomes`` one item per outcome with ``count`` and ``share``.
  ``currency`` (key ``home``) names the home currency every money figure is in, and
  ``unconverted`` (key ``currency``, one row each) a currency left out for want of a rate.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _csv import Writer as _Writer

    from crm_tui.metrics.shapes import ActivityTotals, ForecastSection, Major, Report

FORMATS = ("text", "json", "csv")
#: the text form lists the products with the biggest demand; JSON and CSV list all
TEXT_TOP_PRODUCTS = 20

_ITEM_KEY = {
    "stages": "name",
    "owners": "owner",
    "market_demand": "product",
    "segments": "segment",
    "revenue_by_month": "month",
}


def render(report: Report, fmt: str = "text", *, title: str | None = None, owner: str | None = None) -> str:
    """The report in ``fmt`` (text, json or csv); ``title`` heads the text form, which names
    ``owner`` when the report is one owner's (customers and their value stay every owner's)."""
    from crm_tui.errors import ValidationError

    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt == "text":
        return _text(report, title, owner)
    raise ValidationError(f"report format must be one of {', '.join(FORMATS)}, got {fmt!r}", field="format")


# --- csv ----------------------------------------------------------------------


def _csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "key", "value"])
    for section, body in report.items():
        if section == "currency":
            w.writerow([section, "", "home", _cell(body)])
        elif section == "unconverted":
            for code in report.get("unconverted", []):
                w.writerow([section, "", "currency", _cell(code)])
        elif section == "activities":
            _csv_activities(w, report["activities"])
        elif section == "forecast":
            _csv_forecast(w, report["forecast"])
        elif isinstance(body, dict):
            for key, value in body.items():
                w.writerow([section, "", key, _cell(value)])
        else:
            rows = cast("list[Mapping[str, object]]", body)  # every other section is a list of rows
            name_key = _ITEM_KEY.get(section)
            for i, row in enumerate(rows):
                item = _cell(row.get(name_key, i) if name_key else i)
                for key, value in row.items():
                    if key != name_key:
                        w.writerow([section, item, key, _cell(value)])
    return buf.getvalue()


def _csv_forecast(w: _Writer, f: ForecastSection) -> None:
    for key, value in f["categories"].items():
        w.writerow(["forecast.categories", "", key, _cell(value)])
    for m in f["months"]:
        for key in ("weighted", "learned", "low", "high"):
            w.writerow(["forecast.months", m["month"], key, _cell(m[key])])  # type: ignore[literal-required]


def _csv_activities(w: _Writer, a: ActivityTotals) -> None:
    w.writerow(["activities", "", "total", a["total"]])
    for kind, n in a["by_kind"].items():
        w.writerow(["activities", "", kind, n])
    for row in a["by_owner"]:
        owner = _cell(row["owner"])
        for key, value in row.items():
            if key != "owner":
                w.writerow(["activities.by_owner", owner, key, _cell(value)])
    for o in a["outcomes"]:
        w.writerow(["activities.outcomes", _cell(o["outcome"]), "count", o["count"]])
        w.writerow(["activities.outcomes", _cell(o["outcome"]), "share", _cell(o["share"])])


def _cell(value: object) -> str:
    """Names (owners, stages, products) never run as spreadsheet formulas; numbers stay numbers."""
    from crm_tui.csv_cells import neutralise

    return "" if value is None else neutralise(str(value))


# --- text ---------------------------------------------------------------------


def _safe(text: object) -> str:
    """User text with control characters (terminal escapes) shown as visible escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def money(value: Major | None) -> str:
    """A major-unit number → '1,234.50' ('—' when undefined)."""
    if value is None:
        return "—"
    return f"{value:,.2f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    return ["  " + line(headers), "  " + "  ".join("-" * w for w in widths)] + ["  " + line(r) for r in rows]


def _text_activities(a: ActivityTotals) -> list[str]:
    """Activities done in the period per owner and kind, a total row, and the outcome mix."""
    out = ["Activities done (calls, emails, meetings, to-dos)"]
    if not a["total"]:
        return [*out, "  none in the period"]
    rows = [
        [_safe(o["owner"]) or "(none)", *(f"{n:,}" for n in (o["call"], o["email"], o["meeting"], o["todo"]))]
        + [f"{o['total']:,}"]
        for o in a["by_owner"]
    ]
    if len(rows) > 1:
        rows.append(["(all)", *(f"{n:,}" for n in a["by_kind"].values()), f"{a['total']:,}"])
    out += _table(["owner", *a["by_kind"], "total"], rows, {1, 2, 3, 4, 5})
    mix = [f"{_safe(o['outcome'])} {o['count']:,} ({pct(o['share'])})" for o in a["outcomes"] if o["count"]]
    out.append("  outcomes: " + " · ".join(mix))
    return out


def _text(r: Report, title: str | None, owner: str | None = None) -> str:
    d, c, o, t = r["deals"], r["customers"], r["orders"], r["tasks"]
    demand_total = sum(m["demand"] for m in r["market_demand"])
    from crm_tui.money import missing_note

    heading = title or ("Sales report" + (f": {owner}'s deals, tasks and orders" if owner else ""))
    out = [_safe(heading), f"Money in {_safe(r['currency'])} (the home currency)"]
    every = (
        "   (every owner's)" if owner else ""
    )  # C and V are the whole book's (DESIGN: the owner filter is the deals')
    if r.get("unconverted"):
        out.append(_safe(missing_note(r.get("unconverted", []))))
    out += [
        "",
        "Key figures",
        f"  C  customers                {c['count']:,}{every}",
        f"  V  customer value           {money(c['value'])}{every}",
        f"  R  sales amount (won)       {money(d['won_value'])}   ({d['won_count']:,} deals)",
        f"  S  win rate (won/closed)   {pct(d['win_rate'])}   by value {pct(d['win_rate_by_value'])}"
        f"   (won {d['won_count']:,} / lost {d['lost_count']:,})",
        f"  O  orders                   {o['count']:,}",
        f"  W  order value              {money(o['value'])}",
        f"  M  market demand            {money(demand_total)}   (open deals' product lines)",
        "",
        "Pipeline",
        f"  open deals                  {d['open_count']:,}   value {money(d['open_value'])}",
        f"  weighted value              {money(d['weighted_value'])}",
        f"  average won deal            {money(d['avg_won_value'])}",
        f"  sales cycle                 {_num(d['avg_cycle_days'])} days",
        f"  sales velocity              {money(d['velocity_per_day'])} per day",
        "",
        "Stages",
    ]
    out += _table(
        ["stage", "kind", "deals", "value", "weighted", "→ next"],
        [
            [
                _safe(s["name"]),
                s["kind"],
                f"{s['count']:,}",
                money(s["value"]),
                money(s["weighted_value"]),
                pct(s["conversion"]),
            ]
            for s in r["stages"]
        ],
        {2, 3, 4, 5},
    )
    out += ["", "Owners"]
    out += _table(
        ["owner", "open", "won", "won value", "lost", "win rate"],
        [
            [
                _safe(o_["owner"]) or "(none)",
                f"{o_['open_count']:,}",
                f"{o_['won_count']:,}",
                money(o_["won_value"]),
                f"{o_['lost_count']:,}",
                pct(o_["win_rate"]),
            ]
            for o_ in r["owners"]
        ],
        {1, 2, 3, 4, 5},
    )
    out += [
        "",
        "Tasks",
        f"  open {t['open']:,}   overdue {t['overdue']:,}   due today {t['due_today']:,}   done {t['done']:,}"
        f"   on time {pct(t['on_time_rate'])}",
        "",
    ]
    out += _text_activities(r["activities"])
    out += [
        "",
        "Market demand (M = P × Q)",
    ]
    shown = r["market_demand"][:TEXT_TOP_PRODUCTS]
    out += _table(
        ["product", "quantity", "unit price", "demand"],
        [[_safe(m["product"]), f"{m['quantity']:,}", money(m["unit_price"]), money(m["demand"])] for m in shown],
        {1, 2, 3},
    )
    if len(r["market_demand"]) > len(shown):
        rest = r["market_demand"][len(shown) :]
        out.append(f"  … {len(rest):,} more products, demand {money(sum(m['demand'] for m in rest))}")
    out += ["", "Customer segments (RFM)"]
    out += _table(
        ["segment", "customers", "value"],
        [[s["segment"], f"{s['count']:,}", money(s["value"])] for s in r["segments"]],
        {1, 2},
    )
    out += ["", "Revenue by month (won)"]
    out += _table(["month", "won value"], [[m["month"], money(m["won_value"])] for m in r["revenue_by_month"]], {1})
    goals = r.get("goals") or []
    if goals:  # a book with no goals prints what it always has
        out += ["", "Goals (this period)"]
        out += _table(
            ["owner", "goal", "period", "target", "actual", "attained"],
            [
                [
                    _safe(g["owner"]) or "(everyone)",
                    g["metric"].replace("_", " "),
                    f"{g['start']} – {g['end']}",
                    money(g["target"]) if g["metric"] == "won_value" else f"{g['target']:,}",
                    money(g["actual"]) if g["metric"] == "won_value" else f"{g['actual']:,}",
                    pct(g["attainment"]),
                ]
                for g in goals
            ],
            {3, 4, 5},
        )
    forecast = r.get("forecast")
    if forecast is not None:
        cat = forecast["categories"]
        out += ["", "Forecast"]
        out.append(
            f"  this month by category: closed {money(cat['closed'])} · commit {money(cat['commit'])} · "
            f"best case {money(cat['best_case'])} · pipeline {money(cat['pipeline'])}"
        )
        out += _table(
            ["month", "stage-weighted", "learned", "80% range"],
            [
                [m["month"], money(m["weighted"]), money(m["learned"]), f"{money(m['low'])} – {money(m['high'])}"]
                for m in forecast["months"]
            ],
            {1, 2, 3},
        )
    return "\n".join(out) + "\n"
