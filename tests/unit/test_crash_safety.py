"""kill -9 at a random moment during writes loses nothing that was committed.

A writer child process performs numbered operations (services, demo
generation, backups, imports) and appends one line per operation to a log
*after the call returned*. The parent kills it with SIGKILL after a random
delay, then checks that the database passes ``PRAGMA integrity_check`` and
``foreign_key_check``, holds every logged change, holds no half of a
transaction, and still opens and takes a write.

Children are forked from the test process (which already imported crm_tui) so
a trial costs milliseconds, not an interpreter start; each child opens its own
database connection. stress/kill_writers.py runs the same trials hundreds of times.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import random
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_tui import engines
from crm_tui.db import Database
from crm_tui.errors import ValidationError
from crm_tui.services import Services

UTC = dt.UTC
DEMO_NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEMO_SIZE = 120
IMPORT_ROWS = 40
KINDS = ("services", "demo", "backup", "import")


@dataclass
class Trial:
    kind: str
    delay: float
    logged: int  # operations whose call had returned before the kill
    checked: int  # commits verified present


# -- the writers (run in the child) ------------------------------------------------------


def _writer_services(db_path: Path, workdir: Path, log) -> None:
    s = Services(Database.open(str(db_path)), user="writer")
    customer = deal = None
    for i in range(1_000_000):
        op = i % 6
        if op == 0 or customer is None:
            customer = s.create_customer(name=f"Customer {i} 株式会社", tags="kill, test")
            log(f"customer {customer.id} {i}")
        elif op == 1 or deal is None:
            deal = s.create_deal(f"Deal {i}", customer_id=customer.id, amount=i)
            log(f"deal {deal.id} {deal.version} {deal.amount_cents}")
        elif op == 2:
            deal = s.update_deal(deal.id, expected_version=deal.version, amount_cents=deal.amount_cents + 7)
            log(f"deal {deal.id} {deal.version} {deal.amount_cents}")
        elif op == 3:
            try:
                move = s.move_deal_step(deal.id, 1)
            except ValidationError:  # last open stage: close it instead
                move = s.win_deal(deal.id)
            deal = move.deal
            log(f"move {move.change_id} {deal.id} {' '.join(map(str, move.created_task_ids))}")
            log(f"deal {deal.id} {deal.version} {deal.amount_cents}")
        elif op == 4:
            task = s.add_task(f"Call back #{i}", kind="call", customer_id=customer.id, due_at=DEMO_NOW)
            log(f"task {task.id}")
        else:
            note = s.add_note(f"Note {i}\nsecond line ✓", customer_id=customer.id)
            log(f"note {note.id}")


def _writer_demo(db_path: Path, workdir: Path, log) -> None:
    from crm_tui import demo

    counts = demo.generate(Database.open(str(db_path)), size=DEMO_SIZE, seed=11, now=DEMO_NOW)
    log("demo " + json.dumps(counts, sort_keys=True))


def _writer_backup(db_path: Path, workdir: Path, log) -> None:
    s = Services(Database.open(str(db_path)), user="writer")
    for i in range(1_000_000):
        c = s.create_customer(name=f"Before backup {i}")
        log(f"customer {c.id} {i}")
        engines.backup_sqlite(db_path, workdir / f"backup-{i}.sqlite3")
        log(f"backup {i} {c.id}")


def _writer_import(db_path: Path, workdir: Path, log) -> None:
    from crm_tui.io import import_file

    db = Database.open(str(db_path))
    for i in range(1_000_000):
        csv = workdir / f"customers-{i}.csv"
        rows = ["Name,Email,Phone,Industry"] + [
            f'"Imported {i:05d}x{j:03d}, Inc.",buyer{i}-{j}@example.com,+1 555 {i:03d} {j:04d},Retail'
            for j in range(IMPORT_ROWS)
        ]
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        result = import_file(db, "customers", csv, now=DEMO_NOW)
        log(f"import {i} {result.created}")


WRITERS = {"services": _writer_services, "demo": _writer_demo, "backup": _writer_backup, "import": _writer_import}


# -- preparing a trial (in the parent) ---------------------------------------------------------


def _prepare(kind: str, db_path: Path, workdir: Path) -> None:
    db = Database.open(str(db_path))
    try:
        if kind == "backup":
            from crm_tui import demo

            demo.generate(db, size=DEMO_SIZE, seed=5, now=DEMO_NOW)  # a copy takes a few ms
    finally:
        db.close()


def run_trial(kind: str, workdir: Path, rng: random.Random, *, max_delay: float | None = None) -> Trial:
    """Fork a writer, SIGKILL it after a random delay, check the database; return counts."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "crm.sqlite3"
    _prepare(kind, db_path, workdir)
    log_path = workdir / "writer.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        code = 0
        try:
            gc.freeze()  # never finalise the parent's objects here
            os.close(ready_r)
            os.write(ready_w, b"r")

            def log(line: str) -> None:
                os.write(log_fd, (line + "\n").encode())

            WRITERS[kind](db_path, workdir, log)
        except BaseException as exc:  # noqa: BLE001 - reported through the log; the parent fails the trial
            os.write(log_fd, f"ERROR {type(exc).__name__}: {exc}\n".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(log_fd)
    os.read(ready_r, 1)
    os.close(ready_r)
    delay = rng.uniform(0.02, max_delay if max_delay is not None else DEFAULT_DELAY[kind])
    time.sleep(delay)  # deliberately: the kill lands at a random moment of the writer's work
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")[:-1]  # a line cut by the kill has no newline yet
    errors = [line for line in lines if line.startswith("ERROR")]
    assert not errors, f"{kind} writer failed: {errors[0]}"
    checked = CHECKS[kind](db_path, workdir, lines)
    _still_usable(db_path)
    return Trial(kind, delay, len(lines), checked)


DEFAULT_DELAY = {"services": 0.4, "demo": 0.5, "backup": 0.5, "import": 1.2}


# -- checks (in the parent) ---------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(path)
    assert raw.execute("pragma integrity_check").fetchall() == [("ok",)], f"{path} is damaged"
    assert raw.execute("pragma foreign_key_check").fetchall() == [], f"{path} has dangling references"
    return raw


def _check_services(db_path: Path, workdir: Path, lines: list[str]) -> int:
    raw = _connect(db_path)
    try:
        checked = 0
        last_deal: dict[int, tuple[int, int]] = {}
        for line in lines:
            kind, *rest = line.split()
            if kind == "customer":
                cid, i = int(rest[0]), int(rest[1])
                assert raw.execute("select name from customer where id=?", (cid,)).fetchone() == (
                    f"Customer {i} 株式会社",
                ), line
            elif kind == "deal":
                last_deal[int(rest[0])] = (int(rest[1]), int(rest[2]))
            elif kind == "move":
                change_id, deal_id, *task_ids = map(int, rest)
                assert raw.execute("select deal_id from stage_change where id=?", (change_id,)).fetchone() == (deal_id,)
                for tid in task_ids:
                    assert raw.execute("select deal_id from task where id=?", (tid,)).fetchone() == (deal_id,), line
            elif kind in ("task", "note"):
                assert raw.execute(f"select count(*) from {kind} where id=?", (int(rest[0]),)).fetchone() == (1,), line
            checked += 1
        for deal_id, (version, amount) in last_deal.items():
            row = raw.execute("select version, amount_cents from deal where id=?", (deal_id,)).fetchone()
            assert row is not None, f"deal {deal_id} lost"
            # a later commit may have landed before the kill without being logged
            assert row[0] >= version, f"deal {deal_id}: version {row[0]} < committed {version}"
            if row[0] == version:
                assert row[1] == amount, f"deal {deal_id}: amount {row[1]} != committed {amount}"
        # create_deal is one transaction: no deal without its opening stage change
        orphans = raw.execute(
            "select count(*) from deal d where not exists (select 1 from stage_change s where s.deal_id=d.id)"
        ).fetchone()[0]
        assert orphans == 0, "a deal was committed without its stage history"
        # every change and its journal row: both there or both absent
        for table in ("customer", "deal", "task", "note", "stage_change"):
            made = {r[0] for r in raw.execute(f"select id from {table}")}
            journaled = {
                r[0]
                for r in raw.execute(
                    "select record_id from journal_change where table_name=? and op='insert'", (table,)
                )
            }
            assert made == journaled, f"{table}: rows without journal {made - journaled}, journal without rows"
        for deal_id, version in raw.execute("select id, version from deal"):
            updates = raw.execute(
                "select count(*) from journal_change where table_name='deal' and record_id=? and op='update'",
                (deal_id,),
            ).fetchone()[0]
            assert updates == version - 1, f"deal {deal_id}: version {version} but {updates} journaled updates"
        return checked
    finally:
        raw.close()


DEMO_TABLES = (
    "customer",
    "contact",
    "deal",
    "deal_product",
    "stage_change",
    "task",
    "note",
    "sales_order",
    "order_line",
    "product",
)
_expected_demo: dict[str, int] = {}


def _expected_demo_counts(workdir: Path) -> dict[str, int]:
    if not _expected_demo:
        from crm_tui import demo

        db = Database.open(str(workdir / "expected-demo.sqlite3"))
        try:
            _expected_demo.update(demo.generate(db, size=DEMO_SIZE, seed=11, now=DEMO_NOW))
        finally:
            db.close()
    return _expected_demo


def _check_demo(db_path: Path, workdir: Path, lines: list[str]) -> int:
    expected = _expected_demo_counts(workdir)
    raw = _connect(db_path)
    try:
        counts = {t: raw.execute(f"select count(*) from {t}").fetchone()[0] for t in expected}
    finally:
        raw.close()
    if lines:
        assert json.loads(lines[0].split(" ", 1)[1]) == expected
    # all or nothing: the generation is one transaction
    if lines or counts["customer"]:
        assert counts == expected, f"partial demo: {counts}"
        return 1
    assert all(n == 0 for t, n in counts.items() if t != "product"), counts
    return 0


def _check_backup(db_path: Path, workdir: Path, lines: list[str]) -> int:
    raw = _connect(db_path)
    try:
        checked = 0
        for line in lines:
            if line.startswith("customer"):
                cid, i = map(int, line.split()[1:])
                assert raw.execute("select name from customer where id=?", (cid,)).fetchone() == (f"Before backup {i}",)
                checked += 1
    finally:
        raw.close()
    logged = {int(line.split()[1]): int(line.split()[2]) for line in lines if line.startswith("backup")}
    for path in sorted(workdir.glob("backup-*.sqlite3")):
        i = int(path.stem.split("-")[1])
        # a file under a backup's name is a whole backup, never a torn or empty one
        raw = _connect(path)
        try:
            version = raw.execute("select value from crm_meta where key='schema_version'").fetchone()
            assert version is not None, f"{path.name} is not a complete backup"
            last = raw.execute("select max(id) from customer where name like 'Before backup %'").fetchone()[0]
        finally:
            raw.close()
        if i in logged:
            assert last == logged[i], f"{path.name} misses customer {logged[i]}"
            checked += 1
        assert os.stat(path).st_mode & 0o077 == 0, f"{path.name} is readable by others"
    assert set(logged) <= {int(p.stem.split("-")[1]) for p in workdir.glob("backup-*.sqlite3")}
    return checked


def _check_import(db_path: Path, workdir: Path, lines: list[str]) -> int:
    raw = _connect(db_path)
    try:
        n = raw.execute("select count(*) from customer where name like 'Imported %'").fetchone()[0]
    finally:
        raw.close()
    assert n % IMPORT_ROWS == 0, f"a partial import: {n} rows"
    assert n >= IMPORT_ROWS * len(lines), f"{n} rows but {len(lines)} imports returned"
    for line in lines:
        assert int(line.split()[2]) == IMPORT_ROWS
    return len(lines)


CHECKS = {"services": _check_services, "demo": _check_demo, "backup": _check_backup, "import": _check_import}


def _still_usable(db_path: Path) -> None:
    db = Database.open(str(db_path))
    try:
        Services(db, user="after").create_customer(name="After the crash")
    finally:
        db.close()


def available_kinds() -> tuple[str, ...]:
    try:
        import crm_tui.demo  # noqa: F401
    except ImportError:
        skip = {"demo", "backup"}
    else:
        skip = set()
    try:
        import pandas  # noqa: F401  (imported here so forked writers start warm)

        import crm_tui.io.importer  # noqa: F401
        from crm_tui.io import import_file  # noqa: F401
    except ImportError:
        skip.add("import")
    return tuple(k for k in KINDS if k not in skip)


# -- the tests ----------------------------------------------------------------------------------------

TRIALS = {"services": 8, "demo": 3, "backup": 2, "import": 2}


@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_during_writes_keeps_every_returned_commit(kind, tmp_path):
    if kind not in available_kinds():
        pytest.skip(f"{kind} is not part of this build")
    rng = random.Random(f"crash-{kind}")
    trials = [run_trial(kind, tmp_path / f"t{n}", rng) for n in range(TRIALS[kind])]
    if kind != "demo":
        # the kills landed mid-stream, after some commits had returned
        assert sum(t.logged for t in trials) > 0
        assert sum(t.checked for t in trials) > 0


def test_kill_in_the_middle_of_demo_generation_leaves_an_empty_database(tmp_path):
    if "demo" not in available_kinds():
        pytest.skip("no demo generator in this build")
    trial = run_trial("demo", tmp_path, random.Random(3), max_delay=0.03)
    assert trial.logged == 0 and trial.checked == 0  # nothing half-written, and the file still opens
