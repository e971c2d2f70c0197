"""The funnel design page and the product catalogue at the demo's 100,000 customers, each figure against a
floor measured in the same run.

    python benchmarks/design_bench.py [--size 100000] [--runs 7]

Works on a private copy of the cached demo database (``bench_data.cached_demo``) and measures:

- opening the funnel design page's read (``queries.funnel.funnel_design``: the stages, the live deals in
  each, the stage tasks) against raw sqlite3 counting the live deals per stage;
- the product catalogue's read (``queries.products.catalogue``: products with the deals and orders that
  carry them) against raw sqlite3's two grouped counts alone;
- removing a stage that holds deals (every deal moved to the next stage, each move recorded and journaled,
  one transaction) and its undo, against raw sqlite3 updating the same deals' stage in one statement.

Prints a table; the figures of a run go into benchmarks/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_data import cached_demo, median_ms, working_copy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from crm_tui.db import Database
    from crm_tui.queries.funnel import funnel_design
    from crm_tui.queries.products import catalogue
    from crm_tui.services import Services

    with tempfile.TemporaryDirectory() as folder:
        path = working_copy(cached_demo(args.size, 7), Path(folder))
        raw = sqlite3.connect(path)
        db = Database.open(str(path))
        rows: list[tuple[str, float, float]] = []

        floor = median_ms(
            lambda: raw.execute(
                "SELECT stage_id, count(*) FROM deal WHERE deleted_at IS NULL GROUP BY stage_id"
            ).fetchall(),
            args.runs,
        )
        rows.append(("funnel design page read", median_ms(lambda: funnel_design(db), args.runs), floor))

        floor = median_ms(
            lambda: (
                raw.execute(
                    "SELECT product_id, count(DISTINCT deal_id) FROM deal_product dp JOIN deal d ON d.id = dp.deal_id"
                    " WHERE d.deleted_at IS NULL GROUP BY product_id"
                ).fetchall(),
                raw.execute(
                    "SELECT product_id, count(DISTINCT order_id) FROM order_line GROUP BY product_id"
                ).fetchall(),
            ),
            args.runs,
        )
        rows.append(("product catalogue read", median_ms(lambda: catalogue(db), args.runs), floor))

        design = funnel_design(db)
        assert design is not None
        opens = [s for s in design.stages if s.outcome == "open"]
        stage, target = opens[1], opens[2]
        services = Services(db, user="bench")
        start = time.perf_counter()
        moved = services.remove_stage(stage.id, move_deals_to=target.id)
        removed = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        services.undo()
        undone = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        with raw:
            raw.execute("UPDATE deal SET stage_id = ? WHERE stage_id = ?", (target.id, stage.id))
            raw.execute("UPDATE deal SET stage_id = ? WHERE stage_id = ?", (stage.id, target.id))
        floor = (time.perf_counter() - start) * 1000 / 2
        rows.append((f"remove a stage holding {moved:,} deals", removed, floor))
        rows.append(("  … and ctrl+z", undone, floor))
        db.close()
        raw.close()

    print(f"{'figure':44} {'ours ms':>9} {'floor ms':>9} {'ratio':>7}")
    for name, ours, base in rows:
        print(f"{name:44} {ours:9.1f} {base:9.2f} {ours / base if base else float('inf'):6.1f}×")


if __name__ == "__main__":
    main()
