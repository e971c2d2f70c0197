"""Reading an export's rows a chunk at a time (``_Chunks``), with what SQL does not give added.

The rows come from a streaming cursor over the kind's select (``export_queries.QUERIES``),
``CHUNK_ROWS`` at a time (what bounds an export's memory), as columns of raw values; per kind, the
chunk is completed before it is handed to a writer: a deal's several product lines, an order
line's number and total, a task's priority word, a goal's target as typed.
"""

from __future__ import annotations

from sqlalchemy import Date, String, select, type_coerce

from crm_tui import engines
from crm_tui.io.export_cells import _money_text
from crm_tui.io.export_queries import QUERIES
from crm_tui.models import DealProduct, Product, UTCDateTime

PRIORITY_WORDS = {0: "low", 1: "normal", 2: "high", 3: "urgent"}

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
