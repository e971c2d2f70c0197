"""The Orders list at 100,000 orders, each figure against a floor measured in the same run.

    python benchmarks/orders_bench.py [--orders 100000] [--lines 3] [--runs 7] [--no-save]

Builds a database of ``--orders`` orders (≈ ``--lines`` lines each on average, 2,000
customers, 40 products, every status) with raw sqlite3 in a temporary folder, then measures:

- the queries the screen runs (``crm_tui.queries.orders``): the first page with its count, a
  page at row 50,000 by keyset (and by OFFSET, which the screen uses only for a jump), a status
  filter's first page, the summary per status — against raw sqlite3 reading the same rows with
  nothing around them (the page of bare order columns; the grouped sums alone);
- the screen, headless at 120x40 (``run_test``): switching to Orders until its first rows are
  painted, and the keys ``down`` / ``pagedown`` until the row under the cursor is painted
  (p95 of 40 / 30 presses, deep into the list so pages are read as the cursor goes).

Medians of ``--runs`` (queries) and the figures go into benchmarks/RESULTS.md, in the section
between ``<!-- orders -->`` markers (replaced by the next run).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATUSES = ("draft", "approved", "fulfilled", "cancelled")
WEIGHTS = (5, 10, 75, 10)


def build(path: Path, orders: int, lines: int, seed: int = 7) -> None:
    from crm_tui.db import Database

    Database.open(str(path)).close()  # the schema, as the app makes it
    rnd = random.Random(seed)
    con = sqlite3.connect(path)
    now = dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)
    stamp = lambda d: (now - dt.timedelta(days=d)).isoformat(sep=" ")  # noqa: E731
    with con:
        con.executemany(
            "INSERT INTO customer (id, name, name_key, kind, email, phone, website, industry, tags, owner, source,"
            " status, created_at, updated_at, version) VALUES (?, ?, ?, 'company', '', '', '', '', '', ?, '',"
            " 'customer', ?, ?, 1)",
            [(i, f"Customer {i}", f"customer{i}", f"rep{i % 8}", stamp(900), stamp(10)) for i in range(1, 2001)],
        )
        con.executemany(
            "INSERT INTO product (id, name, name_key, unit_price_cents, currency, created_at)"
            " VALUES (?, ?, ?, ?, 'USD', ?)",
            [(i, f"Product {i}", f"product{i}", rnd.randint(100, 500_000), stamp(900)) for i in range(1, 41)],
        )
        order_rows, line_rows, line_id = [], [], 0
        for oid in range(1, orders + 1):
            status = rnd.choices(STATUSES, WEIGHTS)[0]
            created = stamp((orders - oid) * 700 // orders)  # newer orders, newer dates
            order_rows.append(
                (oid, f"SO-{oid:06d}", rnd.randint(1, 2000), status, f"rep{rnd.randint(0, 7)}", created, created)
            )
            for _ in range(rnd.randint(1, 2 * lines - 1)):
                line_id += 1
                line_rows.append((line_id, oid, rnd.randint(1, 40), rnd.randint(1, 50), rnd.randint(100, 500_000)))
        con.executemany(
            "INSERT INTO sales_order (id, number, customer_id, status, owner, created_at, updated_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            order_rows,
        )
        con.executemany(
            "INSERT INTO order_line (id, order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)",
            line_rows,
        )
    con.execute("ANALYZE")
    con.close()


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure_queries(path: Path, runs: int) -> list[tuple[str, str, float, float | None]]:
    from crm_tui.db import Database
    from crm_tui.queries.orders import OrderFilter, count_orders, fetch_orders, first_orders, order_summary

    db = Database.open(str(path))
    raw = sqlite3.connect(path)
    try:
        first_orders(db, OrderFilter(), 200)  # statements built once, as in the app
        total = count_orders(db)
        deep = fetch_orders(db, at=50_000 - 1, limit=1)[0].id
        page_sql = "SELECT id, number, customer_id, status, owner, created_at FROM sales_order"
        floors = {
            "first": lambda: raw.execute(f"{page_sql} ORDER BY id DESC LIMIT 200").fetchall(),
            "deep": lambda: raw.execute(f"{page_sql} WHERE id < ? ORDER BY id DESC LIMIT 200", (deep,)).fetchall(),
            "status": lambda: raw.execute(f"{page_sql} WHERE status = 'draft' ORDER BY id DESC LIMIT 200").fetchall(),
            "summary": lambda: raw.execute(
                "SELECT o.status, sum(l.quantity * l.unit_price_cents) FROM order_line l"
                " JOIN sales_order o ON o.id = l.order_id GROUP BY o.status"
            ).fetchall(),
        }
        ours = {
            "first": lambda: first_orders(db, OrderFilter(), 200),
            "deep": lambda: fetch_orders(db, after=deep, limit=200),
            "offset": lambda: fetch_orders(db, at=50_000, limit=200),
            "status": lambda: first_orders(db, OrderFilter(status="draft"), 200),
            "summary": lambda: order_summary(db),
        }
        got = {k: median_ms(f, runs) for k, f in ours.items()}
        floor = {k: median_ms(f, runs) for k, f in floors.items()}
        return [
            (f"first page of 200 and the count ({total:,} orders)", "sqlite3: 200 bare order rows", got["first"],
             floor["first"]),
            ("page of 200 at row 50,000, keyset", "sqlite3: the same 200 bare rows by id", got["deep"], floor["deep"]),
            ("page of 200 at row 50,000, OFFSET (a jump)", "same floor", got["offset"], floor["deep"]),
            ("drafts only: first page and count", "sqlite3: 200 bare draft rows", got["status"], floor["status"]),
            ("summary: count and total per status", "sqlite3: the grouped sums alone", got["summary"],
             floor["summary"]),
        ]  # fmt: skip
    finally:
        raw.close()
        db.close()


def measure_screen(path: Path) -> list[tuple[str, str, float, float | None]]:
    """Keys are posted as the terminal driver posts them and timed until the rows under the cursor
    are in and the next frame is drawn (as benchmarks/bench_children.py times the Customers list);
    the same keys on the Customers list (2,000 customers) are the floor: the app's own key cost."""
    from textual import events

    from crm_tui.tui.app import create_app

    async def painted(app) -> float:
        fut = asyncio.get_running_loop().create_future()
        app.call_after_refresh(lambda: fut.done() or fut.set_result(time.perf_counter()))
        return await fut

    async def until(cond, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("the screen never showed its rows")
            await asyncio.sleep(0.001)

    def loaded(screen) -> bool:
        table = screen.table
        top = int(table.scroll_offset.y)
        return all(screen._row_at(i) is not None for i in range(top, min(table.row_count, top + table.data_height)))

    async def keys(app, screen, key: str, count: int) -> float:
        times = []
        for _ in range(count):
            before = screen.table.cursor_row
            t = time.perf_counter()
            app.post_message(events.Key(key, None))
            await until(lambda: screen.table.cursor_row != before and loaded(screen))
            times.append((await painted(app) - t) * 1000)
            await asyncio.sleep(0.01)  # a rep's key repeat is slower than the loop
        return p95(times)

    async def run() -> dict[str, float]:
        app = create_app(str(path), poll=False, user="rep1")
        out: dict[str, float] = {}
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app.db is not None and loaded(app.screen) and app.screen.table.row_count)
            await asyncio.sleep(1.0)  # the warm-up imports every screen's code
            customers = app.screen
            out["c-down"] = await keys(app, customers, "down", 40)
            out["c-pagedown"] = await keys(app, customers, "pagedown", 30)
            t = time.perf_counter()
            await pilot.press("5")
            await until(lambda: type(app.screen).__name__ == "OrdersScreen" and app.screen.current() is not None)
            out["switch"] = (await painted(app) - t) * 1000
            screen = app.screen
            await until(lambda: screen.summary is not None)  # keys are measured in the steady state
            out["down"] = await keys(app, screen, "down", 40)
            out["pagedown"] = await keys(app, screen, "pagedown", 30)
        return out

    got = asyncio.run(run())
    return [
        ("switch to Orders until its first rows are painted", "—", got["switch"], None),
        ("key `down` in Orders until painted, p95", "same key in Customers", got["down"], got["c-down"]),
        (
            "key `pagedown` in Orders (30 screens deep), p95",
            "same key in Customers",
            got["pagedown"],
            got["c-pagedown"],
        ),
    ]


