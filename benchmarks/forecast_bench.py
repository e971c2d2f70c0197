"""The learned forecast (Reports' forecast panel, ``crm-tui forecast``) on the benchmark book and
on the Maven CRM data set, against a floor measured in the same run.

    python benchmarks/forecast_bench.py [--size 100000] [--seed 7] [--runs 3] [--no-save]

For each book: ``load_book`` (the deals, their lines' list value, their stage moves, the journaled
amount changes), ``forecast_book`` for the 6 months ahead (learning from the last 36 month starts,
the interval's calibration from the last 12 months' misses) and both together — what the panel's
worker does when the data changed — and what it does after a change that concerns only this month
(the past's lessons kept: ``read_book(…, open_at=now)`` of the deals open now, then
``apply_learned``), medians of ``--runs`` after a warm-up call. The floor is raw
sqlite3 reading the same rows (deals, the lines' list value grouped per deal, the stage moves)
with nothing of ours around it. Figures go into benchmarks/RESULTS.md between ``<!-- forecast -->``
markers (replaced by the next run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data import NOW, cached_demo, median_ms, working_copy  # noqa: E402

MAVEN = HERE.parent / "tests" / "data" / "maven-crm"
#: the whole (read + learn) against the raw read, at most
GOAL = 12.0


def read_floor(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(
            "SELECT id, pipeline_id, stage_id, created_at, closed_at, amount_cents, expected_close, currency "
            "FROM deal WHERE deleted_at IS NULL"
        ).fetchall()
        con.execute(
            "SELECT dp.deal_id, sum(dp.quantity * p.unit_price_cents) FROM deal_product dp "
            "JOIN product p ON p.id = dp.product_id GROUP BY dp.deal_id"
        ).fetchall()
        con.execute("SELECT deal_id, at, to_stage_id, from_stage_id, by FROM stage_change").fetchall()
    finally:
        con.close()


def measure(name: str, path: Path, now: dt.datetime, runs: int) -> tuple[str, int, dict[str, float]]:
    from crm_tui.db import Database
    from crm_tui.metrics.forecast import forecast_book, load_book
    from crm_tui.metrics.forecast_learn import apply_learned, learn
    from crm_tui.metrics.forecast_read import read_book

    db = Database.open(str(path), must_exist=True)
    try:
        book = load_book(db)
        learned = learn(book, now=now)

        def open_now() -> None:
            with db.read() as session:
                apply_learned(learned, read_book(session.connection(), open_at=now), now=now)

        out = {
            "open": median_ms(open_now, runs),
            "floor": median_ms(lambda: read_floor(path), runs),
            "load": median_ms(lambda: load_book(db), runs),
            "learn": median_ms(lambda: forecast_book(book, now=now), runs),
            "learn_normal": median_ms(lambda: forecast_book(book, now=now, widen=False), runs),
        }
        out["whole"] = out["load"] + out["learn"]
        return name, len(book.deals), out
    finally:
        db.close()


def maven_db(folder: Path) -> Path:
    from crm_tui.db import Database
    from crm_tui.io import import_file

    path = folder / "maven.sqlite3"
    db = Database.open(str(path))
    try:
        import_file(db, "products", MAVEN / "products.csv")
        import_file(db, "customers", MAVEN / "accounts.csv")
        import_file(db, "deals", MAVEN / "sales_pipeline.csv")
    finally:
        db.close()
    return path


def render(rows: list[tuple[str, int, dict[str, float]]], runs: int) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    out = [
        f"### The learned forecast's cost — {when}",
        "",
        f"`python benchmarks/forecast_bench.py`; {platform.machine()}, Python {platform.python_version()}, "
        f"load average {load}; medians of {runs} after a warm-up. Floor: raw sqlite3 reading the same rows "
        "(deals, their lines' list value per deal, the stage moves). Learn: `forecast_book`, 6 months ahead "
        "with the interval's calibration (without it in brackets).",
        "",
        "| book | deals | floor (ms) | load (ms) | learn (ms) | whole (ms) | whole ÷ floor | goal | met "
        "| after a change this month: open deals read + applied (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for name, deals, f in rows:
        ratio = f["whole"] / f["floor"]
        out.append(
            f"| {name} | {deals:,} | {f['floor']:.0f} | {f['load']:.0f} | {f['learn']:.0f} ({f['learn_normal']:.0f}) "
            f"| {f['whole']:.0f} | {ratio:.1f}× | ≤ {GOAL:.0f}× | {'yes' if ratio <= GOAL else 'no'} "
            f"| {f['open']:.0f} |"
        )
    return "\n".join(out) + "\n"


def save(section: str, path: Path) -> None:
    start, end = "<!-- forecast -->", "<!-- /forecast -->"
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
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        maven = maven_db(Path(folder))
        rows.append(
            measure("Maven CRM (2017; now = 2018-01-01)", maven, dt.datetime(2018, 1, 1, tzinfo=dt.UTC), args.runs)
        )
        for size in sorted({2000, args.size}):
            cached = cached_demo(size, args.seed, log=lambda m: print(m, file=sys.stderr))
            path = working_copy(cached, Path(folder))
            rows.append(measure(f"{size:,}-customer demo", path, NOW, args.runs))
            print(rows[-1], file=sys.stderr)
    section = render(rows, args.runs)
    print(section)
    if not args.no_save:
        save(section, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
