"""A ``DataTable``'s height set from the rows it holds, for the short lists laid out in a page.

``height: auto`` takes a table's height from the size it measures on its next idle, and now and then
the page was laid out before that and never again: a customer's contacts stood at a height of 0 under
"Contacts (1)". Each screen calls ``fit_height`` after filling such a table, and again when its width
changes (a narrower page may need the horizontal scrollbar).
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import DataTable


def fit_height(table: DataTable[Any], max_rows: int, *, hide_empty: bool = False) -> None:
    """Make ``table`` as tall as its header, its rows (at most ``max_rows``, then it scrolls) and,
    when its columns are wider than the space it has, the horizontal scrollbar. ``hide_empty``: with
    no rows it is hidden instead."""
    rows = table.row_count
    table.display = bool(rows) or not hide_empty
    pad = 2 * table.cell_padding
    need = 2 if rows > max_rows else 0  # the vertical scrollbar
    for i, column in enumerate(table.ordered_columns):
        cells = [table.get_row_at(r)[i] for r in range(rows)]
        need += max([column.label.cell_len] + [getattr(c, "cell_len", len(str(c))) for c in cells]) + pad
    # its own width once laid out (tables side by side share their row); a table hidden so far has
    # none yet: then the width of what holds it
    width = table.size.width
    parent = table.parent
    if not width and isinstance(parent, Widget):
        width = parent.content_size.width - table.styles.margin.width
    scrollbar = 1 if 0 < width < need else 0
    table.styles.height = min(rows, max_rows) + (1 if table.show_header else 0) + scrollbar
