"""What every screen that acts on orders shares: the moves (approve, fulfil, cancel — cancel asks
first), and the order form for a new order or a draft's lines.

The Orders list, an order's page, a deal's page and a customer's page all call these, so a key
does the same thing and says the same words wherever it is pressed. Every change is a services
call in a thread worker (``CrmScreen.run_service``), journaled: ``ctrl+z`` takes it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crm_tui.queries.order_types import DraftLine, ProductChoice
from crm_tui.textnorm import money_text
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.order_form import OrderFormScreen

if TYPE_CHECKING:
    from crm_tui.queries.order_types import OrderDetail
    from crm_tui.services import Services
    from crm_tui.tui.screens.base import CrmScreen

#: a key's action → the status it moves an order to (services.orders.TRANSITIONS says from where)
MOVES = {"approve": "approved", "fulfil": "fulfilled", "cancel_order": "cancelled"}
_DONE = {"approved": "Approved", "fulfilled": "Fulfilled", "cancelled": "Cancelled"}


def allowed(action: str, status: str) -> bool:
    """Whether the key ``action`` applies to an order in ``status`` (``edit``: a draft's lines)."""
    from crm_tui.services.orders import TRANSITIONS

    if action == "edit":
        return status == "draft"
    return MOVES[action] in TRANSITIONS.get(status, set())


def move(
    screen: CrmScreen, action: str, order_id: int, number: str, *, done: Callable[[Any], None] | None = None
) -> None:
    """Approve, fulfil or cancel (``action``) the order, in a worker; a toast says what happened."""
    services = screen.app.services
    assert services is not None  # the keys act only once the database is open
    status = MOVES[action]
    call = {"approved": services.approve_order, "fulfilled": services.fulfil_order, "cancelled": services.cancel_order}[
        status
    ]
    screen.run_service(
        lambda: call(order_id), done=done, success=f"{_DONE[status]} order {number} (ctrl+z takes it back)"
    )


def confirm_cancel(
    screen: CrmScreen, order_id: int, number: str, customer: str, lines: int, total_cents: int, **kw: Any
) -> None:
    """Ask before cancelling (the safe answer is the default), then cancel."""
    question = f"Cancel order {number} for '{customer}'?"
    detail = (
        f"{lines} line{'s' if lines != 1 else ''} · {money_text(total_cents)}. A cancelled order is final and "
        "counts in no figure; ctrl+z brings it back."
    )

    def answered(yes: bool | None) -> None:
        if yes and screen.app.services is not None:
            move(screen, "cancel_order", order_id, number, **kw)

    screen.app.push_screen(
        ConfirmScreen(question, detail, confirm_label="Cancel order", cancel_label="Keep it"), answered
    )


def edit_form(services: Services, order: OrderDetail, products: Sequence[ProductChoice]) -> OrderFormScreen:
    """The order form on a draft's lines; saving replaces them (one change, one undo)."""
    order_id = order.id
    lines = [DraftLine(x.product, x.quantity, x.unit_price_cents) for x in order.lines]

    def save(values: dict[str, Any], version: int | None) -> Any:
        return services.set_order_lines(order_id, values["lines"], expected_version=version)

    title = f"Order {order.number} · {order.customer}"
    return OrderFormScreen(title, save, products=products, lines=lines, version=order.version)


def new_order_form(
    services: Services,
    customer_id: int,
    customer: str,
    products: Sequence[ProductChoice],
    lines: Sequence[DraftLine] = (),
    *,
    deal: tuple[int, str] | None = None,
) -> OrderFormScreen:
    """The order form for a new draft order of ``customer`` (from ``deal`` (id, title) when given),
    starting with ``lines`` (one empty line when there are none)."""
    deal_id = deal[0] if deal is not None else None

    def save(values: dict[str, Any]) -> Any:
        return services.create_order(customer_id, values["lines"], deal_id=deal_id)

    title = f"New order for '{customer}'" + (f" from deal '{deal[1]}'" if deal is not None else "")
    return OrderFormScreen(title, save, products=products, lines=lines)


def open_edit_form(screen: CrmScreen, order_id: int) -> None:
    """Read the order and the catalogue in a worker, then open the form on its lines (a draft's only)."""
    db, services = screen.app.db, screen.app.services
    if db is None or services is None:
        return

    def read() -> None:
        from crm_tui.queries.orders import load_order, product_choices

        order = load_order(db, order_id)
        named = {line.product for line in order.lines} if order is not None else set()
        screen.app.call_from_thread(show, order, product_choices(db, keep_names=named))

    def show(order: OrderDetail | None, products: list[ProductChoice]) -> None:
        if order is None:
            screen.notify("That order no longer exists", severity="warning", timeout=4)
        elif order.status != "draft":
            screen.notify(f"Order {order.number} is {order.status}: only a draft's lines can change", timeout=4)
        else:
            screen.app.push_screen(edit_form(services, order, products), saved_order(screen, "Saved"))

    screen.run_worker(read, thread=True, exclusive=True, group="order-form", exit_on_error=False)


def open_new_order_form(
    screen: CrmScreen, customer_id: int, customer: str, *, deal: tuple[int, str] | None = None
) -> None:
    """Read the catalogue (and the deal's product lines) in a worker, then open the form for a
    new order: the deal's lines copied, or one empty line."""
    db, services = screen.app.db, screen.app.services
    if db is None or services is None:
        return

    def read() -> None:
        from crm_tui.queries.orders import deal_draft_lines, product_choices

        lines = deal_draft_lines(db, deal[0]) if deal is not None else []
        screen.app.call_from_thread(show, product_choices(db, keep_names={line.product for line in lines}), lines)

    def show(products: list[ProductChoice], lines: list[DraftLine]) -> None:
        form = new_order_form(services, customer_id, customer, products, lines, deal=deal)
        screen.app.push_screen(form, saved_order(screen, "Made"))

    screen.run_worker(read, thread=True, exclusive=True, group="order-form", exit_on_error=False)


def saved_order(screen: CrmScreen, verb: str) -> Callable[[Any], None]:
    """A form's callback: a toast naming the saved order, and its page opened when it is new."""

    def said(order: Any) -> None:
        if order is None:
            return
        screen.app.notify(f"{verb} order {order.number} (ctrl+z takes it back)", timeout=4, markup=False)
        if verb == "Made":
            screen.app.open_order(order.id)

    return said
