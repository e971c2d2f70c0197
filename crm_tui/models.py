"""The domain: SQLModel tables of DESIGN §3.

Money is stored in integer minor units (``*_cents``); timestamps are
timezone-aware UTC (``UTCDateTime``); every editable record carries a
``version`` that services bump on each update so a stale edit from another
session is detected instead of silently overwriting.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

UTC = dt.UTC

CUSTOMER_STATUSES = ("lead", "prospect", "customer", "churned")
CUSTOMER_KINDS = ("company", "person")
STAGE_OUTCOMES = ("open", "won", "lost")
TASK_KINDS = ("call", "email", "meeting", "todo")
#: how a logged call, email or meeting went
TASK_OUTCOMES = ("reached", "no answer", "left voicemail", "meeting booked", "sent", "replied", "held", "no show")
ORDER_STATUSES = ("draft", "approved", "fulfilled", "cancelled")
#: an open deal's forecast category (closed deals are "closed" by their outcome)
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit")
#: what each forecast category is called on a card and a screen
CATEGORY_LABELS = {"pipeline": "pipeline", "best_case": "best case", "commit": "commit", "closed": "closed"}
#: the win probability (percent) from which a deal is best case, and commit
BEST_CASE_FROM = 50
COMMIT_FROM = 75


def default_category(probability: int | None) -> str:
    """The category a win probability gives an open deal the rep has not placed."""
    p = probability or 0
    return "commit" if p >= COMMIT_FROM else "best_case" if p >= BEST_CASE_FROM else "pipeline"


def category_of(chosen: str | None, probability: int | None) -> str:
    """An open deal's category: the rep's choice, else its probability's."""
    return chosen if chosen in FORECAST_CATEGORIES else default_category(probability)


def next_category(current: str) -> str:
    """The category a press of the board's key moves a deal to (pipeline → best case → commit → pipeline)."""
    i = FORECAST_CATEGORIES.index(current) if current in FORECAST_CATEGORIES else -1
    return FORECAST_CATEGORIES[(i + 1) % len(FORECAST_CATEGORIES)]


