"""The benchmark database: a demo CRM built once per (size, seed, schema) and cached
outside the repository (``$CRM_BENCH_CACHE`` or ``<tmp>/crm-tui-bench``).

Each benchmark run works on a fresh copy of the cached file, so stage moves made by
one run never change what the next run measures.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

#: the demo's "now" and the app's frozen clock: the same rows and figures every run
NOW = dt.datetime(2025, 6, 2, 12, 0, tzinfo=dt.UTC)


def cache_dir() -> Path:
    folder = Path(os.environ.get("CRM_BENCH_CACHE") or Path(tempfile.gettempdir()) / "crm-tui-bench")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def schema_key() -> str:
    """The schema version plus a digest of every table and index the models declare and of
    the demo generator's code, so a cached database built before an index was added (or by an
    older generator) is never measured by mistake."""
    import hashlib

    from sqlmodel import SQLModel

    import crm_tui.demo
    import crm_tui.demo_words
    import crm_tui.models  # noqa: F401 - registers the tables
    from crm_tui.migrations import SCHEMA_VERSION

    # the generator's own code too: a database the demo would now make differently is rebuilt
    parts = [Path(module.__file__).read_text(encoding="utf-8") for module in (crm_tui.demo, crm_tui.demo_words)]
    for table in SQLModel.metadata.sorted_tables:
        parts.append(table.name + ":" + ",".join(c.name for c in table.columns))
        parts += sorted(f"{ix.name}({','.join(c.name for c in ix.columns)})" for ix in table.indexes)
    return f"v{SCHEMA_VERSION}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:8]}"


def cached_demo(size: int, seed: int, log=print) -> Path:
    """The cached demo database for ``size``/``seed`` at this build's schema, built if missing."""
    path = cache_dir() / f"demo-{size}-s{seed}-{schema_key()}.sqlite3"
    if path.exists():
        return path
    from crm_tui import demo
    from crm_tui.db import Database

    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    log(f"building the {size:,}-customer demo database (seed {seed}) in {path.parent} …")
    t = time.perf_counter()
    db = Database.open(str(partial))
    counts = demo.generate(db, size=size, seed=seed, now=NOW)
    db.close()
    con = sqlite3.connect(partial)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file to copy
    con.close()
    os.replace(partial, path)
    log(
        f"  built in {time.perf_counter() - t:.0f} s: {counts['customer']:,} customers, "
        f"{counts['deal']:,} deals, {counts['task']:,} tasks"
    )
    return path


def working_copy(cached: Path, folder: Path) -> Path:
    """A private copy of the cached database for one benchmark run (a new name each time:
    a WAL file left by an earlier child must never be replayed onto a fresh copy)."""
    n = len(list(folder.glob("bench-*.sqlite3")))
    dest = folder / f"bench-{n}.sqlite3"
    for leftover in (dest, Path(f"{dest}-wal"), Path(f"{dest}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(cached, dest)
    os.chmod(dest, 0o600)
    return dest


def search_words(db_path: Path, count: int = 5) -> list[str]:
    """Words a rep would type: the first word of a few customer names spread over the book."""
    con = sqlite3.connect(db_path)
    try:
        n = con.execute("SELECT max(id) FROM customer").fetchone()[0] or 0
        words = []
        for i in range(1, count + 1):
            row = con.execute(
                "SELECT name FROM customer WHERE id >= ? ORDER BY id LIMIT 1", (n * i // (count + 1),)
            ).fetchone()
            if row:
                word = row[0].split()[0][:6]
                if len(word) >= 3 and word.lower() not in words:
                    words.append(word.lower())
    finally:
        con.close()
    return words or ["acme"]


def median_ms(fn, runs: int) -> float:
    """The median of ``runs`` calls in milliseconds, after one call that builds statements and warms
    the page cache (as a screen that has read before)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
