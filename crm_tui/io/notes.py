"""Notes made from a file's free text and unmapped columns, added once per record."""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.io.resolve import _chunks
from crm_tui.models import Note


def add_notes(conn, ctx, customer_ids, deal_ids, bodies) -> int:
    """One note per row with text, unless the record already has a note with that exact text
    (so importing the same file twice does not repeat its notes)."""
    import pandas as pd

    want = ctx.ok & (bodies != "")
    if deal_ids is not None:
        want &= deal_ids.notna()
        owner_col, owners = Note.deal_id, deal_ids
    else:
        want &= customer_ids.notna()
        owner_col, owners = Note.customer_id, customer_ids
    if not want.any():
        return 0
    targets = [int(x) for x in owners[want].unique()]
    seen: set[tuple[int, str]] = set()
    for chunk in _chunks(targets):
        q = select(owner_col, Note.body).where(owner_col.in_(chunk), Note.deleted_at.is_(None))
        seen.update((int(o), b) for o, b in conn.execute(q))
    rows = []
    for i in want[want].index:
        key = (int(owners[i]), bodies[i])
        if key in seen:
            continue
        seen.add(key)
        cust = customer_ids[i]
        rows.append(
            {
                "customer_id": None if pd.isna(cust) else int(cust),
                "deal_id": None if deal_ids is None else int(deal_ids[i]),
                "body": bodies[i],
                "author": "import",
                "created_at": ctx.now,
            }
        )
    ctx.stage.insert(Note.__table__, rows)
    return len(rows)
