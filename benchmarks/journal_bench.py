"""What the change journal costs a write: stage moves, edits and task completions with the journal
against the same writes with it switched off (the floor), measured in the same run on the same
database, interleaved so the machine's noise falls on both alike.

    .venv/bin/python benchmarks/journal_bench.py [--size 2000] [--writes 300] [--repeat 3]

Prints each kind's median per write in ms and the ratio to the floor, and the undo of one move.
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


@contextmanager
def journal_off(db):
    """The floor: the same write transaction, nothing journaled."""
    real = db.write

    @contextmanager
    def write(tables, *, keep=True, journal=True):
        with real(tables, keep=keep, journal=False) as session:
            yield session

    db.write = write
    try:
        yield
    finally:
        db.write = real


def run(size: int, writes: int, repeat: int) -> dict[str, list[tuple[float, float]]]:
    from sqlalchemy import select

    from crm_tui import demo
    from crm_tui.db import Database
    from crm_tui.models import Deal, Stage, Task
    from crm_tui.services import Services

    path = Path(tempfile.mkdtemp(prefix="crm-journal-bench-")) / "bench.sqlite3"
    db = Database.open(str(path))
    demo.generate(db, size=size, seed=3)
    services = Services(db, user="bench")
    with db.read() as s:
        open_deals = [
            d
            for (d,) in s.execute(select(Deal.id).join(Stage, Stage.id == Deal.stage_id).where(Stage.outcome == "open"))
        ]
        tasks = [t for (t,) in s.execute(select(Task.id).where(Task.done_at.is_(None), Task.deleted_at.is_(None)))]
    kinds = {
        "move": lambda i: _move(services, open_deals[i % len(open_deals)]),
        "edit": lambda i: services.update_deal(open_deals[i % len(open_deals)], amount=1000 + i),
        "complete": lambda i: services.complete_task(tasks[i % len(tasks)]),
    }
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind, write in kinds.items():
            with_journal: list[float] = []
            floor: list[float] = []
            for i in range(writes):
                on = i % 2 == 0  # interleaved: the same noise on both
                t = time.perf_counter()
                if on:
                    write(i)
                else:
                    with journal_off(db):
                        write(i)
                (with_journal if on else floor).append(time.perf_counter() - t)
            out[kind].append((statistics.median(with_journal), statistics.median(floor)))
            if kind == "complete":
                tasks = tasks[writes:] or tasks  # fresh open tasks for the next round
    undo_times = []
    for deal_id in open_deals[:20]:
        try:
            _move(services, deal_id)
        except Exception:  # noqa: BLE001 - a deal at an edge: skip it
            continue
        t = time.perf_counter()
        services.undo()
        undo_times.append(time.perf_counter() - t)
    out["undo a move"] = [(statistics.median(undo_times), float("nan"))]
    db.close()
    return out


def _move(services, deal_id: int) -> None:
    from crm_tui.errors import ValidationError

    try:
        services.move_deal_step(deal_id, 1)
    except ValidationError:
        services.move_deal_step(deal_id, -1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    results = run(args.size, args.writes, args.repeat)
    print(f"journal cost per write, {args.size:,} customers, median of {args.writes // 2} writes each way")
    for kind, rounds in results.items():
        ours = statistics.median(r[0] for r in rounds) * 1000
        base = statistics.median(r[1] for r in rounds) * 1000
        ratio = f"{ours / base:.2f}× the floor ({base:.2f} ms without the journal)" if base == base else ""
        print(f"  {kind:<12} {ours:6.2f} ms  {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