#: what a goal counts; deals_advanced names the stage the deals must enter
GOAL_METRICS = ("won_value", "deals_won", "deals_added", "deals_advanced", "activities_done")
GOAL_PERIODS = ("week", "month", "quarter", "year")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime that is always UTC-aware in Python, on every engine.

    SQLite has no time zone type: values are stored as naive UTC text (which
    ``julianday()`` understands) and given their UTC zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times must be timezone-aware (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | str | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text from an aggregate on SQLite
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    """A ``UTCDateTime`` field (``Field`` is typed ``Any``: the attribute's annotation says what it holds)."""
    return Field(sa_type=UTCDateTime, **kw)


class Meta(SQLModel, table=True):
    """Key/value facts about the database itself (schema version, ...)."""

    __tablename__ = "crm_meta"
    key: str = Field(primary_key=True)
    value: str


class ChangeLog(SQLModel, table=True):
    """One row per committed write: which tables it changed.

    Other processes (a second SSH session) poll ``max(id)`` to notice changes.
    """

    __tablename__ = "change_log"
    id: Optional[int] = Field(default=None, primary_key=True)
    tables: str
    at: dt.datetime = _ts(default_factory=utcnow)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_live_name", "deleted_at", "name_key", "id"),
        # One per sortable column of the customer list: a page in that order is an index seek.
        Index("ix_customer_live_status", "deleted_at", "status", "id"),
        Index("ix_customer_live_owner", "deleted_at", "owner", "id"),
        Index("ix_customer_live_email", "deleted_at", "email", "id"),
        Index("ix_customer_live_phone", "deleted_at", "phone", "id"),
        Index("ix_customer_live_industry", "deleted_at", "industry", "id"),
        Index("ix_customer_live_tags", "deleted_at", "tags", "id"),
        Index("ix_customer_live_updated_at", "deleted_at", "updated_at", "id"),
        Index("ix_customer_status", "status"),
        Index("ix_customer_owner", "owner"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(default="")  # normalised name for search and matching
    kind: str = Field(default="company")
    email: str = Field(default="")
    phone: str = Field(default="")
    website: str = Field(default="")
    industry: str = Field(default="")
    tags: str = Field(default="")  # comma separated, stored as typed
    owner: str = Field(default="")
    source: str = Field(default="")
    status: str = Field(default="lead")
    external_id: Optional[str] = Field(default=None, index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    deleted_at: Optional[dt.datetime] = _ts(default=None)
    version: int = Field(default=1)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    id: Optional[int] = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str
    title: str = Field(default="")
    email: str = Field(default="")
    phone: str = Field(default="")
    external_id: Optional[str] = Field(default=None, index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    deleted_at: Optional[dt.datetime] = _ts(default=None)
    version: int = Field(default=1)


class Pipeline(SQLModel, table=True):
    __tablename__ = "pipeline"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    position: int = Field(default=0)
    # archived: off the board and the pipeline switcher; its deals and history stay in the figures
    archived_at: Optional[dt.datetime] = _ts(default=None)


class Stage(SQLModel, table=True):
    __tablename__ = "stage"
    __table_args__ = (UniqueConstraint("pipeline_id", "name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipeline.id", index=True)
    name: str
    position: int = Field(default=0)
    probability: int = Field(default=0)  # percent, 0..100
    outcome: str = Field(default="open")  # open / won / lost
    rot_days: Optional[int] = Field(default=None)
    # removed in the funnel design: its deals moved away, its history kept (stage changes point at it)
    archived_at: Optional[dt.datetime] = _ts(default=None)


class Product(SQLModel, table=True):
    __tablename__ = "product"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(default="", index=True)
    unit_price_cents: int = Field(default=0)
    currency: str = Field(default="USD")
    # the rep's own SKU or article number; blank when none (a server default too, as schema 6 added it)
    code: str = Field(default="", sa_column_kwargs={"server_default": ""})
    external_id: Optional[str] = Field(default=None, index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    # retired: no longer offered for new lines; lines that name it keep it
    archived_at: Optional[dt.datetime] = _ts(default=None)


class Deal(SQLModel, table=True):
    __tablename__ = "deal"
    __table_args__ = (
        Index("ix_deal_stage_live", "stage_id", "deleted_at", "amount_cents", "currency"),
        Index("ix_deal_closed", "closed_at"),
        # Won/lost columns: latest first, and their headers' sums without table reads.
        Index(
            "ix_deal_closed_metrics",
            "stage_id",
            "closed_at",
            "deleted_at",
            "amount_cents",
            "probability",
            "customer_id",
            "currency",
        ),
        Index("ix_deal_owner", "owner"),
        # Deals added in a goal's period, read from the index alone.
        Index("ix_deal_created", "created_at", "deleted_at", "stage_id", "owner", "customer_id"),
        # Covers every deal metric (kanban headers, report, rotting, forecast) without table reads.
        Index(
            "ix_deal_metrics",
            "stage_id",
            "deleted_at",
            "owner",
            "amount_cents",
            "probability",
            "customer_id",
            "closed_at",
            "created_at",
            "stage_entered_at",
            "expected_close",
            "currency",
            "forecast_category",
        ),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    title: str
    customer_id: Optional[int] = Field(default=None, foreign_key="customer.id", index=True)
    pipeline_id: int = Field(foreign_key="pipeline.id")
    stage_id: int = Field(foreign_key="stage.id")
    amount_cents: int = Field(default=0)
    currency: str = Field(default="USD")
    probability: Optional[int] = Field(default=None)  # percent override
    expected_close: Optional[dt.date] = Field(default=None)
    owner: str = Field(default="")
    lost_reason: str = Field(default="")
    # the rep's call on an open deal (FORECAST_CATEGORIES); None: the default its stage gives
    forecast_category: Optional[str] = Field(default=None)
    external_id: Optional[str] = Field(default=None, unique=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    stage_entered_at: dt.datetime = _ts(default_factory=utcnow)
    closed_at: Optional[dt.datetime] = _ts(default=None)
    deleted_at: Optional[dt.datetime] = _ts(default=None)
    version: int = Field(default=1)


class DealProduct(SQLModel, table=True):
    """A product line on a deal: feeds market demand M = P × Q."""

    __tablename__ = "deal_product"
    __table_args__ = (Index("ix_deal_product_demand", "deal_id", "product_id", "quantity"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    quantity: int = Field(default=1)
    unit_price_cents: int = Field(default=0)


class StageChange(SQLModel, table=True):
    __tablename__ = "stage_change"
    __table_args__ = (
        Index("ix_stage_change_reach", "deal_id", "to_stage_id"),  # funnel conversion
        # goals: the moves into a stage in a period. Partial (moves only), so no other read of the
        # history, which never says from_stage_id IS NOT NULL, is steered to it.
        Index(
            "ix_stage_change_into",
            "to_stage_id",
            "at",
            "deal_id",
            "from_stage_id",
            sqlite_where=text("from_stage_id IS NOT NULL"),
            postgresql_where=text("from_stage_id IS NOT NULL"),
        ),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    from_stage_id: Optional[int] = Field(default=None, foreign_key="stage.id")
    to_stage_id: int = Field(foreign_key="stage.id")
    at: dt.datetime = _ts(default_factory=utcnow)
    by: str = Field(default="")


class Task(SQLModel, table=True):
    """An activity: call, email, meeting or to-do. Done tasks are kept."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_open_due", "done_at", "due_at"),
        Index("ix_task_deal", "deal_id", "done_at"),
        Index("ix_task_metrics", "deleted_at", "owner", "done_at", "due_at", "customer_id", "deal_id"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(default="todo")
    subject: str
    due_at: Optional[dt.datetime] = _ts(default=None)
    done_at: Optional[dt.datetime] = _ts(default=None)
    priority: int = Field(default=1)  # 0 low, 1 normal, 2 high, 3 urgent
    customer_id: Optional[int] = Field(default=None, foreign_key="customer.id", index=True)
    deal_id: Optional[int] = Field(default=None, foreign_key="deal.id")
    owner: str = Field(default="")
    notes: str = Field(default="")
    external_id: Optional[str] = Field(default=None, index=True)
    # the stage task template it came from (the sales process), when it did
    template_id: Optional[int] = Field(default=None, foreign_key="stage_task_template.id")
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    deleted_at: Optional[dt.datetime] = _ts(default=None)
    # A playbook task closed with its deal (won or lost): hidden like a deleted one (deleted_at is
    # set too), listed as cancelled on the deal page, back when the deal reopens.
    cancelled_at: Optional[dt.datetime] = _ts(default=None)
    # how a done call, email or meeting went (TASK_OUTCOMES), when the rep logged it
    outcome: Optional[str] = Field(default=None)
    version: int = Field(default=1)


class Note(SQLModel, table=True):
    __tablename__ = "note"
    id: Optional[int] = Field(default=None, primary_key=True)
    customer_id: Optional[int] = Field(default=None, foreign_key="customer.id", index=True)
    deal_id: Optional[int] = Field(default=None, foreign_key="deal.id", index=True)
    body: str
    author: str = Field(default="")
    created_at: dt.datetime = _ts(default_factory=utcnow)
    deleted_at: Optional[dt.datetime] = _ts(default=None)


class Order(SQLModel, table=True):
    __tablename__ = "sales_order"
    __table_args__ = (Index("ix_order_status", "status"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    deal_id: Optional[int] = Field(default=None, foreign_key="deal.id", index=True)
    status: str = Field(default="draft")
    # the currency its lines are priced in (a server default too, as schema 7 added it)
    currency: str = Field(default="USD", sa_column_kwargs={"server_default": "USD"})
    owner: str = Field(default="")
    created_at: dt.datetime = _ts(default_factory=utcnow)
    approved_at: Optional[dt.datetime] = _ts(default=None)
    fulfilled_at: Optional[dt.datetime] = _ts(default=None)
    cancelled_at: Optional[dt.datetime] = _ts(default=None)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    version: int = Field(default=1)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    id: Optional[int] = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="sales_order.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    quantity: int = Field(default=1)
    unit_price_cents: int = Field(default=0)


class StageTaskTemplate(SQLModel, table=True):
    """The seeds' "sales process": tasks created when a deal enters a stage."""

    __tablename__ = "stage_task_template"
    id: Optional[int] = Field(default=None, primary_key=True)
    stage_id: int = Field(foreign_key="stage.id", index=True)
    kind: str = Field(default="todo")
    subject: str
    responsible: str = Field(default="")  # blank: the deal's owner
    duration_days: int = Field(default=1)
    position: int = Field(default=0)
    # removed from the stage: no longer given to deals; the tasks made from it keep pointing here
    archived_at: Optional[dt.datetime] = _ts(default=None)


class CurrencyRate(SQLModel, table=True):
    """What one unit of a currency is worth in the database's home currency (``crm_meta``
    ``home_currency``, USD when unset): a Decimal kept as text so it is exact on every engine."""

    __tablename__ = "currency_rate"
    id: Optional[int] = Field(default=None, primary_key=True)  # the journal records integer ids
    currency: str = Field(unique=True)  # ISO 4217 code, upper case
    rate: str  # Decimal text, > 0: home-currency units per one unit of ``currency``
    as_of: Optional[dt.date] = Field(default=None)  # the day the rate is from, when known
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class Goal(SQLModel, table=True):
    """A target for every period of a kind (each month, each quarter, ...): for one owner, or
    for everyone when ``owner`` is blank."""

    __tablename__ = "goal"
    id: Optional[int] = Field(default=None, primary_key=True)
    owner: str = Field(default="")  # blank: everyone's deals and activities together
    metric: str  # GOAL_METRICS
    period: str  # GOAL_PERIODS
    target: int  # minor units of the home currency for won_value, a count otherwise
    stage_id: Optional[int] = Field(default=None, foreign_key="stage.id")  # deals_advanced: into this stage
    pipeline_id: Optional[int] = Field(default=None, foreign_key="pipeline.id")  # only this pipeline's deals
    external_id: Optional[str] = Field(default=None, index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    archived_at: Optional[dt.datetime] = _ts(default=None)  # removed: no longer tracked
    version: int = Field(default=1)


# --- kept figures (``crm_tui.kept``) ----------------------------------------------
# Aggregates the database's own triggers keep up to date in the transaction that changes a deal,
# a customer, a stage move or a stage: what Reports, the board headers and ``report`` read instead
# of scanning every deal. Never written by the application's code except a full rebuild.

#: (stage, owner, currency, UTC day the deal closed or '') → the sums every deal figure is made of
FIG_DEAL = Table(
    "fig_deal",
    SQLModel.metadata,
    Column("stage_id", Integer, nullable=False),
    Column("owner", String, nullable=False),
    Column("currency", String, nullable=False),
    Column("day", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),  # Σ amount (cents)
    Column("override_cp", BigInteger, nullable=False),  # Σ amount × its own probability (cent-percent)
    Column("default_amount", BigInteger, nullable=False),  # Σ amount of deals weighted by their stage
    Column("cycle_secs", BigInteger, nullable=False),  # Σ seconds from created to closed (closed deals)
    Column("cycle_n", BigInteger, nullable=False),  # closed deals (those with a closed time)
    PrimaryKeyConstraint("stage_id", "owner", "currency", "day", name="pk_fig_deal"),
)
#: deal → the furthest open stage position its history moved it to (absent: none)
DEAL_REACH = Table(
    "deal_reach",
    SQLModel.metadata,
    Column("deal_id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
)
#: (stage, owner, closed day or '', furthest open position reached) → deals: the funnel's conversions
FIG_REACH = Table(
    "fig_reach",
    SQLModel.metadata,
    Column("stage_id", Integer, nullable=False),
    Column("owner", String, nullable=False),
    Column("day", String, nullable=False),
    Column("reach", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("stage_id", "owner", "day", "reach", name="pk_fig_reach"),
)
#: (live customer, currency) → its purchases (won deals, fulfilled orders not from a won deal):
#: the customer value V and the inputs of the RFM segments
FIG_BUYER = Table(
    "fig_buyer",
    SQLModel.metadata,
    Column("customer_id", Integer, nullable=False),
    Column("currency", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "currency", name="pk_fig_buyer"),
)
#: live tasks: an open one by (owner, UTC day due or ''), a done one by (owner, kind, outcome or '',
#: UTC day done) with how many had a due time and how many were done by it
FIG_TASK = Table(
    "fig_task",
    SQLModel.metadata,
    Column("owner", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("done_day", String, nullable=False),
    Column("due_day", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("with_due", BigInteger, nullable=False),
    Column("on_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner", "kind", "outcome", "done_day", "due_day", name="pk_fig_task"),
)
#: orders of live customers by (owner, status, currency): how many and Σ their lines
FIG_ORDER = Table(
    "fig_order",
    SQLModel.metadata,
    Column("owner", String, nullable=False),
    Column("status", String, nullable=False),
    Column("currency", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner", "status", "currency", name="pk_fig_order"),
)
#: the quantity of each product on live deals' lines, by the deal's stage and owner (market demand)
FIG_DEMAND = Table(
    "fig_demand",
    SQLModel.metadata,
    Column("product_id", Integer, nullable=False),
    Column("stage_id", Integer, nullable=False),
    Column("owner", String, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    PrimaryKeyConstraint("product_id", "stage_id", "owner", name="pk_fig_demand"),
)
#: flags of the kept figures: ``reach_stale`` = 1 once a stage's order or outcome changed
FIG_STATE = Table(
    "fig_state",
    SQLModel.metadata,
    Column("key", String, primary_key=True),
    Column("value", Integer, nullable=False),
)
#: changes to what the learned forecast learns from, per UTC month of the moment they concern
#: ('YYYY-MM'; '0000-00' for a change that concerns every month: a price, a rate, a stage's outcome, a
#: bulk write): the forecast learned at a month's start stays good while the months before it add up the same
FIG_TOUCH = Table(
    "fig_touch",
    SQLModel.metadata,
    Column("month", String, primary_key=True),
    Column("n", BigInteger, nullable=False),
)
#: which deals changed, in commit order (SQLite: one writer at a time, so ids are commit order): what
#: the forecast of the deals open now reads again of the book it keeps in memory
#: (``forecast_read.read_book``); a NULL deal: every deal (a price, a paused bulk write). Written
#: on SQLite only (PostgreSQL's ids are not handed out in commit order; there it reads them all)
FIG_FEED = Table(
    "fig_feed",
    SQLModel.metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("deal_id", BigInteger),
    sqlite_autoincrement=True,
)
FIGURE_TABLES = (
    "fig_deal",
    "deal_reach",
    "fig_reach",
    "fig_buyer",
    "fig_task",
    "fig_order",
    "fig_demand",
    "fig_state",
    "fig_touch",
    "fig_feed",
)


class JournalEntry(SQLModel, table=True):
    """One committed action of a rep: who, when, what it was ("win 'Rollout'") and what it was about.

    The one source of undo/redo, the History sections and ``crm-tui history``; written in the
    same transaction as the change itself (``crm_tui.journal``).
    """

    __tablename__ = "journal"
    __table_args__ = (
        Index("ix_journal_who", "who", "id"),
        Index("ix_journal_deal", "deal_id", "id"),
        Index("ix_journal_customer", "customer_id", "id"),
        Index("ix_journal_record", "record_table", "record_id"),
        Index("ix_journal_undoes", "undoes", "id"),
        # the entries after a moment (the forecast of the deals open now reads only those: none, mostly)
        Index("ix_journal_at", "at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    at: dt.datetime = _ts(default_factory=utcnow)
    who: str = Field(default="")
    kind: str  # create, edit, delete, restore, move, win, lose, reopen, complete, snooze, ..., undo, redo
    action: str  # what the rep did, in words: "snooze 'Call Anna' to Fri 09:00"
    record_table: str = Field(default="")  # the record the action was about
    record_id: Optional[int] = Field(default=None)
    deal_id: Optional[int] = Field(default=None)  # its deal and customer, when one of each
    customer_id: Optional[int] = Field(default=None)
    undoes: Optional[int] = Field(default=None)  # an undo or redo entry: the entry it takes back or brings back
    undone: bool = Field(default=False)  # this action's effect is taken back now


class JournalChange(SQLModel, table=True):
    """One record's change within a journal entry: its values before and after (JSON)."""

    __tablename__ = "journal_change"
    __table_args__ = (Index("ix_journal_change_record", "table_name", "record_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="journal.id", index=True)
    table_name: str
    record_id: int
    op: str  # insert, update, delete
    before: Optional[str] = Field(default=None)  # update: the changed fields' old values; delete: the row
    after: Optional[str] = Field(default=None)  # update: their new values; insert: the row


ALL_TABLES = (
    "customer",
    "contact",
    "pipeline",
    "stage",
    "product",
    "deal",
    "deal_product",
    "stage_change",
    "task",
    "note",
    "sales_order",
    "order_line",
    "stage_task_template",
    "currency_rate",
    "goal",
)
