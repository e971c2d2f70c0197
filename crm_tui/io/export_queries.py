"""What an export reads of each kind: one select and its column names per kind (``QUERIES``).

``QUERIES[kind](conn)`` gives ``(select, columns)``: the select reads every live record of the kind
(products and pipelines: archived ones too) in the file's row order, one column per name, raw
(cents, datetimes) — ``export_chunks`` streams it, completes what SQL does not give and
``export_cells`` formats it. A record with no external id is named by one of ours (``_ref``:
"crm-c<id>" a customer, "crm-p<id>" a contact, "crm-<id>" a deal, "crm-t<id>" a task, "crm-r<id>"
a product, "crm-g<id>" a goal), so that the file imports back as updates.
"""

from __future__ import annotations

from sqlalchemy import String, case, cast, exists, func, literal, select

from crm_tui.io.mapping import FIELDS
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

#: the header line each kind's export writes, in order: the selects below name their columns from
#: it (tests/unit/test_import_round_trip.py holds it to the real files), and an import of one kind
#: refuses a file whose headers are another's exactly
HEADERS: dict[str, tuple[str, ...]] = {
    "customers": (
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
    ),
    "contacts": ("external_id", "customer", "customer_external_id", "name", "title", "email", "phone"),
    "deals": (
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
    ),
    "tasks": (
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
    ),
    "products": ("external_id", "name", "code", "unit_price", "currency", "retired_at"),
    "orders": (
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
        "line_total",
    ),
    "pipelines": tuple(FIELDS["pipelines"]),
    "goals": tuple(FIELDS["goals"]),
}


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
    return q, list(HEADERS["customers"])


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
    return q, list(HEADERS["contacts"])


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
    return q, ["id", "lines", *HEADERS["deals"]]  # id and lines: read by the chunks, not written


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
    return q, list(HEADERS["tasks"])


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
    return q, list(HEADERS["products"])


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
    return q, list(HEADERS["pipelines"])


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
    return q, list(HEADERS["orders"][:-1])  # line_total: worked out per chunk


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
    return q, list(HEADERS["goals"])


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
