"""`crm-tui report --format json` on the benchmark book against a floor measured in the same run.

    python benchmarks/report_bench.py [--size 100000] [--seed 7] [--runs 3] [--no-save] [--db FILE]

Three child processes, interleaved, each the median of ``--runs`` (after one warm-up round that
also leaves the learned months kept, as any report does):

- floor: a plain ``python -c`` sqlite3 script computing the report's headline figures (open, won
  and lost counts and sums, counts and sums per stage, per owner, customers' count and value,
  task counts, the won revenue per month) and printing them as JSON;
- report: ``crm-tui --db X report --format json`` with the learned months kept for this database
  state (nothing changed since the last report);
- report, learning: the same after the kept months were dropped (what the first report after a
  change to a deal costs).

Then, in this process (medians of ``--runs`` after a warm-up): the learned months read back as the
report reads them when kept (``forecast_months``: the stamp and one crm_meta row), and the learned
part alone (``forecast_read``, ``forecast_learn``): reading the book, and learning from it. The database is a
private copy of the cached demo (``bench_data.cached_demo``; 10,000 / 100,000 / 300,000
customers), or of ``--db FILE`` (upgraded to this build's schema by opening it; ``--size`` then
only names the block). Figures go into benchmarks/RESULTS.md under "Report and forecast", one
block per size (replaced by the next run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data import cached_demo, median_ms, working_copy  # noqa: E402

#: the report (learned months kept) against the floor, at most
GOAL = 2.0

FLOOR = r"""
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
now = "2025-06-02 12:00:00"
gone = "SELECT id FROM customer WHERE deleted_at IS NOT NULL"
live = f"d.deleted_at IS NULL AND (d.customer_id IS NULL OR d.customer_id NOT IN ({gone}))"
out = {}
out["deals"] = con.execute(
    f"SELECT s.outcome, count(*), sum(d.amount_cents), sum(d.amount_cents * coalesce(d.probability, s.probability)) "
    f"FROM deal d JOIN stage s ON s.id = d.stage_id WHERE {live} GROUP BY s.outcome").fetchall()
out["stages"] = con.execute(
    f"SELECT d.stage_id, count(*), sum(d.amount_cents) FROM deal d WHERE {live} GROUP BY d.stage_id").fetchall()
out["owners"] = con.execute(
    f"SELECT d.owner, s.outcome, count(*), sum(d.amount_cents) FROM deal d JOIN stage s ON s.id = d.stage_id "
    f"WHERE {live} GROUP BY d.owner, s.outcome").fetchall()
won = con.execute(
    f"SELECT sum(d.amount_cents) FROM deal d JOIN stage s ON s.id = d.stage_id "
    f"WHERE {live} AND s.outcome = 'won' AND d.customer_id IS NOT NULL").fetchone()[0] or 0
orders = con.execute(
    "SELECT sum(l.quantity * l.unit_price_cents) FROM order_line l JOIN sales_order o ON o.id = l.order_id "
    "WHERE o.status = 'fulfilled' AND o.deal_id IS NULL").fetchone()[0] or 0
out["customers"] = [con.execute("SELECT count(*) FROM customer WHERE deleted_at IS NULL").fetchone()[0], won + orders]
out["tasks"] = con.execute(
    "SELECT done_at IS NULL, due_at < ?, count(*) FROM task WHERE deleted_at IS NULL GROUP BY 1, 2", (now,)).fetchall()
out["revenue_by_month"] = con.execute(
    f"SELECT substr(d.closed_at, 1, 7), sum(d.amount_cents) FROM deal d JOIN stage s ON s.id = d.stage_id "
    f"WHERE {live} AND s.outcome = 'won' GROUP BY 1 ORDER BY 1").fetchall()
