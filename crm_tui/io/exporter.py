"""``export_kind``: every live record of a kind to CSV, XLSX or JSON.

Headers are our field names (mapping.FIELDS), which ``import`` maps back with no
flags. Money is in major units ("1234.50" in CSV, numbers in JSON/XLSX); times
are UTC (ISO 8601 with "+00:00" in CSV/JSON, naive UTC datetimes in XLSX).
CSV cells that a spreadsheet would run as formulas start with a quote (``crm_tui.csv_cells``),
which import removes again. Deals carry their first product line (product, quantity, unit_price); notes and
stage history are not exported. A record without an external id is exported with one of ours:
"crm-<id>" for a deal, "crm-c<id>" a customer, "crm-p<id>" a contact, "crm-t<id>" a task, "crm-r<id>" a
product (``resolve.OWN_REF``); pipelines are named by their names (one row per stage task
template); contacts, deals, tasks and orders name their customer by it too
(``customer_external_id``), so that customers sharing a name keep their own records, and the
export imports back into the same database as updates (0 created). Files are created 0600 (they
hold customer data).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import String, case, cast, exists, func, literal, select

from crm_tui.errors import ValidationError
from crm_tui.io.mapping import FIELDS, KINDS
from crm_tui.models import (
    Contact,
    Customer,
    Deal,
    DealProduct,
    Goal,
    Order,
    OrderLine,
    Pipeline,
    Product,
    Stage,
    StageTaskTemplate,
    Task,
)

FORMATS = ("csv", "xlsx", "json")
MONEY = {"amount", "unit_price", "line_total"}
PRIORITY_WORDS = {0: "low", 1: "normal", 2: "high", 3: "urgent"}


def _ref(model, prefix: str):
    """A record's identity in a file: its external id, else our own "<prefix><id>" — or
    "<prefix><id>-<id>" when another record holds that text as its external id (one imported
    from another database's export), so that no two rows of an export share an identity."""
    own = literal(prefix) + cast(model.id, String)
    other = model.__table__.alias()
    taken = exists().where(other.c.external_id == own)
    return func.coalesce(model.external_id, case((taken, own + literal("-") + cast(model.id, String)), else_=own))


def _customer_ref():
    return case((Customer.id.is_(None), None), else_=_ref(Customer, "crm-c"))


def _customers(conn):
    c = Customer
    q = (
        select(
            _ref(c, "crm-c"),
            c.name,
            c.kind,
            c.email,
            c.phone,
            c.website,
            c.industry,
            c.tags,
            c.owner,
            c.source,
            c.status,
            c.created_at,
        )
        .where(c.deleted_at.is_(None))
        .order_by(c.id)
    )
    return q, [
        "external_id",
        "name",
        "kind",
        "email",
        "phone",
        "website",
        "industry",
        "tags",
        "owner",
        "source",
        "status",
        "created_at",
    ]


def _contacts(conn):
    q = (
        select(
            _ref(Contact, "crm-p"),
            Customer.name,
            _customer_ref(),
            Contact.name,
            Contact.title,
            Contact.email,
            Contact.phone,
        )
        .join(Customer, Customer.id == Contact.customer_id)
        .where(Contact.deleted_at.is_(None), Customer.deleted_at.is_(None))
        .order_by(Contact.id)
    )
    return q, ["external_id", "customer", "customer_external_id", "name", "title", "email", "phone"]


def _first_line():
    return (
        select(DealProduct.deal_id, func.min(DealProduct.id).label("line_id")).group_by(DealProduct.deal_id).subquery()
    )


def _deals(conn):
    first = _first_line()
    line = DealProduct.__table__.alias("line")
    prod = Product.__table__.alias("prod")
    q = (
        select(
            Deal.id,
            _deal_ref(),
            Deal.title,
            Customer.name,
            _customer_ref(),
            Pipeline.name,
            Stage.name,
            Stage.outcome,
            Deal.amount_cents,
            Deal.currency,
            Deal.probability,
            Deal.owner,
            prod.c.name,
            line.c.quantity,
            line.c.unit_price_cents,
            Deal.created_at,
            Deal.expected_close,
            Deal.closed_at,
            Deal.lost_reason,
            Deal.forecast_category,
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .join(Pipeline, Pipeline.id == Deal.pipeline_id)
        .outerjoin(Customer, Customer.id == Deal.customer_id)
        .outerjoin(first, first.c.deal_id == Deal.id)
        .outerjoin(line, line.c.id == first.c.line_id)
        .outerjoin(prod, prod.c.id == line.c.product_id)
        .where(Deal.deleted_at.is_(None))
        .order_by(Deal.id)
    )
    return q, [
        "id",
        "external_id",
        "title",
        "customer",
        "customer_external_id",
        "pipeline",
        "stage",
        "status",
        "amount",
        "currency",
        "probability",
        "owner",
        "product",
        "quantity",
        "unit_price",
        "created_at",
        "expected_close",
        "closed_at",
        "lost_reason",
        "forecast_category",
    ]


def _all_lines(db, df) -> None:
    """Deals with several product lines list them all: "A; B", "2; 1", "10.00; 5.00"."""
    import pandas as pd

    q = (
        select(DealProduct.deal_id, Product.name, DealProduct.quantity, DealProduct.unit_price_cents)
        .join(Product, Product.id == DealProduct.product_id)
        .join(Deal, Deal.id == DealProduct.deal_id)
        .where(Deal.deleted_at.is_(None))
        .order_by(DealProduct.deal_id, DealProduct.id)
    )
    with db.read() as session:
        lines = pd.DataFrame(session.connection().execute(q).all(), columns=["id", "p", "q", "u"])
    counts = lines.groupby("id").size()
    several = set(counts[counts > 1].index)
    if several:
        sub = lines[lines.id.isin(several)]
        joined = sub.groupby("id").agg(
            p=("p", lambda v: "; ".join(v)),
            q=("q", lambda v: "; ".join(str(int(x)) for x in v)),
            u=("u", lambda v: "; ".join(_money_text(x) for x in v)),
        )
        mask = df["id"].isin(several)
        ids = df.loc[mask, "id"]
        df.loc[mask, "product"] = ids.map(joined.p).to_numpy()
        df.loc[mask, "quantity"] = ids.map(joined.q).to_numpy()
        df.loc[mask, "unit_price"] = ids.map(joined.u).to_numpy()
    del df["id"]


def _deal_ref():
    """A deal's identity in a file: its external id, else "crm-<id>" (so tasks and orders
    exported alongside find the same deal again after import)."""
    return case((Deal.id.is_(None), None), else_=_ref(Deal, "crm-"))


def _tasks(conn):
    q = (
        select(
            _ref(Task, "crm-t"),
            Task.subject,
            Task.kind,
            Task.due_at,
            Task.done_at,
            Task.outcome,
            Task.priority,
            Customer.name,
            _customer_ref(),
            _deal_ref(),
            Task.owner,
            Task.notes,
            Task.created_at,
        )
        .outerjoin(Customer, Customer.id == Task.customer_id)
        .outerjoin(Deal, Deal.id == Task.deal_id)
        .where(Task.deleted_at.is_(None))
        .order_by(Task.id)
    )
    return q, [
        "external_id",
        "subject",
        "kind",
        "due_at",
        "done_at",
        "outcome",
        "priority",
        "customer",
        "customer_external_id",
        "deal",
        "owner",
        "notes",
        "created_at",
    ]


def _products(conn):
    """Every product, retired ones too (``retired_at``: when; blank while it is offered)."""
    q = select(
        _ref(Product, "crm-r"),
        Product.name,
        Product.code,
        Product.unit_price_cents,
        Product.currency,
        Product.archived_at,
    ).order_by(Product.id)
    return q, ["external_id", "name", "code", "unit_price", "currency", "retired_at"]


def _pipelines(conn):
    """Every pipeline, its stages and their task templates, archived ones too: one row per
    template, a stage with none on a row of its own (task columns blank), a pipeline with no
    stage likewise; in board order."""
    t = StageTaskTemplate
    q = (
        select(
            Pipeline.name,
            Pipeline.position,
            Pipeline.archived_at,
            Stage.name,
            Stage.position,
            Stage.outcome,
            Stage.probability,
            Stage.rot_days,
            Stage.archived_at,
            t.subject,
            t.kind,
            t.responsible,
            t.duration_days,
            t.position,
            t.archived_at,
        )
        .outerjoin(Stage, Stage.pipeline_id == Pipeline.id)
        .outerjoin(t, t.stage_id == Stage.id)
        .order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id, t.position, t.id)
    )
    return q, list(FIELDS["pipelines"])


def _orders(conn):
    q = (
        select(
            Order.number,
            Customer.name,
            _customer_ref(),
            _deal_ref(),
            Order.status,
            Order.owner,
            Order.created_at,
            Order.currency,
            OrderLine.id,
            Product.name,
            OrderLine.quantity,
            OrderLine.unit_price_cents,
        )
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(Deal, Deal.id == Order.deal_id)
        .outerjoin(OrderLine, OrderLine.order_id == Order.id)
        .outerjoin(Product, Product.id == OrderLine.product_id)
        .order_by(Order.id, OrderLine.id)
    )
    return q, [
        "number",
        "customer",
        "customer_external_id",
        "deal",
        "status",
        "owner",
        "created_at",
        "currency",
        "line_number",
        "product",
        "quantity",
        "unit_price",
    ]


def _goals(conn):
    """Every live goal; its target as typed (``services.goals.target_text``) in ``frame_of``."""
    gp = Pipeline.__table__.alias("goal_pipeline")
    sp = Pipeline.__table__.alias("stage_pipeline")
    q = (
        select(
            _ref(Goal, "crm-g"),
            Goal.owner,
            Goal.metric,
            Goal.period,
            Goal.target,
            gp.c.name,
            Stage.name,
            sp.c.name,
        )
        .outerjoin(gp, gp.c.id == Goal.pipeline_id)
        .outerjoin(Stage, Stage.id == Goal.stage_id)
        .outerjoin(sp, sp.c.id == Stage.pipeline_id)
        .where(Goal.archived_at.is_(None))
        .order_by(Goal.id)
    )
    return q, list(FIELDS["goals"])


QUERIES = {
    "customers": _customers,
    "contacts": _contacts,
    "deals": _deals,
    "tasks": _tasks,
    "products": _products,
    "orders": _orders,
    "pipelines": _pipelines,
    "goals": _goals,
}


def frame_of(db, kind):
    """The export table of ``kind`` as a pandas frame (cents and datetimes still raw)."""
    import pandas as pd

    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    with db.read() as session:
        conn = session.connection()
        q, cols = QUERIES[kind](conn)
        rows = conn.execute(q).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols, dtype=object)
    if kind == "orders" and len(df):
        has_line = df.line_number.notna()
        df["line_number"] = df.groupby("number").cumcount().add(1).where(has_line, None).astype(object)
        # exact integer cents: Python ints in an object column (a float one loses cents past 2**53; int64 overflows)
        totals = [q * u if line else None for q, u, line in zip(df.quantity, df.unit_price, has_line)]
        df["line_total"] = pd.Series(totals, index=df.index, dtype=object)
    if kind == "deals" and len(df):
        _all_lines(db, df)
    if kind == "goals" and len(df):
        from crm_tui.services.goals import target_text

        df["target"] = [target_text(m, t) for m, t in zip(df.metric, df.target)]
    if kind == "tasks" and len(df):
        df["priority"] = df.priority.map(lambda p: PRIORITY_WORDS.get(p, p))
    return df


