"""Two reps race on the same deals for minutes: one wins while the other loses, both press L
on the same card, one edits while the other moves.

Each rep is a process with its own database connection. It loops: read a deal as its screen
would (the version shown on the card), think a moment, then act on it with that version — win,
lose, step a stage, reopen, or edit the amount. A refusal because the other rep got there first
is a detected conflict; anything else going wrong fails the run. At the end every deal's stage
history must be one unbroken chain (each move starts where the previous one ended: no
"Won → Lost" without a reopen between), its version must equal 1 + the updates the journal holds
for it, and every update a rep saw succeed must be in the journal: no lost update.

    .venv/bin/python stress/race_two_reps.py [--seconds 120] [--deals 6] [--db URL] [--seed 1]

Prints the counts ("conflicts detected: N, lost updates: 0") and exits 1 if any update was lost.
On PostgreSQL give ``--db postgresql+psycopg://…`` naming an empty database.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACTIONS = ("win", "lose", "step", "step", "back", "reopen", "edit")


def rep(url: str, name: str, deal_ids: list[int], seconds: float, seed: int, out: mp.Queue) -> None:
    from crm_tui.db import Database
    from crm_tui.errors import ConflictError, ValidationError
    from crm_tui.models import Deal
    from crm_tui.services import Services

    rng = random.Random(seed)
    db = Database.open(url)
    services = Services(db, user=name)
    counts = {"ok": 0, "conflict": 0, "refused": 0}
    done: list[tuple[int, int]] = []  # (deal id, the version an update of ours left)
    errors: list[str] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        deal_id = rng.choice(deal_ids)
        seen = services.get(Deal, deal_id).version  # what the card shows
        time.sleep(rng.random() * 0.004)  # the other rep acts meanwhile, sometimes
        action = rng.choice(ACTIONS)
        try:
            if action == "win":
                result = services.win_deal(deal_id, expected_version=seen).deal
            elif action == "lose":
                result = services.lose_deal(deal_id, "price", expected_version=seen).deal
            elif action == "step":
                result = services.move_deal_step(deal_id, 1, expected_version=seen).deal
            elif action == "back":
                result = services.move_deal_step(deal_id, -1, expected_version=seen).deal
            elif action == "reopen":
                result = services.reopen_deal(deal_id, expected_version=seen).deal
            else:
                result = services.update_deal(deal_id, expected_version=seen, amount=rng.randint(1, 9999))
        except ConflictError:
            counts["conflict"] += 1
            continue
        except ValidationError:  # e.g. win a won deal, step past the last stage: refused, nothing written
            counts["refused"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - reported: any other failure fails the run
            errors.append(f"{name} {action} #{deal_id}: {type(exc).__name__}: {exc}")
            continue
        counts["ok"] += 1
        done.append((deal_id, result.version))
    db.close()
    out.put(json.dumps({"name": name, "counts": counts, "done": done, "errors": errors}))


def check(url: str, deal_ids: list[int], results: list[dict]) -> tuple[int, list[str]]:
    """(updates checked, problems found) after the race."""
    from sqlalchemy import func, select

    from crm_tui.db import Database
    from crm_tui.models import Deal, JournalChange, StageChange

    problems: list[str] = []
    db = Database.open(url)
    with db.read() as s:
        for deal_id in deal_ids:
            chain = s.execute(
                select(StageChange.from_stage_id, StageChange.to_stage_id)
                .where(StageChange.deal_id == deal_id)
                .order_by(StageChange.id)
            ).all()
            for (_f1, to), (start, _t2) in zip(chain, chain[1:]):
                if start != to:
                    problems.append(f"deal {deal_id}: a move from stage {start} after one into {to}")
            version = s.get(Deal, deal_id).version
            updates = s.execute(
                select(func.count())
                .select_from(JournalChange)
                .where(
                    JournalChange.table_name == "deal", JournalChange.record_id == deal_id, JournalChange.op == "update"
                )
            ).scalar()
            if version != 1 + updates:
                problems.append(f"deal {deal_id}: version {version} but {updates} journaled updates")
        journaled = {
            (rid, json.loads(after)["version"])
            for rid, after in s.execute(
                select(JournalChange.record_id, JournalChange.after).where(
                    JournalChange.table_name == "deal", JournalChange.op == "update"
                )
            )
        }
    db.close()
    checked = 0
    for result in results:
        for deal_id, version in result["done"]:
            checked += 1
            if (deal_id, version) not in journaled:
                problems.append(f"{result['name']}'s update of deal {deal_id} to version {version} was lost")
    return checked, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--deals", type=int, default=6)
    parser.add_argument("--db", default=None, help="a database URL (default: a new SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from crm_tui.db import Database
    from crm_tui.services import Services

    url = args.db or str(Path(tempfile.mkdtemp(prefix="crm-race-")) / "race.sqlite3")
    db = Database.open(url)
    setup = Services(db, user="setup")
    deal_ids = [setup.create_deal(f"Contested {i}", amount=1000).id for i in range(args.deals)]
    db.close()
    out: mp.Queue = mp.Queue()
    started = time.perf_counter()
    reps = [
        mp.Process(target=rep, args=(url, name, deal_ids, args.seconds, args.seed * 10 + i, out))
        for i, name in enumerate(("ann", "bob"))
    ]
    for p in reps:
        p.start()
    results = [json.loads(out.get()) for _ in reps]
    for p in reps:
        p.join()
    checked, problems = check(url, deal_ids, results)
    errors = [e for r in results for e in r["errors"]]
    ok = sum(r["counts"]["ok"] for r in results)
    conflicts = sum(r["counts"]["conflict"] for r in results)
    refused = sum(r["counts"]["refused"] for r in results)
    lost = sum("was lost" in p for p in problems)
    print(
        f"{args.seconds:.0f} s, 2 reps on {args.deals} deals ({url.split('://')[0] if '://' in url else 'sqlite'}): "
        f"{ok:,} changes made, conflicts detected: {conflicts:,}, refused as impossible: {refused:,}, "
        f"updates checked: {checked:,}, lost updates: {lost}, other problems: {len(problems) - lost}, "
        f"errors: {len(errors)}  [{time.perf_counter() - started:.0f} s]"
    )
    for line in (problems + errors)[:10]:
        print(f"  {line}")
    return 1 if problems or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
