"""A deal's product lines, edited with the order form's lines editor (``LinesFormScreen``).

The same keys as the order form (``ctrl+n`` adds a line, ``ctrl+r`` removes one, ``ctrl+o``
picks a product), but a deal may have no lines: a line left without a product is dropped, and
``ctrl+r`` on the only line empties it, so saving clears the deal's lines. ``save`` gets
``{"lines": [...]}`` and the version shown, what ``services.set_deal_lines`` takes.
"""

from __future__ import annotations

from crm_tui.tui.modals.lines_form import LinesFormScreen
from crm_tui.tui.modals.order_form import line_bindings


class DealLinesFormScreen(LinesFormScreen):
    BINDINGS = line_bindings("deal_lines", "deal")
    NOUN = "deal"
    MIN_LINES = 0
