"""kill -9 many writers at random moments; count commits checked and lost.

The same trials as tests/unit/test_crash_safety.py, many more times: a forked
writer performs service operations / demo generation / backups / imports and
logs each after it returned; it is SIGKILLed after a random delay; the
database must pass integrity_check and hold every logged change.

    .venv/bin/python stress/kill_writers.py [--trials 200] [--kinds services,demo,backup,import] [--seed 1]
                                            [--max-delay S]

Prints "trials run: N, commits checked: M, lost: 0" and exits 1 if anything was lost.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit")]

import test_crash_safety as harness  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--kinds", default=",".join(harness.KINDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-delay",
        type=float,
        default=None,
        metavar="S",
        help="kill within S seconds (default: the suite's per-kind delays)",
    )
    args = parser.parse_args(argv)
    available = harness.available_kinds()
    kinds = [k for k in args.kinds.split(",") if k in available]
    skipped = sorted(set(args.kinds.split(",")) - set(kinds))
    if skipped:
        print(f"not in this build: {', '.join(skipped)}", flush=True)
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="crm-kill-"))
    runs = {k: 0 for k in kinds}
    checked = logged = lost = 0
    started = time.perf_counter()
    try:
        for n in range(args.trials):
            kind = kinds[n % len(kinds)]
            workdir = root / f"{n:04d}-{kind}"
            try:
                trial = harness.run_trial(kind, workdir, rng, max_delay=args.max_delay)
            except AssertionError as exc:
                lost += 1
                print(f"trial {n} ({kind}) FAILED: {exc}  [kept: {workdir}]", flush=True)
                continue
            runs[kind] += 1
            checked += trial.checked
            logged += trial.logged
            shutil.rmtree(workdir, ignore_errors=True)
            if (n + 1) % 25 == 0:
                print(f"  {n + 1}/{args.trials} trials, {checked:,} commits checked", flush=True)
    finally:
        if not lost:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    per_kind = ", ".join(f"{k} {n}" for k, n in runs.items())
    print(
        f"trials run: {sum(runs.values()) + lost} ({per_kind}), commits checked: {checked:,}, lost: {lost}"
        f"  [{seconds:.0f} s]"
    )
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
