"""``export_kind``: every live record of a kind to CSV, XLSX or JSON.

Headers are our field names (mapping.FIELDS), which ``import`` maps back with no
flags. Money is in major units ("1234.50" in CSV, numbers in JSON/XLSX); times
are UTC (ISO 8601 with "+00:00" in CSV/JSON, naive UTC datetimes in XLSX).
CSV cells that a spreadsheet would run as formulas start with a quote (``crm_tui.csv_cells``),
which import removes again. Deals carry their product lines (product, quantity, unit_price; a
deal with several lists them all: "A; B", "2; 1", "10.00; 5.00"); notes and stage history are not
exported. A record without an external id is exported with one of ours: "crm-<id>" for a deal,
"crm-c<id>" a customer, "crm-p<id>" a contact, "crm-t<id>" a task, "crm-r<id>" a product
(``resolve.OWN_REF``); pipelines are named by their names (one row per stage task template);
contacts, deals, tasks and orders name their customer by it too (``customer_external_id``), so
that customers sharing a name keep their own records, and the export imports back into the same
database as updates (0 created). Files are created 0600 (they hold customer data).

The export streams: rows are read from a streaming cursor ``CHUNK_ROWS`` at a time, formatted
column by column and written before the next chunk is read (``_Chunks``), so its memory is that of
a chunk whatever the size of the book, and the file is the same whatever the chunk size. No
pandas: money goes from integer cents to text exactly, the csv module writes the cells.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from sqlalchemy import Date, String, case, cast, exists, func, literal, select, type_coerce

from crm_tui import engines
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
    UTCDateTime,
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
    """Each deal's first product line and its number of lines."""
    return (
        select(DealProduct.deal_id, func.min(DealProduct.id).label("line_id"), func.count().label("lines"))
        .group_by(DealProduct.deal_id)
        .subquery()
    )


