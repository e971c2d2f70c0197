"""The order form: a draft order's lines — product × quantity × unit price — added, changed, removed.

The lines editor itself is ``LinesFormScreen`` (crm_tui.tui.modals.lines_form), shared with a
deal's lines; this names its keys for orders and what a conflict says about the order now.
``save`` gets ``{"lines": [(product_id, quantity, unit price text or None), …]}``, what
``services.create_order`` and ``services.set_order_lines`` take.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding, BindingType

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

    def conflict_note(self, current: dict[str, Any]) -> str:
        status = current.get("status")
        return f"It is {status} now." if status and status != "draft" else "Its lines may differ from yours."
