"""The lines form: an order's (or a deal's) lines — product × quantity × unit price — added, changed, removed.

Built on ``FormScreen`` (crm_tui.tui.modals.form), so it keeps every form's keys and rules:
``ctrl+s`` saves from anywhere, ``enter`` goes to the next field and saves on the last one,
``escape`` on a changed form asks first, keys typed with the key that opened it land in the
first field, every problem is shown at once under its field, and the save runs in a thread.

Each line is three fields (``<line>_product``, ``<line>_quantity``, ``<line>_price``) and its
total. The product is named from the catalogue (typing completes its name, → accepts;
``ctrl+o`` picks it from a list); the unit price starts as the product's and may be changed.
``ctrl+n`` adds a line, ``ctrl+r`` removes the one being edited (the subclass gives the keys
binding ids: ``OrderFormScreen``, ``DealLinesFormScreen``). Money is exact (integer cents,
``crm_tui.textnorm``). ``save`` gets ``{"lines": [(product_id, quantity, unit price text or
None), …]}``, what ``services.create_order``, ``services.set_order_lines`` and
``services.set_deal_lines`` take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from crm_tui import validate as v
from crm_tui.errors import ValidationError
from crm_tui.queries.order_types import DraftLine, ProductChoice
from crm_tui.textnorm import money_text, name_key
from crm_tui.tui.literal import literal
from crm_tui.tui.modals.form import FORM, Field, FormScreen
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.validate import Check

#: the parts of a line, each a field named ``<line>_<part>``
PARTS = ("product", "quantity", "price")
NO_PRODUCT = "type a product's name (→ accepts the suggestion) or press ctrl+o to pick one"


class ProductSuggester(Suggester):
    """Completes a product name from the catalogue the form was given (no database read)."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._names = list(names)

    async def get_suggestion(self, value: str) -> str | None:
        typed = value.casefold()
        if not typed.strip():
            return None
        for name in self._names:
            if name.casefold().startswith(typed):
                return value + name[len(value) :]
        return None


def price_text(cents: int) -> str:
    """Cents as a rep types an amount: ``1234.50`` (exact, no thousands separators)."""
    return money_text(cents).replace(",", "")