def _deals(conn):
    first = _first_line()
    line = DealProduct.__table__.alias("line")
    prod = Product.__table__.alias("prod")
    q = (
        select(
            Deal.id,
            first.c.lines,
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
        "lines",
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


#: rows read, formatted and written at a time: what bounds an export's memory, whatever the book's size
CHUNK_ROWS = 2000
#: ids in one ``IN (...)`` (well under SQLite's and PostgreSQL's limits on bound parameters)
_IN_BATCH = 500


class _Chunks:
    """The rows of one export, read from a streaming cursor ``size`` at a time, as columns.

    ``columns`` are the file's headers; iterating gives each chunk as a list of columns (one list
    of raw values per header: cents and datetimes still raw — with ``text_times`` on SQLite,
    times as their stored text), with what SQL does not give already added: a deal's several
    product lines, an order line's number and total, a task's priority word, a goal's target as
    typed. Order lines are numbered across chunks (an order's lines may straddle two)."""

    def __init__(self, conn, kind: str, size: int, *, text_times: bool = False) -> None:
        self.conn = conn
        self.kind = kind
        self.size = max(1, int(size))
        q, cols = QUERIES[kind](conn)
        self.query_columns = list(cols)
        self.columns = [c for c in cols if c not in ("id", "lines")] if kind == "deals" else list(cols)
        if kind == "orders":
            self.columns.append("line_total")
        if text_times and engines.is_sqlite(conn.dialect):
            # times as SQLite stores them (UTC text), turned into ISO 8601 by ``_iso_text`` without a
            # datetime object in between: the same text, in a fraction of the time
            q = q.with_only_columns(
                *[type_coerce(c, String) if isinstance(c.type, (UTCDateTime, Date)) else c for c in q.selected_columns]
            )
        self._result = conn.execute(q.execution_options(yield_per=self.size))
        self._order: object = None  # the order the last line numbered belongs to
        self._line = 0

    def __iter__(self):
        fix = getattr(self, f"_fix_{self.kind}", None)
        for part in self._result.partitions(self.size):
            cols = [list(c) for c in zip(*part)]
            if fix is not None:
                cols = fix(cols)
            yield cols

    def close(self) -> None:
        self._result.close()

    def _fix_deals(self, cols: list[list]) -> list[list]:
        """Deals with several product lines list them all: "A; B", "2; 1", "10.00; 5.00" (the
        first line's product, quantity and price otherwise); the ``id`` and ``lines`` columns
        are dropped. Only the lines of deals with several are read."""
        at = {c: i for i, c in enumerate(self.query_columns)}
        ids = cols[at["id"]]
        several = {deal_id: i for i, (deal_id, n) in enumerate(zip(ids, cols[at["lines"]])) if n is not None and n > 1}
        wanted = list(several)
        lines: dict[int, list] = {}
        for start in range(0, len(wanted), _IN_BATCH):
            q = (
                select(DealProduct.deal_id, Product.name, DealProduct.quantity, DealProduct.unit_price_cents)
                .join(Product, Product.id == DealProduct.product_id)
                .where(DealProduct.deal_id.in_(wanted[start : start + _IN_BATCH]))
                .order_by(DealProduct.deal_id, DealProduct.id)
            )
            for deal_id, name, quantity, price in self.conn.execute(q).all():
                lines.setdefault(deal_id, []).append((name, quantity, price))
        product, quantity, price = cols[at["product"]], cols[at["quantity"]], cols[at["unit_price"]]
        for deal_id, rows in lines.items():
            if len(rows) > 1:
                i = several[deal_id]
                product[i] = "; ".join([p for p, _, _ in rows])
                quantity[i] = "; ".join([str(int(n)) for _, n, _ in rows])
                price[i] = "; ".join(
                    [
                        f"{u // 100}.{u % 100:02d}" if u.__class__ is int and u >= 0 else _money_text(u)
                        for _, _, u in rows
                    ]
                )
        del cols[at["lines"]], cols[at["id"]]
        return cols

    def _fix_orders(self, cols: list[list]) -> list[list]:
        """Each order's lines numbered 1, 2, … (blank for an order with none), and each line's total
        in exact integer cents (Python ints: no float, no 64-bit overflow)."""
        at = {c: i for i, c in enumerate(self.query_columns)}
        numbers, line_ids = cols[at["number"]], cols[at["line_number"]]
        quantities, prices = cols[at["quantity"]], cols[at["unit_price"]]
        totals: list = []
        for i, (number, line_id) in enumerate(zip(numbers, line_ids)):
            if number != self._order:
                self._order, self._line = number, 0
            if line_id is None:
                totals.append(None)
                continue
            self._line += 1
            line_ids[i] = self._line
            totals.append(quantities[i] * prices[i])
        cols.append(totals)
        return cols

    def _fix_tasks(self, cols: list[list]) -> list[list]:
        i = self.query_columns.index("priority")
        cols[i] = [PRIORITY_WORDS.get(p, p) for p in cols[i]]
        return cols

    def _fix_goals(self, cols: list[list]) -> list[list]:
        from crm_tui.services.goals import target_text

        i, m = self.query_columns.index("target"), self.query_columns.index("metric")
        cols[i] = [target_text(metric, t) for metric, t in zip(cols[m], cols[i])]
        return cols


def _money_text(c) -> str:
    """Cents as major units, exactly: 123456 → "1234.56", -5 → "-0.05"; text (a deal's several
    lines, already formatted) as it is; nothing → ""."""
    if c is None or c != c:
        return ""
    if isinstance(c, str):
        return c
    c = int(c)
    units, cents = divmod(abs(c), 100)
    return f"{'-' if c < 0 else ''}{units}.{cents:02d}"


def _iso_text(text: str) -> str:
    """SQLite's stored text of a UTC time or a date in ISO 8601 (as the exporter writes them):
    "2025-06-28 06:40:00.000000" → "2025-06-28T06:40:00+00:00", "…:00.250000" → "…:00.250000+00:00",
    "2025-06-28" as it is; any other form through ``datetime`` as ``UTCDateTime`` reads it."""
    if len(text) == 26 and text[10] == " " and text[19] == ".":
        if text.endswith("000000"):
            return f"{text[:10]}T{text[11:19]}+00:00"
        return f"{text[:10]}T{text[11:]}+00:00"
    if len(text) == 10:
        return dt.date.fromisoformat(text).isoformat()
    value = dt.datetime.fromisoformat(text)
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value.isoformat()


#: first characters of a cell that ``csv_cells.neutralise`` may have to quote (a quote: it may
#: come before a formula character); any other cell is written as it is without looking further
_MAYBE_FORMULA = frozenset("=+-@\t\r'")


def _csv_chunk(cols: list[list], money: set[int], times: set[int]) -> list[list]:
    from crm_tui.csv_cells import neutralise

    # The usual cells inline, the rest through a function (a call per cell is what costs here): a
    # time as SQLite stores it with no fraction of a second, cents not below zero (which never
    # start with a formula character).
    out = []
    for i, col in enumerate(cols):
        if i in times:
            out.append(
                [
                    f"{v[:10]}T{v[11:19]}+00:00"
                    if v.__class__ is str and len(v) == 26 and v.endswith(".000000")
                    else _time_cell(v)
                    for v in col
                ]
            )
        elif i in money:
            out.append([f"{v // 100}.{v % 100:02d}" if v.__class__ is int and v >= 0 else _money_cell(v) for v in col])
        else:  # no cell runs as a spreadsheet formula; import restores the text
            out.append([neutralise(v) if v.__class__ is str and v[:1] in _MAYBE_FORMULA else v for v in col])
    return out


def _time_cell(v) -> str:
    return "" if v is None else _iso_text(v) if isinstance(v, str) else v.isoformat()


def _money_cell(v) -> str:
    from crm_tui.csv_cells import neutralise

    return neutralise(_money_text(v))


def _json_records(cols: list[list], names: list[str], money: set[int], times: set[int]) -> list[dict]:
    from crm_tui.textnorm import cents_to_major

    for i in money:
        cols[i] = [None if v is None or v != v else v if isinstance(v, str) else cents_to_major(v) for v in cols[i]]
    for i in times:
        cols[i] = [_iso_text(v) if v.__class__ is str else None if v is None else v.isoformat() for v in cols[i]]
    return [dict(zip(names, row)) for row in zip(*cols)]


def _xlsx_rows(cols: list[list], money: set[int], times: set[int]):
    from crm_tui.textnorm import cents_to_major

    for rec in zip(*cols):
        row = []
        for i, v in enumerate(rec):
            if v is None or (not isinstance(v, str) and v != v):
                row.append(None)
            elif i in money:
                row.append(v if isinstance(v, str) else cents_to_major(v))
            elif i in times and getattr(v, "tzinfo", None) is not None:
                row.append(v.replace(tzinfo=None))
            elif isinstance(v, str) and v.startswith("="):
                row.append(" " + v)  # a cell never becomes a formula; import strips the space
            else:
                row.append(v)
        yield row


def export_kind(
    db, kind: str, path_or_stream, fmt: str = "csv", *, force: bool = False, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Write every live ``kind`` record; returns the number of rows written.

    The rows are read from the database ``chunk_rows`` at a time and each chunk is written before
    the next is read, so memory stays that of a chunk, whatever the number of rows (XLSX: openpyxl
    keeps the sheet in a temporary file until the workbook is zipped).

    Never over the open database or its side files, nor (unless ``force``) any other SQLite file."""
    from crm_tui import safety

    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; use csv, xlsx or json")
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    to_file = isinstance(path_or_stream, (str, Path))
    if to_file:
        safety.check_output(Path(path_or_stream), database=db.path, what="export", force=force)
    else:
        if fmt == "xlsx":
            raise ValidationError("xlsx export needs a file: pass -o FILE.xlsx")
        try:
            fileno = path_or_stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            fileno = None
        if fileno is not None:
            safety.check_output_stream(fileno, database=db.path, what="export")
    with db.read() as session:
        conn = session.connection()
        if not engines.is_sqlite(conn.dialect):
            # the transaction waits on the file between chunks (a pipe into a pager may wait long)
            conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
        chunks = _Chunks(conn, kind, chunk_rows, text_times=fmt != "xlsx")
        try:
            with _Output(path_or_stream) as out:
                return _WRITERS[fmt](chunks, out)
        finally:
            chunks.close()


def _columns_of(names: list[str]) -> tuple[set[int], set[int]]:
    money = {i for i, c in enumerate(names) if c in MONEY}
    times = {i for i, c in enumerate(names) if c.endswith("_at") or c == "expected_close"}
    return money, times


def _write_csv(chunks: _Chunks, out: _Output) -> int:
    import csv

    money, times = _columns_of(chunks.columns)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(chunks.columns)
    n = 0
    for cols in chunks:
        writer.writerows(zip(*_csv_chunk(cols, money, times)))
        n += len(cols[0])
        out.write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    out.write(buf.getvalue())
    return n


def _write_json(chunks: _Chunks, out: _Output) -> int:
    """The same text as ``json.dumps(records, ensure_ascii=False, indent=1)``, one chunk at a time."""
    money, times = _columns_of(chunks.columns)
    n = 0
    for cols in chunks:
        text = ",\n".join(
            " " + json.dumps(rec, ensure_ascii=False, indent=1).replace("\n", "\n ")
            for rec in _json_records(cols, chunks.columns, money, times)
        )
        out.write(("[\n" if n == 0 else ",\n") + text)
        n += len(cols[0])
    out.write("\n]\n" if n else "[]\n")
    return n


def _write_xlsx(chunks: _Chunks, out: _Output) -> int:
    from openpyxl import Workbook

    money, times = _columns_of(chunks.columns)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(chunks.kind)
    ws.append(list(chunks.columns))
    n = 0
    for cols in chunks:
        for row in _xlsx_rows(cols, money, times):
            ws.append(row)
        n += len(cols[0])
    wb.save(out.binary())
    return n


_WRITERS = {"csv": _write_csv, "json": _write_json, "xlsx": _write_xlsx}


class _Output:
    """Where an export goes: a file created 0600 (removed again when the export fails half way),
    or an open stream (UTF-8 bytes to a console's buffer, text to a ``StringIO``)."""

    def __init__(self, target) -> None:
        self.target = target
        self.path = Path(target) if isinstance(target, (str, Path)) else None
        self._file = None

    def __enter__(self) -> _Output:
        import os

        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise ValidationError(f"cannot write {self.path}: {exc.strerror or exc}; choose another path") from None
            try:
                os.fchmod(fd, 0o600)
                self._file = os.fdopen(fd, "wb")
            except BaseException:
                os.close(fd)
                raise
        return self

    def binary(self):
        return self._file

    def write(self, text: str) -> None:
        if not text:
            return
        if self._file is not None:
            self._file.write(text.encode("utf-8"))
        elif hasattr(self.target, "buffer") and not isinstance(self.target, io.StringIO):
            self.target.buffer.write(text.encode("utf-8"))
        else:
            self.target.write(text)

    def __exit__(self, exc_type, exc, tb) -> None:
        import os
        import stat

        if self._file is None:
            if hasattr(self.target, "flush"):
                self.target.flush()
            return
        regular = stat.S_ISREG(os.fstat(self._file.fileno()).st_mode)
        self._file.close()
        if exc_type is not None and regular and self.path is not None:
            self.path.unlink(missing_ok=True)  # no half export that looks whole
