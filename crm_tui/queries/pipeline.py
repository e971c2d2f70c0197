"""Read side of the Pipeline board and the deal detail view.

``load_board()`` reads one window of cards per column (the biggest deals
first, ``limit`` of them; a column grows by a page when the cursor nears its
end), the next open task of just those deals, and one aggregate for every
column header — so the headers count every deal while the board holds a few
hundred cards, however many thousands are open. Won and lost columns only
hold deals closed in the last ``closed_days`` days (their headers say so).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import and_, bindparam, func, or_, select, union

from crm_tui.columns import bigint, col, pk
from crm_tui.models import UTC, Customer, Deal, DealProduct, Pipeline, Product, Stage, Task, category_of
from crm_tui.money import Converter, load_rates_conn
from crm_tui.queries.board import CARDS_PER_COLUMN, CLOSED_DAYS, Board, Card, Header, StageCol, make_header
from crm_tui.queries.customer_detail import TaskLine
from crm_tui.queries.search import like_pattern

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import BindParameter, ColumnElement, Connection, Row, Select, SQLColumnExpression

    from crm_tui.db import Database

#: a SELECT of any columns (the header's sums, a count) that may be joined to its deal's customer
_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


class _JoinCustomer(Protocol):
    def __call__(self, query: _Q, /) -> _Q: ...


__all__ = ["CARDS_PER_COLUMN", "CLOSED_DAYS", "Board", "Card", "Header", "StageCol", "make_header"]


@dataclass(frozen=True)
class PipelineRow:
    id: int
    name: str


def list_pipelines(db: Database) -> list[PipelineRow]:
    with db.read() as session:
        rows = session.connection().execute(
            select(pk(Pipeline.id), col(Pipeline.name))
            .where(col(Pipeline.archived_at).is_(None))
            .order_by(col(Pipeline.position), pk(Pipeline.id))
        )
        return [PipelineRow(i, n) for i, n in rows]


def list_owners(db: Database) -> list[str]:
    """Every owner named on a live deal or task, sorted."""
    with db.read() as session:
        conn = session.connection()
        q = (
            select(col(Deal.owner))
            .where(col(Deal.deleted_at).is_(None), col(Deal.owner) != "")
            .union(select(col(Task.owner)).where(col(Task.deleted_at).is_(None), col(Task.owner) != ""))
        )
        return sorted({o for (o,) in conn.execute(q)})


def owner_unknown(db: Database, owner: str) -> str | None:
    """None when ``owner`` owns a live deal, task, customer or order, or has a goal and no other
    owner's name differs from it only in case; else a sentence for the rep who typed it, naming
    the closest owner there is (an owner filter matches names exactly)."""
    import difflib

    from crm_tui.models import Goal, Order

    with db.read() as session:
        conn = session.connection()
        asks = [
            select(pk(Deal.id)).where(col(Deal.owner) == owner, col(Deal.deleted_at).is_(None)),
            select(pk(Task.id)).where(col(Task.deleted_at).is_(None), col(Task.owner) == owner),
            select(pk(Customer.id)).where(col(Customer.deleted_at).is_(None), col(Customer.owner) == owner),
            select(pk(Order.id)).where(col(Order.owner) == owner),
        ]
        if any(conn.execute(q.limit(1)).first() is not None for q in asks):
            return None
        has_goal = conn.execute(select(pk(Goal.id)).where(col(Goal.owner) == owner).limit(1)).first() is not None
        # the slow part (every owner's name), only for a name that owns nothing
        named = union(
            select(col(Deal.owner)).where(col(Deal.deleted_at).is_(None)),
            select(col(Task.owner)).where(col(Task.deleted_at).is_(None)),
            select(col(Customer.owner)).where(col(Customer.deleted_at).is_(None)),
            select(col(Order.owner)),
            select(col(Goal.owner)),
        )
        owners = sorted({o for (o,) in conn.execute(named) if o and o != owner})
    same = [o for o in owners if o.casefold() == owner.casefold()]
    if has_goal and not same:
        return None  # a rep with a goal who owns nothing yet: a new hire, not a typo
    close = same or difflib.get_close_matches(owner, owners, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"owners: {', '.join(owners[:8]) or 'none yet'}"
    what = (
        "has a goal but owns no deal, task, customer or order"
        if has_goal
        else ("owns no deal, task, customer or order, and has no goal")
    )
    return f"{owner!r} {what} ({hint})"


def find_customers(db: Database, text: str, *, limit: int = 8) -> list[tuple[int, str]]:
    """Live customers whose name starts with ``text`` (then contains it), for pickers."""
    text = text.strip()
    if not text:
        return []
    with db.read() as session:
        conn = session.connection()
        base = select(pk(Customer.id), col(Customer.name)).where(col(Customer.deleted_at).is_(None))
        rows = conn.execute(
            base.where(col(Customer.name).ilike(like_pattern(text)[1:], escape="\\"))
            .order_by(col(Customer.name))
            .limit(limit)
        ).all()
        if len(rows) < limit:
            seen = {r[0] for r in rows}
            more = conn.execute(
                base.where(col(Customer.name).ilike(like_pattern(text), escape="\\"))
                .order_by(col(Customer.name))
                .limit(limit)
            ).all()
            rows = [*rows, *[r for r in more if r[0] not in seen][: limit - len(rows)]]
        return [(i, n) for i, n in rows]


def _text_cond(text: str) -> ColumnElement[bool] | None:
    if not text.strip():
        return None
    pattern = like_pattern(text.strip())
    return or_(col(Deal.title).ilike(pattern, escape="\\"), col(Customer.name).ilike(pattern, escape="\\"))


def load_board(
    db: Database,
    pipeline_id: int | None,
    *,
    now: dt.datetime,
    text: str = "",
    owner: str | None = None,
    closed_days: int = CLOSED_DAYS,
    limits: dict[int, int] | None = None,
    focus: int | None = None,
) -> Board:
    """The first ``limits[stage_id]`` (default CARDS_PER_COLUMN) cards of every column of one
    pipeline (the first pipeline when ``pipeline_id`` is None) and every column's header.
    The deal ``focus`` is always among the cards, however far down its column it sits."""
    now = now.astimezone(UTC)
    since = (now - dt.timedelta(days=closed_days)).date()
    since_at = dt.datetime(since.year, since.month, since.day, tzinfo=UTC)
    limits = limits or {}
    with db.read() as session:
        conn = session.connection()
        pipes = conn.execute(
            select(pk(Pipeline.id), col(Pipeline.name))
            .where(col(Pipeline.archived_at).is_(None))
            .order_by(col(Pipeline.position), pk(Pipeline.id))
        ).all()
        if not pipes:
            return Board(0, "", [])
        by_id = dict(pipes)
        if pipeline_id not in by_id:
            pipeline_id = pipes[0][0]
        stage_rows = conn.execute(
            select(pk(Stage.id), col(Stage.name), col(Stage.outcome), col(Stage.probability), col(Stage.rot_days))
            .where(col(Stage.pipeline_id) == pipeline_id, col(Stage.archived_at).is_(None))
            .order_by(col(Stage.position), pk(Stage.id))
        ).all()
        stages = [StageCol(*r) for r in stage_rows]
        conv = Converter(load_rates_conn(conn))  # the headers' money in the home currency
        # Every condition reads the deal row alone (the stage implies the pipeline), so each
        # column is an ordered walk of a covering index: no join per deal, however many.
        conds: list[ColumnElement[bool]] = [col(Deal.deleted_at).is_(None)]
        dead = conn.execute(select(pk(Customer.id)).where(col(Customer.deleted_at).is_not(None))).scalars().all()
        if dead:
            gone: BindParameter[int] = bindparam("dead_customers", dead, expanding=True, literal_execute=True)
            conds.append(or_(col(Deal.customer_id).is_(None), col(Deal.customer_id).not_in(gone)))
        if owner:
            conds.append(col(Deal.owner) == owner)
        text_cond = _text_cond(text)
        if text_cond is not None:
            conds.append(text_cond)

        def in_column(stage: StageCol) -> list[ColumnElement[bool]]:
            where = [*conds, col(Deal.stage_id) == stage.id]
            if stage.outcome != "open":
                where.append(col(Deal.closed_at) >= since_at)
            return where

        def with_customer(query: _Q) -> _Q:
            # the customer's name is only needed for a text filter (and for the cards shown)
            return (
                query.join(Customer, pk(Customer.id) == col(Deal.customer_id), isouter=True)
                if text_cond is not None
                else query
            )

        def order(
            stage: StageCol,
        ) -> tuple[SQLColumnExpression[int] | SQLColumnExpression[dt.datetime | None], SQLColumnExpression[int]]:
            if stage.outcome == "open":
                return (col(Deal.amount_cents).desc(), pk(Deal.id))
            return (col(Deal.closed_at).desc(), pk(Deal.id).desc())

        focus_at = _focus_rank(conn, focus, stages, in_column, with_customer) if focus is not None else None
        columns = (
            pk(Deal.id),
            col(Deal.title),
            col(Deal.customer_id),
            col(Customer.name),
            col(Deal.amount_cents),
            col(Deal.currency),
            col(Deal.owner),
            col(Deal.stage_id),
            col(Deal.stage_entered_at),
            col(Deal.closed_at),
            col(Deal.version),
            col(Deal.forecast_category),
            col(Deal.probability),
        )
        rows: list[
            Row[
                int,
                str,
                int | None,
                str,
                int,
                str,
                str,
                int,
                dt.datetime,
                dt.datetime | None,
                int,
                str | None,
                int | None,
            ]
        ] = []
        agg: dict[int, tuple[int, int, int]] = {}
        for stage in stages:
            limit = max(1, limits.get(stage.id, CARDS_PER_COLUMN))
            if focus_at and focus_at[0] == stage.id:
                limit = max(limit, focus_at[1] + CARDS_PER_COLUMN // 2)
            rows += conn.execute(
                select(*columns)
                .join(Customer, pk(Customer.id) == col(Deal.customer_id), isouter=True)
                .where(*in_column(stage))
                .order_by(*order(stage))
                .limit(limit)
            ).all()
            # The header counts every deal of the column (cent-percent kept exact, rounded once).
            weight = bigint(col(Deal.amount_cents)) * func.coalesce(col(Deal.probability), stage.probability)
            # per currency (still the covering index: it ends with currency), each sum converted once
            sums = conn.execute(
                with_customer(
                    select(
                        func.count(pk(Deal.id)),
                        func.coalesce(func.sum(col(Deal.amount_cents)), 0),
                        func.coalesce(func.sum(weight), 0),
                        col(Deal.currency),
                    ).select_from(Deal)
                )
                .where(*in_column(stage))
                .group_by(col(Deal.currency))
            ).all()
            agg[stage.id] = (
                sum(int(n) for n, *_ in sums),
                conv.total((cur, int(v)) for _n, v, _w, cur in sums),
                conv.total((cur, int(w)) for _n, _v, w, cur in sums),
            )
        next_task = _next_tasks(conn, [r[0] for r in rows])

    board = Board(pipeline_id, by_id[pipeline_id], stages, {s.id: [] for s in stages}, {}, closed_days)
    board.rates, board.missing = conv.rates, frozenset(conv.missing)
    stage_by_id = {s.id: s for s in stages}
    for did, title, cid, cname, amount, currency, own, sid, entered, closed, version, chosen, override in rows:
        task, due = next_task.get(did, (None, None))
        entered = _aware(entered)
        stage = stage_by_id[sid]
        rot = 0
        if stage.outcome == "open" and stage.rot_days:
            if entered < now - dt.timedelta(days=2 * stage.rot_days):
                rot = 2
            elif entered < now - dt.timedelta(days=stage.rot_days):
                rot = 1
        board.cards[sid].append(
            Card(
                did,
                title,
                cid,
                cname or "",
                int(amount or 0),
                currency or "",
                own or "",
                sid,
                max(0, (now - entered).days),
                rot,
                task or "",
                _aware(due) if due else None,
                _aware(closed) if closed else None,
                int(version or 1),
                category_of(chosen, override if override is not None else stage.probability)
                if stage.outcome == "open"
                else "",
            )
        )
    for s in stages:
        board.headers[s.id] = make_header(s.outcome, *agg.get(s.id, (0, 0, 0)))
    return board


if TYPE_CHECKING:  # a card's columns as read
    _CardRow = Row[
        int, str, int | None, str, int, str, str, int, dt.datetime, dt.datetime | None, int, str | None, int | None
    ]


def _focus_rank(
    conn: Connection,
    deal_id: int,
    stages: list[StageCol],
    in_column: Callable[[StageCol], list[ColumnElement[bool]]],
    with_customer: _JoinCustomer,
) -> tuple[int, int] | None:
    """(stage id, position in its column) of the deal the cursor is on, if it is on this board."""
    row = conn.execute(
        select(col(Deal.stage_id), col(Deal.amount_cents), col(Deal.closed_at)).where(pk(Deal.id) == deal_id)
    ).first()
    if row is None:
        return None
    stage = next((s for s in stages if s.id == row[0]), None)
    if stage is None:
        return None
    amount, closed = row[1], row[2]
    if stage.outcome == "open":
        before = or_(col(Deal.amount_cents) > amount, and_(col(Deal.amount_cents) == amount, pk(Deal.id) < deal_id))
    elif closed is not None:
        before = or_(col(Deal.closed_at) > closed, and_(col(Deal.closed_at) == closed, pk(Deal.id) > deal_id))
    else:
        return None
    rank = conn.execute(with_customer(select(func.count()).select_from(Deal)).where(*in_column(stage), before)).scalar()
    return stage.id, int(rank or 0)


def _next_tasks(conn: Connection, deal_ids: list[int]) -> dict[int, tuple[str, dt.datetime | None]]:
    """The earliest open task (undated last) of each of these deals: one indexed read."""
    found: dict[int, tuple[str, dt.datetime | None]] = {}
    for start in range(0, len(deal_ids), 900):  # stay under every engine's parameter limit
        chunk = deal_ids[start : start + 900]
        rows = conn.execute(
            select(col(Task.deal_id), col(Task.subject), col(Task.due_at))
            .where(col(Task.deal_id).in_(chunk), col(Task.done_at).is_(None), col(Task.deleted_at).is_(None))
            .order_by(col(Task.deal_id), col(Task.due_at).is_(None), col(Task.due_at), pk(Task.id))
        )
        for deal_id, subject, due in rows:
            found.setdefault(cast(int, deal_id), (subject, due))  # cast only: in_(chunk) is never NULL
    return found


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- deal detail --------------------------------------------------------------------


@dataclass(frozen=True)
class DealLine:
    """One product line of a deal: product × quantity × unit price (exact cents)."""

    product_id: int
    product: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass
class DealDetail:
    deal: Deal
    customer: str
    pipeline: str
    stage: str
    outcome: str
    probability: int  # the deal's override or its stage's default
    tasks: list[TaskLine]
    cancelled: list[TaskLine] = field(default_factory=list)  # playbook tasks its close cancelled
    lines: list[DealLine] = field(default_factory=list)  # its product lines, in the order added

    @property
    def lines_total(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def amount_by_hand(self) -> bool:
        """The rep typed an amount other than the lines' total (it no longer follows the lines)."""
        return bool(self.lines) and self.deal.amount_cents != self.lines_total


