"""The activity figures (Reports' Activities panel, ``report``'s ``activities``) on the benchmark
book, each against a floor measured in the same run.

    python benchmarks/activities_bench.py [--size 100000] [--seed 7] [--runs 7] [--no-save]

Works on a private copy of the cached demo database (``bench_data.cached_demo``: what
``crm-tui demo --size N --no-open`` makes; 300k tasks at 100k customers, ~90% of them done). The
demo logs no outcomes, so the copy gets one on two thirds of its done calls, emails and meetings
(the outcomes of their kind, by id: deterministic), as a book whose reps log their calls would have.

For each period the Reports screen offers (all time, this month, last 12 months; the demo's "now")
and for everyone and for the busiest rep: ``metrics.activity_figures`` (a read transaction, the
grouped query, the figures assembled), median of ``--runs``, against raw sqlite3 running the
straightforward query for the same counts — ``SELECT owner, kind, outcome, count(*) FROM task``
over the live done tasks in the period, grouped, with the plan SQLite picks for it (without the
deleted customer and deal checks ours makes). The figures go into benchmarks/RESULTS.md between
``<!-- activities -->`` markers (replaced by the next run).
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

OUTCOMES = {
    "call": ("reached", "no answer", "left voicemail", "meeting booked"),
    "email": ("sent", "replied"),
    "meeting": ("held", "no show", "meeting booked"),
}


def log_outcomes(path: Path) -> int:
    """Give two thirds of the done calls, emails and meetings an outcome of their kind."""
    con = sqlite3.connect(path)
    try:
        with con:
            changed = 0
            for kind, outcomes in OUTCOMES.items():
                cases = " ".join(f"WHEN {i} THEN '{o}'" for i, o in enumerate(outcomes))
                changed += con.execute(
                    f"UPDATE task SET outcome = CASE (id / 3) % {len(outcomes)} {cases} END"
                    " WHERE kind = ? AND done_at IS NOT NULL AND id % 3 != 0",
                    (kind,),
                ).rowcount
        return changed
    finally:
        con.close()


def stamp(day: dt.date) -> str:
    """A UTC midnight as crm-tui stores timestamps in SQLite."""
    return f"{day.isoformat()} 00:00:00.000000"


def measure(path: Path, runs: int) -> tuple[list[tuple[str, float, float, int]], dict[str, int]]:
    from crm_tui.db import Database
    from crm_tui.metrics import Filters, activity_figures

    today = NOW.date()
    periods = {
        "all time": (None, None),
        "this month": (today.replace(day=1), today),
        "last 12 months": (
            dt.date(today.year, 1, 1) if today.month == 12 else dt.date(today.year - 1, today.month + 1, 1),
            today,
        ),
    }
    raw = sqlite3.connect(path)
    db = Database.open(str(path))
    try:
        busiest = raw.execute(
            "SELECT owner FROM task WHERE done_at IS NOT NULL GROUP BY owner ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        book = {
            "tasks": raw.execute("SELECT count(*) FROM task").fetchone()[0],
            "done": raw.execute("SELECT count(*) FROM task WHERE done_at IS NOT NULL").fetchone()[0],
            "outcomes": raw.execute("SELECT count(*) FROM task WHERE outcome IS NOT NULL").fetchone()[0],
        }
        rows = []
        for owner in (None, busiest):
            for name, (since, until) in periods.items():
                filters = Filters(since=since, until=until, owner=owner)
                where, args = ["done_at IS NOT NULL", "deleted_at IS NULL"], []
                if since is not None and until is not None:
                    where += ["done_at >= ?", "done_at < ?"]
                    args += [stamp(since), stamp(until + dt.timedelta(days=1))]
                if owner is not None:
                    where.append("owner = ?")
                    args.append(owner)
                sql = f"SELECT owner, kind, outcome, count(*) FROM task WHERE {' AND '.join(where)} GROUP BY 1, 2, 3"
                floor_counts = raw.execute(sql, args).fetchall()
                figures = activity_figures(db, filters)
                assert figures.total == sum(n for *_k, n in floor_counts)  # no deleted rows in the demo
                ours = median_ms(lambda f=filters: activity_figures(db, f), runs)
                floor = median_ms(lambda s=sql, a=args: raw.execute(s, a).fetchall(), runs)
                who = "everyone" if owner is None else "the busiest rep"
                rows.append((f"{name}, {who}", ours, floor, figures.total))
        return rows, book
    finally:
        raw.close()
        db.close()


def render(rows: list[tuple[str, float, float, int]], size: int, book: dict[str, int]) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    out = [
        f"### Activity figures: {size:,}-customer demo, {book['tasks']:,} tasks — {when}",
        "",
        f"`python benchmarks/activities_bench.py --size {size}`; {platform.machine()}, Python "
        f"{platform.python_version()}, load average {load}; {book['done']:,} tasks done, {book['outcomes']:,} "
        "with an outcome (given to the copy); medians, the floor measured in the same run: raw sqlite3, "
        "`SELECT owner, kind, outcome, count(*) FROM task` over the live done tasks of the period, grouped.",
        "",
        "| period, whose | activities | ours (ms) | floor (ms) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ours, floor, total in rows:
        out.append(f"| {name} | {total:,} | {ours:.1f} | {floor:.1f} | {ours / floor:.2f}× |")
    return "\n".join(out) + "\n"


def save(section: str, path: Path) -> None:
    start, end = "<!-- activities -->", "<!-- /activities -->"
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
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    cached = cached_demo(args.size, args.seed, log=lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory() as folder:
        path = working_copy(cached, Path(folder))
        print(f"outcomes logged on {log_outcomes(path):,} done tasks of the copy", file=sys.stderr)
        rows, book = measure(path, args.runs)
    section = render(rows, args.size, book)
    print(section)
    if not args.no_save:
        save(section, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
