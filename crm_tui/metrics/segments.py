"""Customer segments (the seeds' "classify customers") by RFM.

Purchases are won deals and fulfilled orders (see ``book.purchases``); a
customer with none is in no segment. Per customer, one SQL GROUP BY gives

- recency: days from the last purchase to ``now``,
- frequency: number of purchases,
- monetary: Σ purchase values,

and pandas scores them 1..5 without any loop over customers:

- R by fixed recency thresholds: ≤30 days 5, ≤90 4, ≤180 3, ≤365 2, older 1;
- F by fixed counts: 1 → 1, 2 → 2, 3 → 3, 4–5 → 4, 6 or more → 5;
- M by quintile of the customer's monetary rank among purchasing customers
  (ties share the higher rank, so a lone customer scores 5).

Fixed R and F thresholds keep one customer and 100k customers meaningful;
M is relative because what counts as "a lot" depends on the book. Rules,
first match wins:

1. champions — R ≥ 4, F ≥ 4 and M ≥ 4: bought recently, often, and a lot;
2. new — R ≥ 4 and F = 1: a first purchase in the last 90 days;
3. loyal — R ≥ 3 and F ≥ 3: buys regularly;
4. potential — R ≥ 3: bought in the last 180 days, could become loyal;
5. at risk — F ≥ 3 or M ≥ 4: used to buy often or big, nothing for 180+ days;
6. hibernating — everyone else: few, small purchases long ago.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, literal, select

from crm_tui import engines

from crm_tui.metrics._common import load_stages, utc_now
from crm_tui.metrics.book import purchases
from crm_tui.models import UTCDateTime
from crm_tui.textnorm import cents_to_major

SEGMENTS = ("champions", "loyal", "potential", "new", "at risk", "hibernating")


def rfm_frame(conn, stages, now: dt.datetime):
    """A DataFrame indexed by customer id: recency_days, frequency, monetary (cents), r, f, m, segment.

    Recency is computed in SQL (days from the last purchase to ``now``).
    """
    import numpy as np
    import pandas as pd

    p = purchases(stages)
    recency = engines.days_between(func.max(p.c.at), literal(now, UTCDateTime), conn.dialect)
    q = select(p.c.customer_id, recency, func.count(), func.sum(p.c.value)).group_by(p.c.customer_id)
    names = ["customer_id", "recency_days", "frequency", "monetary"]
    columns = list(zip(*conn.execute(q).all())) or [()] * 4  # column-wise, without a Python loop per row
    df = pd.DataFrame({name: list(col) for name, col in zip(names, columns)})
    if df.empty:
        df["segment"] = pd.Series(dtype="object")
        return df.set_index("customer_id")
    df["recency_days"] = df["recency_days"].astype("float64").clip(lower=0.0)
    df["frequency"] = df["frequency"].astype("int64")
    df["monetary"] = df["monetary"].fillna(0).astype("int64")
    inf = np.inf
    r = pd.cut(df["recency_days"], [-inf, 30, 90, 180, 365, inf], labels=[5, 4, 3, 2, 1], right=True)
    f = pd.cut(df["frequency"], [-inf, 1, 2, 3, 5, inf], labels=[1, 2, 3, 4, 5], right=True)
    df["r"] = r.astype("int64")
    df["f"] = f.astype("int64")
    df["m"] = np.ceil(df["monetary"].rank(method="max", pct=True) * 5).clip(1, 5).astype("int64")
    R, F, M = df["r"], df["f"], df["m"]
    df["segment"] = np.select(
        [
            (R >= 4) & (F >= 4) & (M >= 4),
            (R >= 4) & (F == 1),
            (R >= 3) & (F >= 3),
            R >= 3,
            (F >= 3) | (M >= 4),
        ],
        ["champions", "new", "loyal", "potential", "at risk"],
        default="hibernating",
    )
    return df.set_index("customer_id")


def segment_rows(conn, stages, now: dt.datetime) -> list[dict]:
    """The ``segments`` section: every segment (zeros included) with customer count and value."""
    df = rfm_frame(conn, stages, now)
    grouped = df.groupby("segment")["monetary"].agg(["count", "sum"]) if len(df) else None
    rows = []
    for name in SEGMENTS:
        if grouped is not None and name in grouped.index:
            count, total = int(grouped.at[name, "count"]), int(grouped.at[name, "sum"])
        else:
            count, total = 0, 0
        rows.append({"segment": name, "count": count, "value": cents_to_major(total)})
    return rows


def customer_segments(db, now: dt.datetime | None = None) -> dict[int, str]:
    """Customer id → segment name, for customers with at least one purchase."""
    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        df = rfm_frame(conn, load_stages(conn), now)
    return dict(zip(df.index.astype("int64").tolist(), df["segment"].tolist()))
