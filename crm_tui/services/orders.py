"""Products and orders: draft → approved → fulfilled, or cancelled."""

from __future__ import annotations

from sqlmodel import select

from crm_tui import validate as v
from crm_tui.errors import ValidationError
from crm_tui.models import Customer, Deal, Order, OrderLine, Product
from crm_tui.services.base import ServiceBase
from crm_tui.textnorm import name_key

# status → the statuses it may move to, and the timestamp column it sets
TRANSITIONS = {
    "draft": {"approved", "cancelled"},
    "approved": {"fulfilled", "cancelled"},
    "fulfilled": set(),
    "cancelled": set(),
}
STAMP = {"approved": "approved_at", "fulfilled": "fulfilled_at", "cancelled": "cancelled_at"}


class OrderOps(ServiceBase):
    def create_product(self, name: str, unit_price=0, *, currency: str = "USD") -> Product:
        name = v.text(name, "product name", required=True)
        price = v.money(unit_price, "unit price")
        with self._write({"product"}, "create", f"add product '{name}'") as session:
            key = name_key(name)
            if session.exec(select(Product).where(Product.name_key == key)).first():
                raise ValidationError(f"a product named '{name}' already exists; pick another name")
            product = Product(
                name=name, name_key=key, unit_price_cents=price, currency=currency.upper(), created_at=self.now()
            )
            session.add(product)
            session.flush()
            return product

    def update_product(self, product_id: int, *, name: str | None = None, unit_price=None) -> Product:
        with self._write({"product"}, "edit") as session:
            product = self._get(session, Product, product_id)
            self._say(session, f"edit product '{product.name}'")
            if name is not None:
                product.name = v.text(name, "product name", required=True)
                product.name_key = name_key(product.name)
            if unit_price is not None:
                product.unit_price_cents = v.money(unit_price, "unit price")
            return product

    def create_order(self, customer_id: int, lines, *, deal_id: int | None = None, number: str | None = None) -> Order:
        """A draft order; ``lines`` is a list of (product_id, quantity[, unit price])."""
        if not lines:
            raise ValidationError("an order needs at least one line (product × quantity)")
        with self._write({"sales_order", "order_line"}, "create") as session:
            customer = self._get(session, Customer, customer_id)
            if deal_id is not None:
                self._get(session, Deal, deal_id)
            clean = []
            for item in lines:
                product = self._get(session, Product, item[0])
                qty = v.positive_int(item[1], "quantity")
                price = (
                    v.money(item[2], "unit price")
                    if len(item) > 2 and item[2] is not None
                    else product.unit_price_cents
                )
                clean.append((product.id, qty, price))
            if number is not None:
                number = v.text(number, "order number", required=True, max_len=60)
                if session.exec(select(Order).where(Order.number == number)).first():
                    raise ValidationError(f"order number {number} is taken; leave it blank for the next free one")
            now = self.now()
            order = Order(
                number=number or f"pending-{now.timestamp()}-{id(clean)}",
                customer_id=customer_id,
                deal_id=deal_id,
                owner=self.user,
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            session.flush()
            if number is None:
                order.number = f"SO-{order.id:06d}"
            self._say(session, f"add order {order.number} for '{customer.name}'")
            for product_id, qty, price in clean:
                session.add(OrderLine(order_id=order.id, product_id=product_id, quantity=qty, unit_price_cents=price))
            session.flush()
            return order

    def _transition(self, order_id: int, status: str) -> Order:
        verb = {"approved": "approve", "fulfilled": "fulfil", "cancelled": "cancel"}[status]
        with self._write({"sales_order"}, verb) as session:
            order = self._get(session, Order, order_id)
            self._say(session, f"{verb} order {order.number}")
            if status not in TRANSITIONS[order.status]:
                allowed = ", ".join(sorted(TRANSITIONS[order.status])) or "nothing (it is final)"
                raise ValidationError(f"order {order.number} is {order.status}; it can move to {allowed}")
            order.status = status
            setattr(order, STAMP[status], self.now())
            self._touch(order)
            return order

    def approve_order(self, order_id: int) -> Order:
        return self._transition(order_id, "approved")

    def fulfil_order(self, order_id: int) -> Order:
        return self._transition(order_id, "fulfilled")

    def cancel_order(self, order_id: int) -> Order:
        return self._transition(order_id, "cancelled")
