"""What journaling an import costs: ``import_file`` of the same file with the import journaled
as one action and, interleaved, with the journal left out (the floor), each into a new database;
then the undo and the redo of the journaled import.

    .venv/bin/python benchmarks/import_journal_bench.py [--rows N] [--repeat 3] [--kind deals|customers]

Prints the medians of the whole import and of its final write transaction (the merge, while the
write lock is held), their ratios to the floor, and the undo and redo times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def customers_csv(path: Path, n: int) -> None:
    lines = ["Record ID,Company name,Email,Phone,Industry,Owner,Lifecycle stage,Notes"]
    for i in range(n):
        lines.append(
            f"C{i:07d},Company {i},info{i}@example.com,+1 555 {i % 10000:04d},Industry {i % 40},"
            f"Agent {i % 35},customer,Met at fair {i % 12}"
        )
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def journal_off():
    """The floor: the same import and merge, no journal entry."""
    from crm_tui.io import staging

    real = staging.merge_staged_import

    def merge(session, staged, action=None):
        return real(session, staged, None)

    staging.merge_staged_import = merge
    try:
        yield
    finally:
        staging.merge_staged_import = real


def one(kind: str, csv_path: Path, db_path: Path, *, journal: bool) -> tuple[float, float]:
    from crm_tui.db import Database
    from crm_tui.io import import_file

    db = Database.open(str(db_path))
    try:
        t = time.perf_counter()
        if journal:
            r = import_file(db, kind, csv_path, user="bench")
        else:
            with journal_off():
                r = import_file(db, kind, csv_path, user="bench")
        elapsed = time.perf_counter() - t
        assert r.rejected == 0 and r.created > 0, r.summary()
        return elapsed, r.merge_seconds
    finally:
        db.close()


def undo_redo(db_path: Path) -> tuple[float, float]:
    from crm_tui.db import Database
    from crm_tui.services import Services

    db = Database.open(str(db_path))
    try:
        services = Services(db, user="bench")
        t = time.perf_counter()
        services.undo()
        undo = time.perf_counter() - t
        t = time.perf_counter()
        services.redo()
        return undo, time.perf_counter() - t
    finally:
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kind", choices=("deals", "customers"), default="deals")
    args = ap.parse_args()
    import pandas  # noqa: F401  (imported once, outside every timing)
    import sqlmodel  # noqa: F401
    from import_bench import make_csv

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / f"{args.kind}.csv"
        (make_csv if args.kind == "deals" else customers_csv)(csv_path, args.rows)
        one(args.kind, csv_path, folder / "warm.sqlite3", journal=True)  # warm caches and lazy imports
        on, off, undos = [], [], []
        for k in range(args.repeat):
            off.append(one(args.kind, csv_path, folder / f"off{k}.sqlite3", journal=False))
            on.append(one(args.kind, csv_path, folder / f"on{k}.sqlite3", journal=True))
            undos.append(undo_redo(folder / f"on{k}.sqlite3"))
        total_on, total_off = statistics.median(t for t, _ in on), statistics.median(t for t, _ in off)
        merge_on, merge_off = statistics.median(m for _, m in on), statistics.median(m for _, m in off)
        print(f"{args.rows:,} {args.kind} rows, {args.repeat} runs each, medians")
        print(f"import, journaled: {total_on:.2f} s; floor: {total_off:.2f} s; {total_on / total_off:.2f}×")
        print(f"merge (write lock held): {merge_on:.2f} s; floor: {merge_off:.2f} s; {merge_on / merge_off:.2f}×")
        print(f"undo of the import: {statistics.median(u for u, _ in undos):.2f} s")
        print(f"redo of the import: {statistics.median(r for _, r in undos):.2f} s")


if __name__ == "__main__":
    main()
