"""Two writer processes edit one database at once, for much longer than the suite does.

Each round forks two writers making random edits (customers, shared deals
incremented with expected_version + retry on conflict, tasks, notes, stage
moves) while a third session polls for their changes; then every logged
commit is checked and every shared deal's amount must equal the sum of its
increments. Any "database is locked" or other error fails the run.

    .venv/bin/python stress/soak_two_writers.py [--rounds 10] [--edits 500] [--writers 2] [--seed 1]

Prints "trials run: N, commits checked: M, lost: 0" and exits 1 if anything was lost or failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit")]

import test_concurrency as harness  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--edits", type=int, default=500, help="edits per writer per round")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="crm-soak-"))
    edits = checked = lost = conflicts = seen = 0
    errors: list[str] = []
    started = time.perf_counter()
    for n in range(args.rounds):
        workdir = root / f"round-{n:03d}"
        result = harness.run_soak(workdir, edits=args.edits, seed=args.seed * 1000 + n, writers=args.writers)
        edits += result.edits
        checked += result.commits_checked
        lost += result.lost
        conflicts += result.conflicts
        seen += result.remote_changes_seen
        errors += result.errors
        status = "ok" if not (result.lost or result.errors) else f"FAILED ({result.lost} lost, {result.errors[:2]})"
        print(
            f"  round {n + 1}/{args.rounds}: {result.edits} edits, {result.conflicts} conflicts retried, "
            f"{result.remote_changes_seen} remote changes seen, {status}",
            flush=True,
        )
        if not (result.lost or result.errors):
            shutil.rmtree(workdir, ignore_errors=True)
    if not (lost or errors):
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(
        f"trials run: {args.rounds} ({args.writers} writers, {edits:,} edits, {conflicts:,} conflicts retried, "
        f"{seen:,} remote changes seen), commits checked: {checked:,}, lost: {lost}, errors: {len(errors)}"
        f"  [{seconds:.0f} s]"
    )
    for line in errors[:10]:
        print(f"  {line}")
    return 1 if lost or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
