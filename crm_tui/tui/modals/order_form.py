"""The order form: a draft order's lines — product × quantity × unit price — added, changed, removed.

The lines editor itself is ``LinesFormScreen`` (crm_tui.tui.modals.lines_form), shared with a
deal's lines; this names its keys for orders and what a conflict says about the order now.
``save`` gets ``{"lines": [(product_id, quantity, unit price text or None), …]}``, what
``services.create_order`` and ``services.set_order_lines`` take.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding, BindingType
from textual.widgets import Static

from crm_tui.tui.modals.lines_form import NO_PRODUCT, PARTS, LinesFormScreen, ProductSuggester, price_text

__all__ = ["NO_PRODUCT", "PARTS", "OrderFormScreen", "ProductSuggester", "line_bindings", "price_text"]


def line_bindings(prefix: str, noun: str) -> list[BindingType]:
    """The lines form's keys, with ids under ``prefix`` (``order_form``, ``deal_lines``)."""
    return [
        Binding("ctrl+n", "add_line", "Add line", id=f"{prefix}.add_line", tooltip=f"Add a line to the {noun}"),
        Binding(
            "ctrl+r", "remove_line", "Remove line", id=f"{prefix}.remove_line", tooltip="Remove the line being edited"
        ),
        Binding(
            "ctrl+o",
            "pick_product",
            "Pick product",
            id=f"{prefix}.pick",
            tooltip="Pick the line's product from the catalogue",
        ),
    ]


class OrderFormScreen(LinesFormScreen):
    BINDINGS = line_bindings("order_form", "order")

    def _show_totals(self) -> None:
        """The total, with the order's currency: its products' one (an order mixing them is
        refused when saved; the line says so as it is typed)."""
        super()._show_totals()
        if not self.is_mounted:
            return
        values = self.values()
        named = [self.product_named(str(values.get(f"{key}_product") or "")) for key in self.line_keys]
        codes = sorted({p.currency for p in named if p is not None})
        shown = self.query_one("#order-total", Static)
        text = str(shown.content)
        if len(codes) == 1:
            shown.update(text.replace("total ", f"total {codes[0]} ", 1))
        elif codes:
            shown.update(f"{text} · mixes {' and '.join(codes)}: an order is in one currency, one order per currency")

    def conflict_note(self, current: dict[str, Any]) -> str:
        status = current.get("status")
        return f"It is {status} now." if status and status != "draft" else "Its lines may differ from yours."