def _money_text(c):
    if c is None or c != c:
        return ""
    if isinstance(c, str):
        return c
    c = int(c)
    return f"{c // 100}.{c % 100:02d}"


def _iso(v):
    if v is None or v != v:
        return ""
    return v.isoformat()


def export_kind(db, kind: str, path_or_stream, fmt: str = "csv", *, force: bool = False) -> int:
    """Write every live ``kind`` record; returns the number of rows written.

    Never over the open database or its side files, nor (unless ``force``) any other SQLite file."""
    from crm_tui import csv_cells, safety
    from crm_tui.textnorm import cents_to_major

    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; use csv, xlsx or json")
    if isinstance(path_or_stream, (str, Path)):
        safety.check_output(Path(path_or_stream), database=db.path, what="export", force=force)
    else:
        try:
            fileno = path_or_stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            fileno = None
        if fileno is not None:
            safety.check_output_stream(fileno, database=db.path, what="export")
    df = frame_of(db, kind)
    money = [c for c in df.columns if c in MONEY]
    times = [c for c in df.columns if c.endswith("_at") or c == "expected_close"]
    if fmt == "json":
        records = []
        for rec in df.to_dict("records"):
            for c in money:
                v = rec[c]
                rec[c] = None if v is None or v != v else v if isinstance(v, str) else cents_to_major(v)
            for c in times:
                rec[c] = _iso(rec[c]) or None
            for k, v in rec.items():
                if hasattr(v, "item"):
                    rec[k] = v.item()
            records.append(rec)
        _emit(path_or_stream, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        out = df.copy()
        for c in money:
            out[c] = out[c].map(_money_text)
        for c in times:
            out[c] = out[c].map(_iso)
        for c in out.columns:  # no cell runs as a spreadsheet formula; import restores the text
            out[c] = csv_cells.neutralise_column(out[c])
        _emit(path_or_stream, out.to_csv(index=False, lineterminator="\n"))
    else:
        _write_xlsx(df, kind, path_or_stream, money, times)
    return len(df)


def _emit(target, text: str) -> None:
    from crm_tui.io.importer import write_private_text

    if isinstance(target, (str, Path)):
        write_private_text(Path(target), text)
    elif hasattr(target, "buffer") and not isinstance(target, io.StringIO):
        target.buffer.write(text.encode("utf-8"))
        target.flush()
    else:
        target.write(text)


def _write_xlsx(df, kind, target, money, times) -> None:
    from openpyxl import Workbook

    from crm_tui.io.importer import write_private_bytes
    from crm_tui.textnorm import cents_to_major

    if not isinstance(target, (str, Path)):
        raise ValidationError("xlsx export needs a file: pass -o FILE.xlsx")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(kind)
    ws.append(list(df.columns))
    for rec in df.itertuples(index=False):
        row = []
        for col, v in zip(df.columns, rec):
            if v is None or (not isinstance(v, str) and v != v):
                row.append(None)
            elif col in money:
                row.append(v if isinstance(v, str) else cents_to_major(v))
            elif col in times and hasattr(v, "tzinfo") and v.tzinfo is not None:
                row.append(v.replace(tzinfo=None))
            elif isinstance(v, str) and v.startswith("="):
                row.append(" " + v)  # a cell never becomes a formula; import strips the space
            else:
                row.append(v.item() if hasattr(v, "item") else v)
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    write_private_bytes(Path(target), buf.getvalue())