def load_deal(db: Database, deal_id: int) -> DealDetail | None:
    """One deal with its tasks; None when gone or deleted. Its stage changes and notes are on
    its timeline (``crm_tui.queries.timeline``), read a page at a time."""
    with db.read() as session:
        conn = session.connection()
        deal = session.get(Deal, deal_id)
        if deal is None or deal.deleted_at is not None:
            return None
        # cast only: a deal's stage and pipeline are foreign keys (a missing one fails below as before)
        stage = cast(Stage, session.get(Stage, deal.stage_id))
        pipeline = cast(Pipeline, session.get(Pipeline, deal.pipeline_id))
        customer = session.get(Customer, deal.customer_id) if deal.customer_id else None
        tasks = [
            TaskLine(i, k, s, _aware(d) if d else None, _aware(x) if x else None, o or "")
            for i, k, s, d, x, o in conn.execute(
                select(
                    pk(Task.id),
                    col(Task.kind),
                    col(Task.subject),
                    col(Task.due_at),
                    col(Task.done_at),
                    col(Task.owner),
                )
                .where(col(Task.deal_id) == deal_id, col(Task.deleted_at).is_(None))
                .order_by(col(Task.done_at).is_not(None), col(Task.due_at).is_(None), col(Task.due_at), pk(Task.id))
            )
        ]
        cancelled = [
            TaskLine(i, k, s, _aware(d) if d else None, None, o or "")
            for i, k, s, d, o in conn.execute(
                select(pk(Task.id), col(Task.kind), col(Task.subject), col(Task.due_at), col(Task.owner))
                .where(col(Task.deal_id) == deal_id, col(Task.cancelled_at).is_not(None))
                .order_by(pk(Task.id))
            )
        ]
        lines = [
            DealLine(int(i), n, int(q), int(p))
            for i, n, q, p in conn.execute(
                select(
                    col(DealProduct.product_id),
                    col(Product.name),
                    col(DealProduct.quantity),
                    col(DealProduct.unit_price_cents),
                )
                .join(Product, pk(Product.id) == col(DealProduct.product_id))
                .where(col(DealProduct.deal_id) == deal_id)
                .order_by(pk(DealProduct.id))
            )
        ]
    prob = deal.probability if deal.probability is not None else stage.probability
    return DealDetail(
        deal,
        customer.name if customer else "",
        pipeline.name,
        stage.name,
        stage.outcome,
        prob,
        tasks,
        cancelled,
        lines,
    )


