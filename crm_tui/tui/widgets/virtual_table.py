"""A table that renders only the rows on screen (line API), for 100k-row lists.

The table holds no rows. It asks a ``row_getter(index)`` for each visible row
(the screen's page cache) and shows a placeholder for rows not fetched yet;
whenever the visible window moves it posts ``RowsNeeded(start, end)`` (the
window ± a margin) so the screen can fetch those pages in a worker and call
``refresh_rows()`` when they arrive.

Columns have a priority: when the terminal is narrow, the least important
ones are dropped so the rest stay readable. Cell text is always literal
(never Rich markup) and terminal control characters are replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crm_tui.tui.literal import literal, safe


def _fit(text: str, width: int, align: str) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # fixed width; the minimum width when ``flex``
    priority: int = 0  # 0 is the most important; the highest numbers are dropped first
    flex: bool = False  # shares the width left over
    align: str = "left"  # "left" or "right"
    sortable: bool = True


class VirtualTable(ScrollView, can_focus=True):
    """Rows fetched on demand; a fixed header line; a row cursor."""

    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .virtual-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .virtual-table--sorted {
            color: $accent;
            text-style: bold;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .virtual-table--placeholder {
            color: $text-muted;
        }
    }
    """

    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--sorted",
        "virtual-table--cursor",
        "virtual-table--placeholder",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up", tooltip="Previous row"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down", tooltip="Next row"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up", tooltip="One screen up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down", tooltip="One screen down"),
        Binding("home,g", "first", "First", show=False, id="table.first", tooltip="First row"),
        Binding("end,G", "last", "Last", show=False, id="table.last", tooltip="Last row"),
        Binding("enter", "select", "Open", id="table.select", tooltip="Open the highlighted row"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class RowsNeeded(Message):
        """Rows ``start`` ≤ i < ``end`` are (or are about to be) visible."""

        def __init__(self, table: VirtualTable, start: int, end: int) -> None:
            super().__init__()
            self.table, self.start, self.end = table, start, end

    class RowHighlighted(Message):
        def __init__(self, table: VirtualTable, row: int) -> None:
            super().__init__()
            self.table, self.row = table, row

    class RowSelected(Message):
        def __init__(self, table: VirtualTable, row: int) -> None:
            super().__init__()
            self.table, self.row = table, row

    class HeaderSelected(Message):
        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

    def __init__(
        self,
        columns: Sequence[Column],
        row_getter: Callable[[int], Sequence[object] | None],
        *,
        placeholder: str = "…",
        empty_text: str = "Nothing to show",
        margin: int = 50,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self._row_getter = row_getter
        self.placeholder = placeholder
        self.empty_text = empty_text
        self.margin = margin
        self._row_count = 0
        self._sort: tuple[str, bool] | None = None
        self._last_window: tuple[int, int] | None = None
        # Rendering caches: a key press repaints two lines, each from cache when unchanged.
        self._vt_columns: tuple[int, list[tuple[Column, int]]] | None = None
        self._vt_styles: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # styles by (focus, theme); the header strip
        self._vt_strips: dict[tuple[int, bool, int], tuple[object, Style, Strip]] = {}
        self._frame: tuple[int, int, tuple[Style, Style, Style]] | None = None  # set by render_lines

    # -- data ---------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return self._row_count

    def set_row_count(self, count: int, cursor: int | None = None) -> None:
        """Tell the table how many rows exist (and optionally where the cursor goes)."""
        self._row_count = max(0, int(count))
        size = Size(self.size.width, self._row_count + 1)
        window = self.scrollable_content_region.height
        if size != self.virtual_size:
            if self.is_mounted and window and (self.virtual_size.height > window) == (size.height > window):
                # The scrollbar neither appears nor goes (a search narrowing 100k rows to 2k):
                # a new extent without a layout of the whole screen on every keystroke.
                self.set_reactive(VirtualTable.virtual_size, size)
                if self.show_vertical_scrollbar:
                    self.vertical_scrollbar.window_virtual_size = size.height
            else:
                self.virtual_size = size
        target = self.cursor_row if cursor is None else cursor
        self._last_window = None
        self.cursor_row = self._clamp(target)
        self.refresh()
        self._request_window()

    def refresh_rows(self) -> None:
        """Repaint: rows that were placeholders may have arrived."""
        self.refresh()

    def set_sort(self, key: str | None, descending: bool = False) -> None:
        self._sort = (key, descending) if key else None
        self.refresh()

    @property
    def data_height(self) -> int:
        """Rows visible below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    # -- layout -------------------------------------------------------------------------

    def visible_columns(self, width: int) -> list[tuple[Column, int]]:
        """The columns that fit ``width`` (most important first), each with its width, in table order."""
        if self._vt_columns is not None and self._vt_columns[0] == width:
            return self._vt_columns[1]
        layout = self._fit_columns(width)
        self._vt_columns = (width, layout)
        return layout

    def _fit_columns(self, width: int) -> list[tuple[Column, int]]:
        chosen: set[str] = set()
        used = 0
        for col in sorted(self.columns, key=lambda c: c.priority):
            need = col.width + (1 if chosen else 0)
            if used + need <= width or not chosen:
                chosen.add(col.key)
                used += need
        kept = [c for c in self.columns if c.key in chosen]
        spare = max(0, width - used)
        flex = [c for c in kept if c.flex] or kept[:1]
        widths = {c.key: c.width for c in kept}
        for i, col in enumerate(flex):
            share = spare // len(flex) + (1 if i < spare % len(flex) else 0)
            widths[col.key] += share
        return [(c, widths[c.key]) for c in kept]

    # -- rendering ----------------------------------------------------------------------

    def _line(self, cells: list[tuple[Text, int, str]], style: Style, width: int) -> Strip:
        line = Text(no_wrap=True, style=style)
        for i, (text, cell_width, align) in enumerate(cells):
            if i:
                line.append(" ")
            text = text.copy()
            text.truncate(cell_width, overflow="ellipsis")
            pad = cell_width - text.cell_len
            if align == "right":
                line.append(" " * pad)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(" " * pad)
        strip = Strip(list(line.render(self.app.console))).apply_style(style)
        return strip.adjust_cell_length(width, style).simplify()

    def _header(self, width: int) -> Strip:
        key = (width, self._sort, self.has_focus, self.app.theme)
        cached = self._vt_styles.get(("header",))
        if cached is not None and cached[0] == key:
            header: Strip = cached[1]
            return header
        strip = self._render_header(width)
        self._vt_styles[("header",)] = (key, strip)
        return strip

    def _render_header(self, width: int) -> Strip:
        base = self.rich_style + self.get_component_rich_style("virtual-table--header")
        sorted_style = self.get_component_rich_style("virtual-table--sorted", partial=True)
        cells = []
        for col, w in self.visible_columns(width):
            label = col.label
            if self._sort and self._sort[0] == col.key:
                label = f"{label} {'▼' if self._sort[1] else '▲'}"
                cells.append((Text(label, style=sorted_style), w, col.align))
            else:
                cells.append((Text(label), w, col.align))
        return self._line(cells, base, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._vt_styles.clear()
        self._vt_strips.clear()

    def _styles(self) -> tuple[Style, Style, Style]:
        """(row, cursor row, placeholder) styles; they change with focus and theme only."""
        key = (self.has_focus, self.app.theme)
        styles = self._vt_styles.get(key)
        if styles is None:
            base = self.rich_style
            cursor = base + self.get_component_rich_style("virtual-table--cursor")
            muted = self.get_component_rich_style("virtual-table--placeholder", partial=True)
            styles = self._vt_styles[key] = (base, cursor, muted)
        return styles

    def render_lines(self, crop: Region) -> list[Strip]:
        # what every line needs, worked out once per frame rather than once per line
        self._frame = (self.scrollable_content_region.width, int(self.scroll_offset.y), self._styles())
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def render_line(self, y: int) -> Strip:
        width, top, (base, cursor_style, muted) = self._frame or (
            self.scrollable_content_region.width,
            int(self.scroll_offset.y),
            self._styles(),
        )
        if y == 0:
            return self._header(width)
        index = top + y - 1
        if self._row_count == 0:
            if y == 1:
                return self._line([(Text(self.empty_text), width, "left")], base + muted, width)
            return Strip.blank(width, base)
        if index >= self._row_count:
            return Strip.blank(width, base)
        is_cursor = index == self.cursor_row
        style = cursor_style if is_cursor else base
        row = self._row_getter(index)
        if row is None:
            return self._line([(Text(self.placeholder), width, "left")], style + muted, width)
        key = (index, is_cursor, width)
        cached = self._vt_strips.get(key)
        if cached is not None and cached[0] is row and cached[1] == style:
            return cached[2]
        strip = self._row_strip(row, style, width)
        if len(self._vt_strips) > 4 * max(64, self.size.height):
            self._vt_strips.clear()
        self._vt_strips[key] = (row, style, strip)
        return strip

    def _row_strip(self, row: Sequence[object], style: Style, width: int) -> Strip:
        """One data row as a single segment: cells fitted to their widths (an ellipsis marks a
        cut), joined by a space. Plain text only: control characters are replaced."""
        values = dict(zip((c.key for c in self.columns), row))
        if any(isinstance(v, Text) for v in values.values()):  # styled cells: the general path
            cells = [(literal(values.get(col.key, "")), w, col.align) for col, w in self.visible_columns(width)]
            return self._line(cells, style, width)
        parts = []
        for col, w in self.visible_columns(width):
            value = values.get(col.key, "")
            parts.append(_fit(safe(value), w, col.align))
        return Strip([Segment(_fit(" ".join(parts), width, "left"), style)], width)

    # -- the visible window -------------------------------------------------------------

    def _window(self) -> tuple[int, int]:
        top = int(self.scroll_offset.y)
        start = max(0, top - self.margin)
        stop = min(self._row_count, top + self.data_height + self.margin)
        return start, stop

    def _request_window(self) -> None:
        if self._row_count == 0 or not self.is_mounted:
            return
        window = self._window()
        if window != self._last_window:
            self._last_window = window
            self.post_message(self.RowsNeeded(self, *window))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_window()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self._row_count + 1)
        self._last_window = None
        self._request_window()
        self._scroll_cursor_into_view()

    # -- the cursor ---------------------------------------------------------------------

    def _clamp(self, row: int) -> int:
        return min(max(0, row), max(0, self._row_count - 1))

    def validate_cursor_row(self, row: int) -> int:
        return self._clamp(row)

    def watch_cursor_row(self, old: int, new: int) -> None:
        top = self.scroll_offset.y
        self._scroll_cursor_into_view()
        if self.scroll_offset.y != top:
            self.refresh()
        else:  # only the rows that gained or lost the cursor change (line 0 is the header)
            self.refresh_line(old + 1)
            self.refresh_line(new + 1)
        if self._row_count:
            self.post_message(self.RowHighlighted(self, new))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_offset.y)
        height = self.data_height
        row = self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.cursor_row = self._clamp(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        step = self.data_height * direction
        self.scroll_to(y=max(0, int(self.scroll_offset.y) + step), animate=False, immediate=True)
        self.cursor_row = self._clamp(self.cursor_row + step)

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = self._clamp(self._row_count - 1)

    def action_select(self) -> None:
        if self._row_count:
            self.post_message(self.RowSelected(self, self.cursor_row))

    def _column_at(self, x: int) -> str | None:
        pos = 0
        for col, w in self.visible_columns(self.scrollable_content_region.width):
            if pos <= x < pos + w + 1:
                return col.key
            pos += w + 1
        return None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            key = self._column_at(offset.x)
            col = next((c for c in self.columns if c.key == key), None)
            if col is not None and col.sortable:
                self.post_message(self.HeaderSelected(self, col.key))
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < self._row_count:
            if index == self.cursor_row and event.chain >= 2:
                self.action_select()
            self.cursor_row = index