class LinesFormScreen(FormScreen):
    """Lines of product × quantity × unit price; a subclass names what they belong to (``NOUN``),
    gives the keys their binding ids, and says whether no line at all may be saved (``MIN_LINES``)."""

    CSS_PATH = "lines_form.tcss"
    #: what the lines belong to, in messages: "An order needs at least one line"
    NOUN = "order"
    #: 1: every line names a product; 0: a line left without a product is dropped, none clears them
    MIN_LINES = 1

    def __init__(
        self,
        title: str,
        save: Callable[..., Any],
        *,
        products: Sequence[ProductChoice],
        lines: Sequence[DraftLine] = (),
        version: int | None = None,
    ) -> None:
        self.products = list(products)
        self._by_key = {name_key(p.name): p for p in self.products}
        self._counter = 0
        self.line_keys: list[str] = []
        self._auto_price: dict[str, str] = {}  # line → the price the form filled in from its product
        values: dict[str, Any] = {}
        fields: list[Field] = []
        for line in lines or [DraftLine("", 1, None)]:
            key = self._new_key()
            fields.extend(self._fields(key))
            price = "" if line.unit_price_cents is None else price_text(line.unit_price_cents)
            values.update(
                {f"{key}_product": line.product, f"{key}_quantity": str(line.quantity), f"{key}_price": price}
            )
            product = self.product_named(line.product)
            if product is not None and line.unit_price_cents == product.unit_price_cents:
                self._auto_price[key] = price
        super().__init__(
            title,
            save,
            values=values,
            fields=fields,
            version=version,
            suggesters={f.name: ProductSuggester([p.name for p in self.products]) for f in fields},
        )

    # -- lines ----------------------------------------------------------------------------

    def _new_key(self) -> str:
        self._counter += 1
        key = f"l{self._counter}"
        self.line_keys.append(key)
        return key

    @staticmethod
    def _fields(key: str) -> list[Field]:
        return [
            Field(f"{key}_product", "Product", placeholder="product name; ctrl+o picks"),
            Field(f"{key}_quantity", "Quantity", placeholder="1"),
            Field(f"{key}_price", "Unit price", placeholder="the product's"),
        ]

    def product_named(self, name: str) -> ProductChoice | None:
        return self._by_key.get(name_key(name)) if name.strip() else None

    def _line_of(self, widget: Widget | None) -> str | None:
        """The line a field widget belongs to (``field-l3_price`` → ``l3``)."""
        wid = widget.id if widget is not None else None
        if wid and wid.startswith("field-"):
            key = wid.removeprefix("field-").split("_", 1)[0]
            return key if key in self.line_keys else None
        return None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Label(literal(self.form_title), id="form-title")
            yield Static("ctrl+n add a line · ctrl+r remove one · ctrl+o pick a product", id="order-keys", markup=False)
            with Horizontal(id="order-head"):
                yield Static("Product", classes="col-product", markup=False)
                yield Static("Qty", classes="col-quantity", markup=False)
                yield Static("Unit price", classes="col-price", markup=False)
                yield Static("Line total", classes="col-total", markup=False)
            with VerticalScroll(id="form-fields", can_focus=False):
                for key in self.line_keys:
                    yield self._line_widget(key)
            yield Static("", id="order-total", markup=False)
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Static(self._keys_hint(), id="form-keys", markup=False)
                yield Button("Save", id="form-save", variant="primary")
                yield Button("Cancel", id="form-cancel")

    def _line_widget(self, key: str) -> Widget:
        fields = self._fields(key)
        row = Horizontal(
            *(self._widget(f).add_class(f"col-{part}") for f, part in zip(fields, PARTS)),
            Static("", id=f"total-{key}", classes="col-total", markup=False),
            classes="order-row",
        )
        errors = [Static("", id=f"error-{f.name}", classes="field-error", markup=False) for f in fields]
        return Vertical(row, *errors, id=f"line-{key}", classes="order-line")

    def on_mount(self) -> None:
        self._show_totals()

    # -- adding and removing lines ----------------------------------------------------------

    async def action_add_line(self) -> None:
        key = self._new_key()
        self.initial.update({f"{key}_product": "", f"{key}_quantity": "1", f"{key}_price": ""})
        for f in self._fields(key):
            self.suggesters[f.name] = ProductSuggester([p.name for p in self.products])
        await self.query_one("#form-fields", VerticalScroll).mount(self._line_widget(key))
        self.fields.extend(self._fields(key))
        self._after_lines_changed()
        widget = self.field_widget(f"{key}_product")
        self.set_focus(widget)
        widget.scroll_visible()

    async def action_remove_line(self) -> None:
        key = self._line_of(self.focused)
        if key is None:
            self.show_error("Move to the line to remove first (its product, quantity or price)")
            return
        if len(self.line_keys) == 1:
            if self.MIN_LINES:
                self.show_error(f"An {self.NOUN} needs at least one line: change this one instead")
            else:
                self._clear_line(key)
            return
        at = self.line_keys.index(key)
        self.line_keys.remove(key)
        self.fields = [f for f in self.fields if not f.name.startswith(f"{key}_")]
        self.errors = {k: m for k, m in self.errors.items() if not k.startswith(f"{key}_")}
        self._auto_price.pop(key, None)
        await self.query_one(f"#line-{key}").remove()
        self._after_lines_changed()
        self.set_focus(self.field_widget(f"{self.line_keys[min(at, len(self.line_keys) - 1)]}_product"))

    def _clear_line(self, key: str) -> None:
        """The only line emptied (where no line at all may be saved): saving then clears the lines."""
        for part, value in (("product", ""), ("quantity", "1"), ("price", "")):
            widget = self.field_widget(f"{key}_{part}")
            assert isinstance(widget, Input)
            widget.value = value
        self._auto_price.pop(key, None)
        self.set_focus(self.field_widget(f"{key}_product"))

    def _blank(self, key: str, values: Mapping[str, Any]) -> bool:
        """A line to drop: no product named, where lines may be left out (``MIN_LINES`` 0)."""
        return not self.MIN_LINES and not str(values.get(f"{key}_product") or "").strip()

    def _after_lines_changed(self) -> None:
        self.dirty = self.values() != self._opened_with
        self._show_totals()
        self._update_hint()

    def action_pick_product(self) -> None:
        key = self._line_of(self.focused)
        if key is None:
            self.show_error("Move to a line first, then ctrl+o picks its product")
            return
        if not self.products:
            self.show_error("The catalogue has no products yet")
            return
        current = self.product_named(self.values().get(f"{key}_product", ""))
        choices = [(f"{p.name}  ·  {money_text(p.unit_price_cents)}", p) for p in self.products]
        self.app.push_screen(PickScreen("Product", choices, current=current), partial(self._picked, key))

    def _picked(self, key: str, product: ProductChoice | None) -> None:
        if product is None or key not in self.line_keys:
            return
        widget = self.field_widget(f"{key}_product")
        assert isinstance(widget, Input)
        widget.value = product.name
        self.set_focus(self.field_widget(f"{key}_quantity"))

    # -- what the form shows as it is typed ---------------------------------------------------

    @on(Input.Changed)
    def _line_changed(self, event: Input.Changed) -> None:
        key = self._line_of(event.input)
        if key is None or not self.is_mounted:
            return
        if event.input.id == f"field-{key}_product":
            product = self.product_named(event.value)
            price = self.field_widget(f"{key}_price")
            assert isinstance(price, Input)
            if product is not None and price.value.strip() in ("", self._auto_price.get(key, "")):
                self._auto_price[key] = price.value = price_text(product.unit_price_cents)
        self._show_totals()

    def line_total(self, key: str) -> int | None:
        """The line's total in cents, or None while it cannot be worked out from what is typed."""
        values = self.values()
        try:
            quantity = v.positive_int(values.get(f"{key}_quantity"), "quantity")
            typed = str(values.get(f"{key}_price") or "").strip()
            if typed:
                price = v.money(typed, "unit price")
            else:
                product = self.product_named(str(values.get(f"{key}_product") or ""))
                if product is None:
                    return None
                price = product.unit_price_cents
        except ValidationError:
            return None
        return quantity * price

    def _show_totals(self) -> None:
        if not self.is_mounted:
            return
        totals = {key: self.line_total(key) for key in self.line_keys}
        for key, total in totals.items():
            for shown in self.query(f"#total-{key}").results(Static):
                shown.update("—" if total is None else money_text(total))
        known = [t for t in totals.values() if t is not None]
        lines = len(self.line_keys)
        text = f"{lines} line{'s' if lines != 1 else ''} · total {money_text(sum(known))}"
        if len(known) < lines:
            text += " (so far)"
        self.query_one("#order-total", Static).update(text)

    def _keys_hint(self) -> str:
        if self.saving:
            return "Saving…"
        escape = "esc discard…" if self.dirty else "esc cancel"
        return f"enter next · ctrl+s save · {escape}"

    # -- checking and saving --------------------------------------------------------------

    def _product_check(self, value: object) -> ProductChoice:
        name = str(value or "").strip()
        if not name:
            raise ValidationError(f"product is required; {NO_PRODUCT}", field="product")
        product = self.product_named(name)
        if product is None:
            raise ValidationError(f"no product named '{name}' in the catalogue; {NO_PRODUCT}", field="product")
        return product

    @staticmethod
    def _price_check(value: object) -> int | None:
        return None if not str(value or "").strip() else v.money(value, "unit price")

    def checks(self) -> Mapping[str, Check]:
        out: dict[str, Check] = {}
        values = self.values()
        for key in self.line_keys:
            if self._blank(key, values):
                continue
            out[f"{key}_product"] = self._product_check
            out[f"{key}_quantity"] = partial(v.positive_int, field="quantity")
            out[f"{key}_price"] = self._price_check
        return out

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """The lines as the services take them: (product id, quantity, unit price text or None)."""
        lines = []
        for key in self.line_keys:
            if self._blank(key, values):
                continue
            product = cleaned[f"{key}_product"]
            assert isinstance(product, ProductChoice)  # checked: every line names a catalogue product
            price = str(values.get(f"{key}_price") or "").strip() or None
            lines.append((product.id, cleaned[f"{key}_quantity"], price))
        return {"lines": lines}

    def on_conflict(self, message: str, current: dict[str, Any]) -> None:
        """Changed in another session: say so, and let a second save replace its lines."""
        if self.versioned and current.get("version") is not None:
            self.expected_version = current["version"]
        self.show_errors(
            {FORM: f"{message}\n{self.conflict_note(current)}\nSave again to replace its lines with yours."}
        )

    def conflict_note(self, current: dict[str, Any]) -> str:
        """What a conflict adds about the record as it is now."""
        return "Its lines may differ from yours."