sys.stdout.write(json.dumps(out, indent=2) + "\n")
"""


def child_s(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return took


def drop_kept(path: Path) -> None:
    from crm_tui.metrics.forecast import KEEP_KEY, PAST_KEY

    con = sqlite3.connect(path)
    try:
        con.execute("DELETE FROM crm_meta WHERE key IN (?, ?)", (KEEP_KEY, PAST_KEY))
        con.commit()
    finally:
        con.close()


def measure(path: Path, runs: int) -> dict[str, float]:
    floor = [sys.executable, "-c", FLOOR, str(path)]
    report = [sys.executable, "-m", "crm_tui", "--db", str(path), "report", "--format", "json"]
    child_s(floor)
    child_s(report)  # warm-up: the page cache, and the learned months kept
    times: dict[str, list[float]] = {"floor": [], "report": [], "learning": []}
    for _ in range(runs):
        times["floor"].append(child_s(floor))
        times["report"].append(child_s(report))
        drop_kept(path)
        times["learning"].append(child_s(report))  # learns again, and keeps them for the next round
    out = {k: statistics.median(v) * 1000 for k, v in times.items()}

    from crm_tui.db import Database
    from crm_tui.metrics import forecast_learn as model
    from crm_tui.metrics.forecast_read import load_book

    db = Database.open(str(path), must_exist=True)
    try:
        from crm_tui.metrics.forecast import forecast_months

        out["kept"] = median_ms(lambda: forecast_months(db), runs)  # the stamp and the kept months read back
        book = load_book(db)
        out["read"] = median_ms(lambda: load_book(db), runs)
        out["learn"] = median_ms(lambda: model.forecast_book(book), runs)
        out["deals"] = len(book)
        out["moves"] = len(book.move_at)
    finally:
        db.close()
    return out


def render(size: int, f: dict[str, float], runs: int, source: Path | None = None) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    kept, learning = f["report"] / f["floor"], f["learning"] / f["floor"]
    rows = [
        f"### {size:,} customers — {when}",
        "",
        f"`python benchmarks/report_bench.py --size {size}{f' --db {source.name}' if source else ''}`; "
        f"{platform.machine()}, Python "
        f"{platform.python_version()}, load average {load}; {int(f['deals']):,} deals, {int(f['moves']):,} stage "
        f"moves; child processes interleaved, medians of {runs}.",
        "",
        "| figure | ms | ÷ floor | goal | met |",
        "|---|---:|---:|---|---|",
        f"| floor: `python -c` sqlite3, the headline figures as JSON | {f['floor']:.0f} | 1.00× | | |",
        f"| `crm-tui report --format json`, learned months kept | {f['report']:.0f} | {kept:.2f}× | ≤ {GOAL:.0f}× "
        f"| {'yes' if kept <= GOAL else 'no'} |",
        f"| the same, learning the months (first report after a change) | {f['learning']:.0f} | {learning:.2f}× | | |",
        f"| the report's learned months read back (`forecast_months`, kept) | {f['kept']:.0f} "
        f"| {f['kept'] / f['floor']:.2f}× | | |",
        f"| learned part alone: reading the book (`load_book`) | {f['read']:.0f} | {f['read'] / f['floor']:.2f}× | | |",
        f"| learned part alone: learning (`forecast_book`, 6 months) | {f['learn']:.0f} "
        f"| {f['learn'] / f['floor']:.2f}× | | |",
    ]
    return "\n".join(rows) + "\n"


def save(size: int, section: str, path: Path) -> None:
    heading = "## Report and forecast"
    start, end = f"<!-- report {size} -->", f"<!-- /report {size} -->"
    text = path.read_text()
    block = f"{start}\n{section}{end}\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1].lstrip("\n")
    elif heading in text:
        before, rest = text.split(heading, 1)
        intro, sep, after = rest.partition("\n<!-- report ")
        text = before + heading + intro.rstrip("\n") + "\n\n" + block + (sep.lstrip("\n") + after if sep else "")
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--db", type=Path, help="a copy of this database file instead of the cached demo")
    args = parser.parse_args(argv)
    source = args.db or cached_demo(args.size, args.seed, log=lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory() as folder:
        path = working_copy(source, Path(folder))
        if args.db:
            from crm_tui.db import Database

            Database.open(str(path), must_exist=True).close()  # upgraded before anything is timed
        figures = measure(path, args.runs)
    section = render(args.size, figures, args.runs, source=args.db)
    print(section)
    if not args.no_save:
        save(args.size, section, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
