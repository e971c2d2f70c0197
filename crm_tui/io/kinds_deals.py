"""Importing deals (with their pipelines, stages, customers and product lines).

Decisions (DESIGN §5 plus what the issue leaves open):
- Match: external_id (or the export's record id; our own export's "crm-12" is deal 12 when its
  title agrees) updates that deal; a repeated external_id in one file is rejected. A row with no
  id gets one from its content (``resolve.fingerprints``): the same file imported again updates
  those deals instead of doubling them, while two identical rows in one file stay two deals.
- Stages: a stage name matching an existing stage of the pipeline (any case,
  punctuation ignored) is that stage; Won/Closed Won and Lost/Closed Lost (any
  case) otherwise mean the pipeline's won/lost stage; a Pipedrive-style
  ``status`` of won/lost overrides the stage, and so do Salesforce's IsWon/IsClosed.
  Unknown names become new open stages, placed after the existing open stages and
  before won/lost, ordered by the file's probability for them (its median), else
  the vendor's standard order (``crm_tui.io.profiles``), else first appearance; their
  probability is that median, else the vendor's default, else NEW_STAGE_PROBABILITY %
  (``crm_tui.io.deal_stages`` does this).
- Customer: its record id (``customer_external_id``: Salesforce AccountId, …) links to the
  customer imported with that id; else its name; blank → no customer; an unknown name creates
  one (status "customer" when one of its deals is won, else "prospect").
- Dates: created_at blank → import time for an open deal, the close date for a
  closed one. A closed deal's closed_at is closed_at, else close_date, else the
  import time; an open deal's close_date is its expected close date. A deal closed
  before its created date (history loaded into a CRM later) is kept and counted as a warning.
  stage_entered_at = closed_at for closed deals, created_at for open ones; one
  StageChange row records the entry into the current stage (older stage history
  is not imported).
- Product line: quantity (default 1) × unit_price; unit_price blank → amount ÷
  quantity when the amount is > 0, else the product's list price for an open deal,
  else 0. Amount blank with a unit price → quantity × unit price.
- Title blank → "Customer – Product" (or whichever is present, else "Deal <id>").
- On update, a blank cell keeps the stored value.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from crm_tui.io import resolve as R
from crm_tui.io.deal_stages import resolve_stages
from crm_tui.io.notes import add_notes
from crm_tui.io.parse import by_unique
from crm_tui.models import Deal, DealProduct, StageChange
from crm_tui.money import load_rates_conn

STATUS = {"open": "open", "won": "won", "lost": "lost", "closed won": "won", "closed lost": "lost"}


def import_deals(conn, ctx):
    import pandas as pd

    ext = ctx.text("external_id", label="external_id")
    ext = R.with_fingerprints(ctx, ext)
    title = ctx.text("title")
    customer = ctx.text("customer")
    pipeline = ctx.text("pipeline")
    stage = ctx.text("stage")
    status = ctx.choice("status", {**STATUS, "deleted": None}, "", ("open", "won", "lost"))
    status = _flag_status(ctx, status)
    amount = ctx.money("amount")
    currency = by_unique(lambda s: s.str.upper(), ctx.text("currency"))
    bad_cur = by_unique(lambda s: (s != "") & ~s.str.fullmatch(r"[A-Z]{3}"), currency)
    ctx.reject(bad_cur, currency[bad_cur].map(lambda c: f"currency must be a 3-letter code such as USD, got {c!r}"))
    probability = ctx.percent("probability")
    owner = ctx.text("owner")
    product = ctx.text("product")
    multi = _split_multi(ctx, product)
    quantity = ctx.integers("quantity", low=1, hint="a whole number ≥ 1")
    unit_price = ctx.money("unit_price")
    created = ctx.dates("created_at")
    expected = ctx.dates("expected_close")
    close_date = ctx.dates("close_date")
    closed_col = ctx.dates("closed_at")
    lost_reason = ctx.text("lost_reason", max_len=2000)
    category = _categories(ctx)
    notes = ctx.extras(ctx.text("notes", max_len=20000, multiline=True))
    R.duplicates_in_file(ctx, ext, "external_id")

    # -- stages ---------------------------------------------------------------
    pipe_ids, stage_ids, outcomes = resolve_stages(conn, ctx, pipeline, stage, status, probability)
    ok = ctx.ok
    closed = outcomes.isin(["won", "lost"]) & ok
    now = pd.Timestamp(ctx.now)

    cust_status = pd.Series(np.where(outcomes == "won", "customer", "prospect"), index=ctx.df.index)
    won_any = (outcomes == "won").groupby(R.keys_of(customer)).transform("any")
    cust_status = cust_status.where(~won_any, "customer")
    refs = ctx.text("customer_external_id") if ctx.has("customer_external_id") else None
    cust_ids = R.customer_ids(conn, ctx, customer.where(ok, ""), status_for_new=cust_status, owners=owner, refs=refs)
    ok = ctx.ok
    closed = closed & ok

    prod_ids, list_prices = R.product_ids(conn, ctx, product.where(ok, ""), unit_price)
    qty = quantity.fillna(1).astype("int64")
    amount_c = amount.copy()
    from_unit = amount_c.isna() & unit_price.notna()
    amount_c[from_unit] = qty[from_unit] * unit_price[from_unit]
    line_price = unit_price.copy()
    need = line_price.isna() & prod_ids.notna()
    by_amount = need & amount_c.fillna(0).gt(0)
    line_price[by_amount] = _div_round(amount_c[by_amount].astype("int64"), qty[by_amount])
    by_list = need & ~by_amount & ~closed
    line_price[by_list] = list_prices[by_list]
    line_price = line_price.fillna(0)

    closed_at = closed_col.where(closed_col.notna(), close_date)
    closed_at = closed_at.where(closed, pd.NaT)
    closed_at = closed_at.where(~(closed & closed_at.isna()), now)
    expected_d = expected.where(expected.notna(), close_date.where(~closed, pd.NaT))
    created_at = created.where(created.notna(), closed_at.where(closed, now))
    ctx.warn(ok & closed & (created_at > closed_at), "deals closed before they were created")
    entered = closed_at.where(closed, created_at)

    auto_title = _auto_titles(customer, product, ext)
    frame = pd.DataFrame(
        {
            "title": title.where(title != "", auto_title),
            "customer_id": cust_ids,
            "pipeline_id": pipe_ids,
            "stage_id": stage_ids,
            "amount_cents": amount_c.fillna(0).astype("int64"),
            "currency": currency.where(currency != "", load_rates_conn(conn).home),  # blank: the home one
            "probability": probability,
            "forecast_category": category,
            "expected_close": expected_d.dt.date.where(expected_d.notna(), None),
            "owner": owner,
            "lost_reason": lost_reason,
            "external_id": ext.where(ext != "", None),
            "created_at": created_at,
            "updated_at": now,
            "stage_entered_at": entered,
            "closed_at": closed_at,
            "version": 1,
        }
    )
    ok = ctx.ok
    existing = R.deals_by_external_id(conn, ext[ok].unique(), own=False)
    own = R.own_refs(conn, Deal, [e for e in ext[ok].unique() if e not in existing], live=False)
    if own:
        # our own export's "crm-12": deal 12, when its title agrees (not another database's deal 12)
        checks = [(frame.title, "title", None), (created, "created_at", None)]
        for i, deal_id in R.guarded(conn, Deal, own, ext[ok], checks).items():
            existing[ext[i]] = deal_id
    is_update = ok & ext.isin(set(existing))
    is_new = ok & ~is_update
    R.note_fingerprint_matches(ctx, is_update)
    new = frame[is_new]
    new_ids = _insert_returning_ids(conn, ctx, Deal.__table__, new)
    new_ids = pd.Series(new_ids, index=new.index, dtype="int64")
    line_mask = is_new & prod_ids.notna()
    _insert_lines(ctx, new_ids[line_mask[is_new]], prod_ids, qty, line_price)
    _insert_extra_lines(conn, ctx, new_ids, multi)
    _insert_stage_changes(conn, ctx, new_ids, frame)
    all_ids = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    all_ids[is_new] = new_ids
    updated = 0
    if is_update.any():
        ids = ext[is_update].map(existing)
        updated = _update_deals(conn, ctx, frame[is_update], ids, prod_ids, qty, line_price)
        all_ids[is_update] = ids.astype("int64")
        # the lines after the first of a row listing several ("A; B"): _update_deals replaced the
        # deal's lines with the first
        relined = pd.Series(ids.astype("int64"), index=ids.index)[prod_ids[is_update].notna()]
        _insert_extra_lines(conn, ctx, relined, multi)
    add_notes(conn, ctx, frame.customer_id, all_ids, notes)
    return int(is_new.sum()), updated


TRUE = {"true": True, "1": True, "yes": True, "y": True, "x": True, "false": False, "0": False, "no": False, "n": False}


def _flag_status(ctx, status):
    """Salesforce's IsWon / IsClosed: a closed deal that is won is won, one not won is lost; where
    the file has a status column, its non-blank cells win."""
    if not (ctx.has("is_won") or ctx.has("is_closed")):
        return status
    allowed = ("true", "false")
    won = ctx.choice("is_won", TRUE, None, allowed) if ctx.has("is_won") else None
    closed = ctx.choice("is_closed", TRUE, None, allowed) if ctx.has("is_closed") else None
    flag = status.copy()
    if closed is not None:
        flag = flag.where(~closed.eq(True), "lost")
        flag = flag.where(~closed.eq(False), "open")
        if won is not None:
            flag = flag.where(~(closed.eq(True) & won.eq(True)), "won")
    elif won is not None:
        flag = flag.where(~won.eq(True), "won")
    if ctx.has("status"):
        return status.where(status != "", flag)
    return flag


def _div_round(cents, qty):
    """Exact integer division rounded half to even (no float on money)."""
    q, r = np.divmod(cents.to_numpy(), qty.to_numpy())
    twice = 2 * r
    up = (twice > qty.to_numpy()) | ((twice == qty.to_numpy()) & (q % 2 == 1))
    return q + up.astype("int64")


def _auto_titles(customer, product, ext):
    import pandas as pd

    both = (customer != "") & (product != "")
    out = pd.Series(np.where(both, customer + " – " + product, customer + product), index=customer.index)
    fallback = np.where(ext != "", "Deal " + ext, "Untitled deal")
    return out.where(out != "", pd.Series(fallback, index=customer.index))


def _insert_returning_ids(conn, ctx, table, frame) -> list[int]:
    """Stage the frame's rows as new records (reporting progress) and return their ids in row
    order: local ids that the merge turns into real ones (``crm_tui.io.staging``)."""
    from crm_tui.io.staging import driver_values

    columns = {c: driver_values(frame[c], conn.dialect) for c in frame.columns}
    return ctx.stage.insert_columns(table, columns, tick=ctx.tick)


def _split_multi(ctx, product):
    """Several product lines in one row, as crm-tui exports them: "A; B" with quantities
    "2; 1" and unit prices "10.00; 5.00". The first line stays in the row's cells; the
    others are returned as {row: [(name, quantity, cents), ...]}."""
    from crm_tui.errors import ValidationError
    from crm_tui.textnorm import parse_money

    multi = by_unique(lambda s: s.str.contains(";", regex=False), product)
    extra: dict = {}
    if not multi.any():
        return extra
    cols = {f: ctx.columns.get(f) for f in ("quantity", "unit_price")}
    for i in multi[multi].index:
        names = [n.strip() for n in product[i].split(";")]
        parts = {f: (str(ctx.df.at[i, c]).split(";") if c else [""] * len(names)) for f, c in cols.items()}
        if any(len(v) != len(names) for v in parts.values()):
            ctx.reject(product.index == i, "product, quantity and unit_price list different numbers of lines")
            continue
        try:
            lines = [
                (n, int(q.strip() or 1), parse_money(u.strip(), field="unit_price") if u.strip() else None)
                for n, q, u in zip(names, parts["quantity"], parts["unit_price"])
            ]
        except (ValueError, ValidationError) as exc:
            ctx.reject(product.index == i, f"bad product line: {exc}")
            continue
        extra[i] = lines[1:]
        product[i] = names[0]
        for f, c in cols.items():
            if c:
                ctx.df.at[i, c] = parts[f][0]
    return extra


def _insert_extra_lines(conn, ctx, deal_ids, extra) -> None:
    import pandas as pd

    todo = [(i, line) for i, lines in extra.items() if i in deal_ids.index for line in lines]
    if not todo:
        return
    names = pd.Series([line[0] for _, line in todo])
    prices = pd.Series([line[2] for _, line in todo], dtype="Int64")
    pids, list_prices = R.product_ids(conn, ctx, names, prices)
    ctx.stage.insert(
        DealProduct.__table__,
        [
            {
                "deal_id": int(deal_ids[i]),
                "product_id": int(pids[k]),
                "quantity": line[1],
                "unit_price_cents": int(line[2] if line[2] is not None else list_prices[k]),
            }
            for k, (i, line) in enumerate(todo)
        ],
    )


def _insert_lines(ctx, deal_ids, prod_ids, qty, line_price) -> None:
    if deal_ids.empty:
        return
    idx = deal_ids.index
    columns = {
        "deal_id": deal_ids.astype("int64").tolist(),
        "product_id": prod_ids[idx].astype("int64").tolist(),
        "quantity": qty[idx].astype("int64").tolist(),
        "unit_price_cents": line_price[idx].astype("int64").tolist(),
    }
    ctx.stage.insert_columns(DealProduct.__table__, columns)


def _insert_stage_changes(conn, ctx, deal_ids, frame) -> None:
    from crm_tui.io.staging import driver_values

    if deal_ids.empty:
        return
    # the staged deals hold every value: copied in SQL, not sent row by row again
    made = ctx.stage.insert_derived(
        StageChange.__table__,
        Deal.__table__,
        deal_ids.tolist(),
        {"deal_id": "id", "to_stage_id": "stage_id", "at": "stage_entered_at"},
        constants={"from_stage_id": None, "by": "import"},
    )
    if made is not None:
        return
    sub = frame.loc[deal_ids.index]
    columns = {
        "deal_id": deal_ids.astype("int64").tolist(),
        "to_stage_id": sub.stage_id.astype("int64").tolist(),
        "at": driver_values(sub.stage_entered_at, conn.dialect),
    }
    ctx.stage.insert_columns(StageChange.__table__, columns, constants={"from_stage_id": None, "by": "import"})


def _update_deals(conn, ctx, frame, ids, prod_ids, qty, line_price) -> int:
    """Update matched deals: mapped, non-blank cells overwrite; stage moves are recorded."""
    import pandas as pd

    cur = {}
    for chunk in R._chunks(ids.tolist()):
        q = select(Deal.id, Deal.stage_id, Deal.title, Deal.version).where(Deal.id.in_(chunk))
        cur.update({r.id: r for r in conn.execute(q)})
    has = ctx.has
    cols = ["pipeline_id", "stage_id", "stage_entered_at", "closed_at"] if (has("stage") or has("status")) else []
    for f, c in (
        ("title", "title"),
        ("customer", "customer_id"),
        ("amount", "amount_cents"),
        ("currency", "currency"),
        ("probability", "probability"),
        ("owner", "owner"),
        ("lost_reason", "lost_reason"),
        ("forecast_category", "forecast_category"),
        ("created_at", "created_at"),
    ):
        if has(f):
            cols.append(c)
    if has("expected_close") or has("close_date"):
        cols.append("expected_close")
    if has("unit_price") and not has("amount"):
        cols.append("amount_cents")
    rows, moves = [], []
    raw = {
        f: (ctx.text(f) if has(f) else None)
        for f in ("title", "customer", "amount", "currency", "owner", "lost_reason", "forecast_category")
    }
    # plain dicts and sets: a pandas look-up per cell costs ~10 µs, 100k rows × 10 columns
    cells = {c: dict(zip(frame.index, frame[c].tolist())) for c in cols}
    blank = {f: set(s.index[s.to_numpy() == ""]) for f, s in raw.items() if s is not None}
    source = {
        "title": "title",
        "customer_id": "customer",
        "amount_cents": "amount",
        "currency": "currency",
        "owner": "owner",
        "lost_reason": "lost_reason",
        "forecast_category": "forecast_category",
    }
    for i, deal_id in ids.items():
        old = cur[deal_id]
        rec = {"b_id": int(deal_id), "updated_at": ctx.now, "version": old.version + 1}
        for c in cols:
            value = cells[c][i]
            src = source.get(c)
            if src in blank and i in blank[src]:
                continue  # blank cell: keep what is stored
            if c in ("probability", "expected_close") and pd.isna(value):
                continue
            rec[c] = None if _isna(value) else _py(value)
        if "stage_id" in rec and rec["stage_id"] == old.stage_id:
            for c in ("stage_entered_at",):
                rec.pop(c, None)
        elif "stage_id" in rec:
            moves.append(
                {
                    "deal_id": int(deal_id),
                    "from_stage_id": old.stage_id,
                    "to_stage_id": rec["stage_id"],
                    "at": ctx.now,
                    "by": "import",
                }
            )
            if rec.get("closed_at") is None:
                rec["stage_entered_at"] = ctx.now
        rows.append(rec)
    by_keys: dict[tuple, list] = {}
    for rec in rows:
        by_keys.setdefault(tuple(sorted(rec)), []).append(rec)
    for group in by_keys.values():
        ctx.stage.update(Deal.__table__, group)
    if moves:
        ctx.stage.insert(StageChange.__table__, moves)
    if ctx.has("product"):
        with_line = ids.index[prod_ids[ids.index].notna().to_numpy()]
        if len(with_line):
            ctx.stage.delete_in(DealProduct.__table__, "deal_id", ids[with_line].astype("int64").tolist())
            _insert_lines(ctx, ids[with_line].astype("int64"), prod_ids, qty, line_price)
    return len(rows)


def _isna(v) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _py(v):
    if isinstance(v, np.integer):
        return int(v)
    return v


#: forecast categories as files write them (Salesforce's ForecastCategoryName among them); a
#: closed or omitted deal has none of its own
_CATEGORY_WORDS = {
    "pipeline": "pipeline",
    "best case": "best_case",
    "best_case": "best_case",
    "bestcase": "best_case",
    "commit": "commit",
    "committed": "commit",
    "omitted": None,
    "closed": None,
}


def _categories(ctx):
    """The file's forecast category per row (None: the stage's default); an unknown word is rejected."""
    text = by_unique(lambda s: s.str.lower().str.strip(), ctx.text("forecast_category"))
    known = text.isin(list(_CATEGORY_WORDS)) | (text == "")
    ctx.reject(
        ~known,
        text[~known].map(lambda c: f"forecast category must be pipeline, best case or commit, got {c!r}"),
    )
    return by_unique(lambda s: s.map(lambda c: _CATEGORY_WORDS.get(c) if c else None), text)