def render(rows: list[tuple[str, str, float, float | None]], orders: int, lines_count: int) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"### Orders: {orders:,} orders, {lines_count:,} lines — {when}",
        "",
        f"`python benchmarks/orders_bench.py --orders {orders}`; {platform.machine()}, Python "
        f"{platform.python_version()}; queries: median of the runs, floors in the same run; screen: headless 120x40.",
        "",
        "| figure | floor | ours (ms) | floor (ms) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for name, floor_name, ours, floor in rows:
        ratio = f"{ours / floor:.2f}×" if floor else ""
        shown_floor = f"{floor:.2f}" if floor is not None else ""
        out.append(f"| {name} | {floor_name} | {ours:.2f} | {shown_floor} | {ratio} |")
    return "\n".join(out) + "\n"


def save(section: str, path: Path) -> None:
    start, end = "<!-- orders -->", "<!-- /orders -->"
    text = path.read_text()
    block = f"{start}\n{section}{end}\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=3, help="average lines per order")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.sqlite3"
        t = time.perf_counter()
        build(path, args.orders, args.lines)
        con = sqlite3.connect(path)
        lines_count = con.execute("SELECT count(*) FROM order_line").fetchone()[0]
        con.close()
        print(
            f"built {args.orders:,} orders, {lines_count:,} lines in {time.perf_counter() - t:.1f} s", file=sys.stderr
        )
        rows = measure_queries(path, args.runs) + measure_screen(path)
    section = render(rows, args.orders, lines_count)
    print(section)
    if not args.no_save:
        save(section, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
