"""Import throughput: 100,000 deal rows through ``import_file`` against a floor measured in
the same run (pandas read_csv + sqlite3 executemany of the same rows into a same-shaped table).

Both are timed on the wall clock and in CPU seconds of this process (everything either does runs
in it: pandas, SQLite): on a shared machine the wall clock also counts the time other programs
held the cores, the CPU seconds do not (they leave out waiting for the disk).

    .venv/bin/python benchmarks/import_bench.py [--rows N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def make_csv(path: Path, n: int, seed: int = 5) -> None:
    rnd = random.Random(seed)
    stages = ["Won", "Lost", "Engaging", "Prospecting"]
    products = ["GTX Basic", "GTXPro", "MG Special", "MG Advanced", "GTX Plus Pro", "GTK 500"]
    lines = ["opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value"]
    for i in range(n):
        stage = rnd.choice(stages)
        eng = f"2017-{rnd.randint(1, 6):02d}-{rnd.randint(1, 28):02d}"
        close = f"2017-{rnd.randint(7, 12):02d}-{rnd.randint(1, 28):02d}" if stage in ("Won", "Lost") else ""
        value = str(rnd.randint(50, 30000)) if stage == "Won" else ("0" if stage == "Lost" else "")
        account = f"Account {rnd.randint(1, 500)}" if rnd.random() > 0.15 else ""
        lines.append(
            f"X{i:07d},Agent {rnd.randint(1, 35)},{rnd.choice(products)},{account},{stage},"
            f"{eng if stage != 'Prospecting' else ''},{close},{value}"
        )
    path.write_text("\n".join(lines) + "\n")


CPU: dict[str, list[float]] = {"ours": [], "floor": [], "schema": []}  # CPU seconds of each timed run


def read_frame(csv_path: Path):
    """The file as text cells, by the reader the importer uses: pyarrow's when installed, else
    pandas' C parser."""
    import pandas as pd

    try:
        return pd.read_csv(csv_path, dtype=str, keep_default_na=False, engine="pyarrow")
    except ImportError:
        return pd.read_csv(csv_path, dtype=str, keep_default_na=False, engine="c")


def floor(csv_path: Path, db_path: Path) -> float:
    c = time.process_time()
    t = time.perf_counter()
    df = read_frame(csv_path)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS deal (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, owner TEXT, "
        "product TEXT, customer TEXT, stage TEXT, created_at TEXT, closed_at TEXT, amount_cents INTEGER)"
    )
    with con:
        con.executemany(
            "INSERT INTO deal (external_id, owner, product, customer, stage, created_at, closed_at, "
            "amount_cents) VALUES (?,?,?,?,?,?,?,?)",
            df.itertuples(index=False, name=None),
        )
    con.close()
    elapsed = time.perf_counter() - t
    CPU["floor"].append(time.process_time() - c)
    return elapsed


def schema_floor(csv_path: Path, db_path: Path) -> float:
    """Not the issue's floor, a second one for reading it: the same rows by pandas + executemany
    into crm-tui's own ``deal`` table with its eight indexes and foreign keys, the page cache an
    import's merge has, one stage, the file's text as it is. The deals alone, and without the
    table's triggers (dropped in this throwaway file: the kept figures, settled set-based by an
    import, cost a row-by-row insert far more). An import also writes each deal's line, its
    stage history and the journal, so this is a lower bound for any import into this schema."""
    from crm_tui.db import Database
    from crm_tui.engines import IMPORT_CACHE_KIB

    Database.open(str(db_path)).close()  # the schema, outside the timing
    con = sqlite3.connect(db_path)
    for (name,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'deal'"
    ).fetchall():
        con.execute(f"DROP TRIGGER {name}")
    con.commit()
    con.close()
    c = time.process_time()
    t = time.perf_counter()
    df = read_frame(csv_path)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")  # the cache an import's merge has
    stage = con.execute("SELECT id, pipeline_id FROM stage ORDER BY position LIMIT 1").fetchone()
    now = "2026-01-01 00:00:00.000000"
    with con:
        con.executemany(
            "INSERT INTO deal (external_id, owner, title, lost_reason, stage_id, pipeline_id, created_at, "
            "updated_at, stage_entered_at, closed_at, amount_cents, currency, version) "
            f"VALUES (?,?,?,?,{stage[0]},{stage[1]},?,'{now}','{now}',?,coalesce(?, 0),'USD',1)",
            ((x, o, p, a, d or now, cl or None, v or None) for x, o, p, a, _, d, cl, v in df.itertuples(index=False)),
        )
    con.close()
    elapsed = time.perf_counter() - t
    CPU["schema"].append(time.process_time() - c)
    return elapsed


MERGES: list[float] = []  # how long each import held the write transaction (its final merge)


def ours(csv_path: Path, db_path: Path) -> float:
    from crm_tui.db import Database
    from crm_tui.io import import_file

    db = Database.open(str(db_path))
    c = time.process_time()
    t = time.perf_counter()
    r = import_file(db, "deals", csv_path)
    elapsed = time.perf_counter() - t
    CPU["ours"].append(time.process_time() - c)
    assert r.rejected == 0 and r.created > 0, r.summary()
    MERGES.append(r.merge_seconds)
    db.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pandas  # noqa: F401  (imported once, outside both timings)
    import sqlmodel  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "deals.csv"
        make_csv(csv_path, args.rows)
        ours(csv_path, tmp / "warm.sqlite3")  # warm caches and lazy imports
        MERGES.clear()
        CPU["ours"].clear()
        CPU["floor"].clear()
        a, b, sch = [], [], []
        for k in range(args.repeat):
            b.append(floor(csv_path, tmp / f"floor{k}.sqlite3"))
            sch.append(schema_floor(csv_path, tmp / f"schema{k}.sqlite3"))
            a.append(ours(csv_path, tmp / f"ours{k}.sqlite3"))
        fa, fb = statistics.median(a), statistics.median(b)
        print(f"rows: {args.rows:,}")
        print(f"import_file (deals, new database): median {fa:.2f} s  ({args.rows / fa:,.0f} rows/s)")
        print(f"floor (pandas read_csv + sqlite3 executemany): median {fb:.2f} s  ({args.rows / fb:,.0f} rows/s)")
        print(f"ratio: {fa / fb:.1f}x the floor")
        ca, cb = statistics.median(CPU["ours"]), statistics.median(CPU["floor"])
        print(f"CPU seconds: import_file median {ca:.2f} s, floor {cb:.2f} s; ratio {ca / cb:.1f}x")
        print(f"write lock held by the final merge: median {statistics.median(MERGES):.2f} s")
        cs = statistics.median(CPU["schema"])
        print(
            f"the same rows into crm-tui's deal table alone (pandas + executemany): median "
            f"{statistics.median(sch):.2f} s, {cs:.2f} CPU s = {cs / cb:.1f}x the floor; "
            f"import_file is {ca / cs:.1f}x it"
        )


if __name__ == "__main__":
    main()