def open_stages(db: Database, pipeline_id: int) -> list[tuple[int, str]]:
    """The open stages of a pipeline, in order, as (id, name): where a deal moved into it may go."""
    with db.read() as session:
        rows = session.connection().execute(
            select(pk(Stage.id), col(Stage.name))
            .where(
                col(Stage.pipeline_id) == pipeline_id,
                col(Stage.archived_at).is_(None),
                col(Stage.outcome) == "open",
            )
            .order_by(col(Stage.position), pk(Stage.id))
        )
        return [(int(i), n) for i, n in rows]


@dataclass(frozen=True)
class CustomerMatch:
    """A live customer a typed name names, with what tells it apart from others of that name."""

    id: int
    name: str
    email: str
    owner: str
    industry: str
    status: str

    def label(self) -> str:
        """ "Acme · ann@acme.test · owner ann · Retail" (blank parts left out)."""
        parts = [self.name, self.email or "no email", f"owner {self.owner}" if self.owner else "no owner"]
        parts.append(self.industry or self.status)
        return "  ·  ".join(parts)


def customer_matches(db: Database, name: str, *, limit: int = 50) -> list[CustomerMatch]:
    """The live customers called ``name`` (any case; else by normalised name), oldest first."""
    from crm_tui.textnorm import name_key

    name = (name or "").strip()
    if not name:
        return []
    columns = (
        pk(Customer.id),
        col(Customer.name),
        col(Customer.email),
        col(Customer.owner),
        col(Customer.industry),
        col(Customer.status),
    )
    with db.read() as session:
        conn = session.connection()
        live = col(Customer.deleted_at).is_(None)
        rows = conn.execute(
            select(*columns)
            .where(live, func.lower(col(Customer.name)) == name.lower())
            .order_by(pk(Customer.id))
            .limit(limit)
        ).all()
        if not rows:
            rows = conn.execute(
                select(*columns)
                .where(live, col(Customer.name_key) == name_key(name))
                .order_by(pk(Customer.id))
                .limit(limit)
            ).all()
    return [CustomerMatch(int(r[0]), r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "") for r in rows]


def resolve_customer(db: Database, name: str) -> int | None:
    """The id of the live customer called ``name`` (any case); None for a blank name.

    Raises ValidationError (field "customer") when no customer, or several, have that name.
    """
    from crm_tui.errors import ValidationError
    from crm_tui.textnorm import name_key

    name = (name or "").strip()
    if not name:
        return None
    with db.read() as session:
        conn = session.connection()
        rows = conn.execute(
            select(pk(Customer.id), col(Customer.name))
            .where(col(Customer.deleted_at).is_(None), func.lower(col(Customer.name)) == name.lower())
            .limit(3)
        ).all()
        if not rows:
            rows = conn.execute(
                select(pk(Customer.id), col(Customer.name))
                .where(col(Customer.deleted_at).is_(None), col(Customer.name_key) == name_key(name))
                .limit(3)
            ).all()
    if not rows:
        raise ValidationError(
            f"no customer is called '{name}'; pick one from the suggestions or leave it blank", field="customer"
        )
    if len(rows) > 1:
        raise ValidationError(
            f"{len(rows)} customers are called '{name}'; add the deal from the customer's page instead",
            field="customer",
        )
    return rows[0][0]
