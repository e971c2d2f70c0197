"""Floors measured with raw sqlite3 on the same database in the same run: what the
same work costs with nothing of ours around it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def _ms(fn, repeat: int = 3) -> float:
    """Best of ``repeat`` (a floor is what the work costs when nothing gets in its way)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t) * 1000)
    return best


def search_floor(db_path: Path, texts: list[str], page: int = 200) -> list[float]:
    """Per typed text: the count of matching live customers and the first page by name,
    with plain LIKE over the searched columns — the straightforward query."""
    con = sqlite3.connect(db_path)
    where = "deleted_at IS NULL AND (name LIKE ?1 OR email LIKE ?1 OR phone LIKE ?1 OR industry LIKE ?1)"
    out = []
    try:
        for text in texts:
            pattern = f"%{text}%"

            def run():
                con.execute(f"SELECT count(*) FROM customer WHERE {where}", (pattern,)).fetchone()
                con.execute(
                    f"SELECT id, name, status, owner, email, phone, industry, tags, updated_at "
                    f"FROM customer WHERE {where} ORDER BY name_key, id LIMIT {page}",
                    (pattern,),
                ).fetchall()

            out.append(_ms(run))
    finally:
        con.close()
    return out


def aggregate_floor(db_path: Path, repeat: int = 10) -> list[float]:
    """The kanban headers alone: count, value and weighted value per open stage of the
    first pipeline — one grouped query over the live deals of those stages (the covering
    deal index answers it without reading the table)."""
    con = sqlite3.connect(db_path)
    try:
        pipeline = con.execute("SELECT id FROM pipeline ORDER BY position, id LIMIT 1").fetchone()[0]
        stages = dict(
            con.execute(
                "SELECT id, probability FROM stage WHERE pipeline_id = ? AND outcome = 'open'", (pipeline,)
            ).fetchall()
        )
        marks = ", ".join("?" * len(stages))
        sql = (
            "SELECT stage_id, count(*), sum(amount_cents), "
            "sum(CASE WHEN probability IS NULL THEN amount_cents ELSE 0 END), sum(amount_cents * probability) "
            f"FROM deal WHERE stage_id IN ({marks}) AND deleted_at IS NULL GROUP BY stage_id"
        )

        def run():
            for sid, _n, _v, plain, weighted in con.execute(sql, list(stages)).fetchall():
                _ = (plain or 0) * stages[sid] + (weighted or 0)

        return [_ms(run, repeat=1) for _ in range(repeat)]
    finally:
        con.close()
