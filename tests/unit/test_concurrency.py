"""Two sessions, one database: two processes editing at once never see
"database is locked", never lose an update silently, and a stale edit is
detected (``expected_version`` → ``ConflictError``) instead of overwriting.

Writers are forked from the test process (crm_tui already imported) and each
opens its own database connection. stress/soak_two_writers.py runs the same
soak for much longer.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from crm_tui.db import Database
from crm_tui.errors import ConflictError, DatabaseError, ValidationError
from crm_tui.models import Customer, Deal
from crm_tui.services import Services

UTC = dt.UTC
SHARED_DEALS = 3
SHARED_CUSTOMERS = 2


def fork_writer(body, log_path: Path) -> int:
    """Run ``body(log)`` in a forked child; every line it logs is on disk once logged."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            gc.freeze()  # never finalise the parent's objects (connections) in the child

            def log(line: str) -> None:
                os.write(fd, (line + "\n").encode())

            body(log)
        except BaseException as exc:  # noqa: BLE001
            os.write(fd, f"ERROR {type(exc).__name__}: {exc}\n".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(fd)
    return pid


def read_log(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def add_with_retry(s: Services, deal_id: int, cents: int, stats: dict) -> None:
    """Read-modify-write as a screen does it: load, edit, save with the version loaded."""
    while True:
        deal = s.get(Deal, deal_id)
        try:
            s.update_deal(deal_id, expected_version=deal.version, amount_cents=deal.amount_cents + cents)
            return
        except ConflictError:
            stats["conflicts"] += 1


# -- the soak -------------------------------------------------------------------------------------


@dataclass
class SoakResult:
    edits: int = 0
    commits_checked: int = 0
    conflicts: int = 0
    remote_changes_seen: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)


def _soak_writer(db_path: Path, name: str, edits: int, seed: int, log) -> None:
    rng = random.Random(seed)
    s = Services(Database.open(str(db_path)), user=name)
    stats = {"conflicts": 0}
    mine: list[int] = []  # customers this writer created
    tasks: list[int] = []
    for i in range(edits):
        op = rng.choice(("add", "add", "create", "edit", "task", "done", "note", "move"))
        if op == "add":
            deal_id, cents = rng.randint(1, SHARED_DEALS), rng.randint(1, 500)
            add_with_retry(s, deal_id, cents, stats)
            log(f"add {deal_id} {cents}")
        elif op == "create" or not mine:
            c = s.create_customer(name=f"{name} customer {i}")
            mine.append(c.id)
            log(f"customer {c.id} {name} customer {i}")
        elif op == "edit":
            cid = rng.randint(1, SHARED_CUSTOMERS)  # both writers edit the same customers
            while True:
                c = s.get(Customer, cid)
                try:
                    s.update_customer(cid, expected_version=c.version, phone=f"+1 555 {i:04d}")
                    break
                except ConflictError:
                    stats["conflicts"] += 1
            log(f"edit {cid}")
        elif op == "task":
            t = s.add_task(f"{name} task {i}", customer_id=rng.choice(mine), due_at=dt.datetime(2026, 4, 1, tzinfo=UTC))
            tasks.append(t.id)
            log(f"task {t.id}")
        elif op == "done" and tasks:
            tid = tasks.pop(rng.randrange(len(tasks)))
            s.complete_task(tid)
            log(f"done {tid}")
        elif op == "note":
            n = s.add_note(f"{name} note {i}\n✓", customer_id=rng.choice(mine))
            log(f"note {n.id}")
        elif op == "move":
            deal_id = rng.randint(SHARED_DEALS + 1, SHARED_DEALS + 2)
            try:
                m = s.move_deal_step(deal_id, rng.choice((1, -1)))
                log(f"move {m.change_id} {deal_id}")
            except ValidationError:  # first/last stage: a refusal, not a failure
                log("refused")
    log(f"conflicts {stats['conflicts']}")


def run_soak(
    workdir: Path, *, edits: int = 150, seed: int = 1, writers: int = 2, timeout: float | None = None
) -> SoakResult:
    """Two (or more) writer processes make ``edits`` random edits each while this process
    polls for their changes; then every logged commit is checked. Writers still running after
    ``timeout`` seconds are killed and reported as errors."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "crm.sqlite3"
    db = Database.open(str(db_path))
    s = Services(db, user="setup")
    c = s.create_customer(name="Shared A")
    s.create_customer(name="Shared B")
    for i in range(SHARED_DEALS + 2):
        s.create_deal(f"Shared deal {i}", customer_id=c.id, amount=0)
    db.close()

    logs = [workdir / f"writer{n}.log" for n in range(writers)]
    pids = [
        fork_writer(lambda log, n=n: _soak_writer(db_path, f"w{n}", edits, seed * 100 + n, log), logs[n])
        for n in range(writers)
    ]
    result = SoakResult()
    watcher = Database.open(str(db_path))  # a third session that only reads, like an idle TUI
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        running = set(pids)
        while running:
            if deadline is not None and time.monotonic() > deadline:
                for pid in running:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                result.errors.append(f"writers {sorted(running)} still running after {timeout:g} s: killed")
                break
            try:
                if watcher.poll_changes() is not None:
                    result.remote_changes_seen += 1
            except DatabaseError as exc:
                result.errors.append(f"watcher: {exc.message}")
            for pid in list(running):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    running.discard(pid)
                    if status != 0:
                        result.errors.append(f"writer {pid} exited with status {status}")
            time.sleep(0.02)  # the watcher's polling interval (the app's is 0.5 s), not a wait for anything
    finally:
        watcher.close()
    lines = [line for path in logs for line in read_log(path)]
    result.errors += [line for line in lines if line.startswith("ERROR")]
    _check_soak(db_path, lines, result)
    return result


def _check_soak(db_path: Path, lines: list[str], result: SoakResult) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("pragma integrity_check").fetchall() == [("ok",)]
        added: dict[int, int] = {}
        for line in lines:
            kind, *rest = line.split(" ", 1)
            rest = rest[0] if rest else ""
            if kind == "conflicts":
                result.conflicts += int(rest)
                continue
            if kind in ("ERROR", "refused"):
                continue
            result.edits += 1
            if kind == "add":
                deal_id, cents = map(int, rest.split())
                added[deal_id] = added.get(deal_id, 0) + cents
                continue
            ok = True
            if kind == "customer":
                cid, name = rest.split(" ", 1)
                ok = raw.execute("select name from customer where id=?", (int(cid),)).fetchone() == (name,)
            elif kind in ("task", "note"):
                ok = raw.execute(f"select count(*) from {kind} where id=?", (int(rest),)).fetchone() == (1,)
            elif kind == "done":
                ok = raw.execute("select done_at is not null from task where id=?", (int(rest),)).fetchone() == (1,)
            elif kind == "move":
                change_id, deal_id = map(int, rest.split())
                ok = raw.execute("select deal_id from stage_change where id=?", (change_id,)).fetchone() == (deal_id,)
            result.commits_checked += 1
            result.lost += 0 if ok else 1
        for deal_id in range(1, SHARED_DEALS + 1):
            amount = raw.execute("select amount_cents from deal where id=?", (deal_id,)).fetchone()[0]
            result.commits_checked += 1
            if amount != added.get(deal_id, 0):
                result.lost += 1  # an increment was overwritten: a lost update
    finally:
        raw.close()


# -- tests ---------------------------------------------------------------------------------------------


def test_two_processes_incrementing_one_deal_lose_no_update(tmp_path):
    db_path = tmp_path / "crm.sqlite3"
    db = Database.open(str(db_path))
    deal = Services(db, user="setup").create_deal("Contested", amount=0)
    db.close()
    n = 60

    def body(log):
        s = Services(Database.open(str(db_path)), user=f"p{os.getpid()}")
        stats = {"conflicts": 0}
        for _ in range(n):
            add_with_retry(s, deal.id, 1, stats)
        log(f"conflicts {stats['conflicts']}")

    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    pids = [fork_writer(body, path) for path in logs]
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    lines = [line for path in logs for line in read_log(path)]
    assert codes == [0, 0], lines
    assert not [line for line in lines if line.startswith("ERROR")], lines
    db = Database.open(str(db_path))
    try:
        final = Services(db, user="check").get(Deal, deal.id)
    finally:
        db.close()
    assert final.amount_cents == 2 * n  # every increment counted, none overwritten
    assert final.version == 1 + 2 * n


def test_a_stale_edit_from_another_process_is_detected(tmp_path):
    db_path = tmp_path / "crm.sqlite3"
    db = Database.open(str(db_path))
    s = Services(db, user="ann")
    loaded = s.create_deal("Contested", amount=100)  # the form is open with this version

    def other_session(log):
        other = Services(Database.open(str(db_path)), user="bob")
        other.update_deal(loaded.id, expected_version=loaded.version, amount="250")
        log("saved")

    pid = fork_writer(other_session, tmp_path / "bob.log")
    assert os.waitpid(pid, 0)[1] == 0 and read_log(tmp_path / "bob.log") == ["saved"]
    try:
        s.update_deal(loaded.id, expected_version=loaded.version, amount="999")
    except ConflictError as err:
        assert "changed in another session" in err.message
        assert err.current["amount_cents"] == 25_000  # what the user must review
    else:
        raise AssertionError("a stale edit overwrote another session's change")
    assert s.get(Deal, loaded.id).amount_cents == 25_000
    db.close()


def test_soak_two_writers_never_locked_and_nothing_lost(tmp_path):
    result = run_soak(tmp_path, edits=150, seed=7, timeout=300)
    assert result.errors == []  # no "database is locked", no crash, in writers or the watching session
    assert result.lost == 0
    assert result.edits >= 250 and result.commits_checked >= 150
    assert result.remote_changes_seen > 0  # the idle session noticed the others' work
