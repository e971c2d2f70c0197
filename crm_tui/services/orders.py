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
#: the statuses, in the order an order moves through them
STATUSES = ("draft", "approved", "fulfilled", "cancelled")


class OrderOps(ServiceBase):
    def _product_code(self, session, code: object, *, other_than: int | None = None) -> str:
        clean = v.text(code, "code", max_len=64)
        if clean:
            for pid, existing, name in session.exec(select(Product.id, Product.code, Product.name)).all():
                if pid != other_than and existing and existing.casefold() == clean.casefold():
                    raise ValidationError(f"the code {existing} is already '{name}'s; codes name one product")
        return clean

    def _product_name(self, session, name: object, *, other_than: int | None = None) -> tuple[str, str]:
        clean = v.text(name, "product name", required=True)
        key = name_key(clean)
        for pid in session.exec(select(Product.id).where(Product.name_key == key)).all():
            if pid != other_than:
                raise ValidationError(f"a product named '{clean}' already exists; pick another name")
        return clean, key

    def create_product(self, name: str, unit_price=0, *, currency: str | None = None, code: str = "") -> Product:
        """A product priced in ``currency`` (the home currency unless given)."""
        from crm_tui.models import Meta
        from crm_tui.money import DEFAULT_HOME, HOME_KEY, currency_code

        price = v.money(unit_price, "unit price")
        with self._write({"product"}, "create") as session:
            if currency is None or not str(currency).strip():
                meta = session.get(Meta, HOME_KEY)
                currency = meta.value if meta is not None else DEFAULT_HOME
            code_of = currency_code(currency)
            if code_of is None:
                raise ValidationError(f"a currency is a 3-letter code such as USD or EUR, not {currency!r}")
            currency = code_of
            clean, key = self._product_name(session, name)
            sku = self._product_code(session, code)
            self._say(session, f"add product '{clean}'")
            product = Product(
                name=clean,
                name_key=key,
                code=sku,
                unit_price_cents=price,
                currency=currency.upper(),
                created_at=self.now(),
            )
            session.add(product)
            session.flush()
            return product

    def update_product(
        self, product_id: int, *, name: str | None = None, unit_price=None, code: str | None = None
    ) -> Product:
        """A new list price applies to lines added from now on; lines already on deals and orders
        keep the price they were given."""
        with self._write({"product"}, "edit") as session:
            product = self._get(session, Product, product_id)
            changes: dict[str, object] = {}
            if name is not None:
                changes["name"], changes["name_key"] = self._product_name(session, name, other_than=product.id)
            if code is not None:
                changes["code"] = self._product_code(session, code, other_than=product.id)
            if unit_price is not None:
                changes["unit_price_cents"] = v.money(unit_price, "unit price")
            changed = self._changed_fields(product, {k: x for k, x in changes.items() if k != "name_key"})
            self._say(session, f"edit product '{product.name}' ({changed})")
            for key, value in changes.items():
                setattr(product, key, value)
            return product

    def retire_product(self, product_id: int) -> Product:
        """No longer offered for new lines; deals and orders that have it keep it."""
        with self._write({"product"}, "archive") as session:
            product = self._get(session, Product, product_id)
            if product.archived_at is not None:
                raise ValidationError(f"'{product.name}' is already retired")
            self._say(session, f"retire product '{product.name}'")
            product.archived_at = self.now()
            return product

    def restore_product(self, product_id: int) -> Product:
        with self._write({"product"}, "restore") as session:
            product = self._get(session, Product, product_id)
            if product.archived_at is None:
                raise ValidationError(f"'{product.name}' is not retired")
            self._say(session, f"offer product '{product.name}' again")
            product.archived_at = None
            return product

    def create_order(self, customer_id: int, lines, *, deal_id: int | None = None, number: str | None = None) -> Order:
        """A draft order; ``lines`` is a list of (product_id, quantity[, unit price])."""
        if not lines:
            raise ValidationError("an order needs at least one line (product × quantity)")
        with self._write({"sales_order", "order_line"}, "create") as session:
            customer = self._get(session, Customer, customer_id)
            if deal_id is not None:
                self._get(session, Deal, deal_id)
            clean = self._order_lines(session, lines)
            currency = self._one_currency(session, [pid for pid, _q, _p in clean])
            if number is not None:
                number = v.text(number, "order number", required=True, max_len=60)
                if session.exec(select(Order).where(Order.number == number)).first():
                    raise ValidationError(f"order number {number} is taken; leave it blank for the next free one")
            now = self.now()
            order = Order(
                number=number or f"pending-{now.timestamp()}-{id(clean)}",
                customer_id=customer_id,
                deal_id=deal_id,
                currency=currency,
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

    def _order_lines(self, session, lines) -> list[tuple[int, int, int]]:
        """(product_id, quantity[, unit price]) items → checked (product_id, quantity, cents);
        a missing or None price is the product's own."""
        clean = []
        for item in lines:
            product = self._get(session, Product, item[0])
            qty = v.positive_int(item[1], "quantity")
            price = (
                v.money(item[2], "unit price") if len(item) > 2 and item[2] is not None else product.unit_price_cents
            )
            clean.append((product.id, qty, price))
        return clean

    def _one_currency(self, session, product_ids: list[int], *, order: Order | None = None) -> str:
        """The currency of an order whose lines are these products: the products' own, which must
        be one (an order is priced in one currency; its lines' prices are in it). Refused, naming
        the products, when they mix currencies."""
        names: dict[str, str] = {}
        for pid in product_ids:
            product = self._get(session, Product, pid, live=False)
            names.setdefault((product.currency or "USD").upper(), product.name)
        if len(names) > 1:
            listed = ", ".join(f"'{name}' in {code}" for code, name in sorted(names.items()))
            where = f"order {order.number}" if order is not None else "an order"
            raise ValidationError(
                f"{where} is priced in one currency, but its lines mix them ({listed}); make one order per currency"
            )
        return next(iter(names), order.currency if order is not None else "USD")

    # -- the lines of a draft ---------------------------------------------------------------

    def _draft(self, session, order_id: int, expected_version: int | None) -> Order:
        """The order, if it is still a draft (and, with ``expected_version``, unchanged since read)."""
        order = self._get(session, Order, order_id)
        self._check_version(order, expected_version)
        if order.status != "draft":
            raise ValidationError(
                f"order {order.number} is {order.status}: only a draft order's lines can change"
                + ("; cancel it and make a new one" if order.status == "approved" else "")
            )
        return order

    def _lines_of(self, session, order_id: int) -> list[OrderLine]:
        return list(session.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))

    def add_order_line(
        self, order_id: int, product_id: int, quantity=1, unit_price=None, *, expected_version: int | None = None
    ) -> OrderLine:
        """A line on a draft order (the product's price unless ``unit_price`` is given)."""
        with self._write({"sales_order", "order_line"}, "edit") as session:
            order = self._draft(session, order_id, expected_version)
            [(pid, qty, price)] = self._order_lines(session, [(product_id, quantity, unit_price)])
            kept = [line.product_id for line in self._lines_of(session, order_id)]
            order.currency = self._one_currency(session, [*kept, pid], order=order)
            product = self._get(session, Product, pid)
            self._say(
                session, f"add {qty} × '{product.name}' to order {order.number}", record=("sales_order", order_id)
            )
            line = OrderLine(order_id=order_id, product_id=pid, quantity=qty, unit_price_cents=price)
            session.add(line)
            self._touch(order)
            session.flush()
            return line

    def change_order_line(
        self,
        line_id: int,
        *,
        product_id: int | None = None,
        quantity=None,
        unit_price=None,
        expected_version: int | None = None,
    ) -> OrderLine:
        """Change a draft order's line: its product, quantity or unit price (what is not given stays)."""
        with self._write({"sales_order", "order_line"}, "edit") as session:
            line = self._get(session, OrderLine, line_id)
            order = self._draft(session, line.order_id, expected_version)
            values: dict[str, object] = {}
            if product_id is not None:
                values["product_id"] = self._get(session, Product, product_id).id
                others = [x.product_id for x in self._lines_of(session, order.id) if x.id != line.id]
                order.currency = self._one_currency(session, [*others, product_id], order=order)
            if quantity is not None:
                values["quantity"] = v.positive_int(quantity, "quantity")
            if unit_price is not None:
                values["unit_price_cents"] = v.money(unit_price, "unit price")
            self._say(
                session,
                f"edit order {order.number} line ({self._changed_fields(line, values)})",
                record=("sales_order", order.id),
            )
            for name, value in values.items():
                setattr(line, name, value)
            self._touch(order)
            return line

    def remove_order_line(self, line_id: int, *, expected_version: int | None = None) -> Order:
        """Remove a line from a draft order; its last line stays (cancel the order instead)."""
        with self._write({"sales_order", "order_line"}, "edit") as session:
            line = self._get(session, OrderLine, line_id)
            order = self._draft(session, line.order_id, expected_version)
            if len(self._lines_of(session, order.id)) <= 1:
                raise ValidationError(
                    f"order {order.number} needs at least one line; change this one, or cancel the order"
                )
            self._say(session, f"remove a line from order {order.number}", record=("sales_order", order.id))
            session.delete(line)
            self._touch(order)
            return order

    def set_order_lines(self, order_id: int, lines, *, expected_version: int | None = None) -> Order:
        """Make a draft order's lines exactly ``lines`` ((product_id, quantity[, unit price]) items,
        as ``create_order`` takes them) in one change, undone as one: existing lines are changed
        in place, in order, extra ones added, missing ones removed."""
        if not lines:
            raise ValidationError("an order needs at least one line (product × quantity)")
        with self._write({"sales_order", "order_line"}, "edit") as session:
            order = self._draft(session, order_id, expected_version)
            clean = self._order_lines(session, lines)
            currency = self._one_currency(session, [pid for pid, _q, _p in clean], order=order)
            self._say(session, f"edit order {order.number} lines", record=("sales_order", order_id))
            if order.currency != currency:
                order.currency = currency
                changed_currency = True
            else:
                changed_currency = False
            stored = self._lines_of(session, order_id)
            changed = len(stored) != len(clean) or changed_currency
            for line, (product_id, qty, price) in zip(stored, clean):
                if (line.product_id, line.quantity, line.unit_price_cents) != (product_id, qty, price):
                    line.product_id, line.quantity, line.unit_price_cents = product_id, qty, price
                    changed = True
            for product_id, qty, price in clean[len(stored) :]:
                session.add(OrderLine(order_id=order_id, product_id=product_id, quantity=qty, unit_price_cents=price))
            for line in stored[len(clean) :]:
                session.delete(line)
            if changed:
                self._touch(order)
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
