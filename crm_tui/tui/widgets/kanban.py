"""A virtual kanban board rendered with the line API.

Only the lines on screen are built, so a column of 10,000 cards costs the
same as a column of ten. Columns are at least ``MIN_COL`` cells wide; when
they do not all fit (80 columns, six stages) the board scrolls sideways and
keeps the cursor's column in view, with ◀ / ▶ in the headers saying more
columns are there. Every string from the database is drawn literally.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from crm_tui.queries.board import Board, Card
from crm_tui.textnorm import money_compact, money_text, money_whole
from crm_tui.tui.literal import safe


def short_money(cents: int) -> str:
    """Whole major units with separators; millions and billions abbreviated (exactly, from cents)."""
    whole = (abs(int(cents)) + 50) // 100
    if whole < 10**6:
        return money_whole(cents)
    return money_compact(cents, places=1, smallest=10**6)


#: an open deal's forecast category as its card shows it (pipeline, most deals, shows nothing)
CATEGORY_TAGS = {"best_case": " best", "commit": " commit"}


class KanbanBoard(Widget, can_focus=True):
    """Columns of deal cards; the screen feeds it a ``Board`` and handles the actions."""

    MIN_COL = 18
    HEAD_H = 3
    CARD_H = 5  # title, customer, amount · days, next task, gap

    COMPONENT_CLASSES = {
        "kanban--header",
        "kanban--sub",
        "kanban--rule",
        "kanban--title",
        "kanban--muted",
        "kanban--cursor",
        "kanban--rotting",
        "kanban--rotten",
        "kanban--won",
        "kanban--lost",
        "kanban--sep",
        "kanban--category",
    }
    DEFAULT_CSS = """
    KanbanBoard { height: 1fr; width: 1fr; }
    KanbanBoard > .kanban--header { text-style: bold; color: $text; background: $panel; }
    KanbanBoard > .kanban--sub { color: $text-muted; background: $panel; }
    KanbanBoard > .kanban--rule { color: $primary; }
    KanbanBoard > .kanban--title { text-style: bold; }
    KanbanBoard > .kanban--muted { color: $text-muted; }
    KanbanBoard > .kanban--cursor { background: $boost; }
    KanbanBoard:focus > .kanban--cursor { background: $primary 45%; }
    KanbanBoard > .kanban--rotting { color: $warning; text-style: bold; }
    KanbanBoard > .kanban--rotten { color: $error; text-style: bold reverse; }
    KanbanBoard > .kanban--won { color: $success; }
    KanbanBoard > .kanban--lost { color: $error; }
    KanbanBoard > .kanban--sep { color: $panel-lighten-2; }
    KanbanBoard > .kanban--category { color: $accent; text-style: bold; }
    """
    BINDINGS = [
        Binding("left,h", "cursor(-1, 0)", "Left", show=False, id="pipeline.left", tooltip="Previous column"),
        Binding("right,l", "cursor(1, 0)", "Right", show=False, id="pipeline.right", tooltip="Next column"),
        Binding("up,k", "cursor(0, -1)", "Up", show=False, id="pipeline.up", tooltip="Previous card"),
        Binding("down,j", "cursor(0, 1)", "Down", show=False, id="pipeline.down", tooltip="Next card"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="pipeline.pageup", tooltip="Cards a page up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="pipeline.pagedown", tooltip="Cards a page down"),
        Binding("home,g", "edge(-1)", "First", show=False, id="pipeline.first", tooltip="First card of the column"),
        Binding("end,G", "edge(1)", "Last", show=False, id="pipeline.last", tooltip="Last card of the column"),
        Binding("enter", "open", "Open", id="pipeline.open", tooltip="Open the deal: fields, history, tasks, notes"),
    ]

    class Opened(Message):
        def __init__(self, deal_id: int) -> None:
            super().__init__()
            self.deal_id = deal_id

    class NeedMore(Message):
        """The cursor is near the end of a column that holds fewer cards than its header counts."""

        def __init__(self, stage_id: int, loaded: int) -> None:
            super().__init__()
            self.stage_id = stage_id
            self.loaded = loaded

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.board: Board | None = None
        self.now: dt.datetime = dt.datetime.now(dt.UTC)
        #: on a team's server, the rep's login: another rep's card names its owner (only they or a
        #: manager may change it); None elsewhere
        self.me: str | None = None
        self.col = 0
        self.rows: dict[int, int] = {}  # stage id → cursor row
        self.tops: dict[int, int] = {}  # stage id → first visible card
        self.first_col = 0
        self._styles: dict[tuple[str, bool], Style] = {}
        self._lines: dict[tuple[Any, ...], list[Segment]] = {}

    # -- data -------------------------------------------------------------------------

    def set_board(self, board: Board, now: dt.datetime, keep_id: int | None = None) -> None:
        """Show ``board``; the cursor stays on ``keep_id`` (or the same place) when it can."""
        same = self.board is not None and self.board.pipeline_id == board.pipeline_id
        self.board, self.now = board, now
        # Drawn card lines stay cached: a line's key holds everything drawn on it, so a board
        # that moved one card redraws that card's lines only.
        if not same:
            self.col, self.rows, self.tops, self.first_col = 0, {}, {}, 0
        found = board.find(keep_id) if keep_id is not None else None
        if found is not None:
            self.col = found[0]
            self.rows[board.stages[found[0]].id] = found[1]
        self.col = max(0, min(self.col, len(board.stages) - 1))
        for stage in board.stages:
            n = len(board.cards.get(stage.id, ()))
            self.rows[stage.id] = max(0, min(self.rows.get(stage.id, 0), n - 1))
        self._scroll_to_cursor()
        self.refresh()

    @property
    def cursor_card(self) -> Card | None:
        if not self.board or not self.board.stages:
            return None
        stage = self.board.stages[self.col]
        cards = self.board.cards.get(stage.id, [])
        row = self.rows.get(stage.id, 0)
        return cards[row] if 0 <= row < len(cards) else None

    # -- geometry -----------------------------------------------------------------------

    def _layout(self) -> tuple[int, int]:
        """(visible column count, column width)."""
        n = len(self.board.stages) if self.board else 0
        width = max(1, self.size.width)
        visible = max(1, min(n, (width + 1) // (self.MIN_COL + 1))) if n else 1
        return visible, max(1, (width - (visible - 1)) // visible)

    def _per_page(self) -> int:
        return max(1, (self.size.height - self.HEAD_H) // self.CARD_H)

    def _scroll_to_cursor(self) -> None:
        if not self.board or not self.board.stages:
            return
        visible, _w = self._layout()
        if self.col < self.first_col:
            self.first_col = self.col
        elif self.col >= self.first_col + visible:
            self.first_col = self.col - visible + 1
        self.first_col = max(0, min(self.first_col, len(self.board.stages) - visible))
        per = self._per_page()
        for stage in self.board.stages:
            row, top = self.rows.get(stage.id, 0), self.tops.get(stage.id, 0)
            if row < top:
                top = row
            elif row >= top + per:
                top = row - per + 1
            self.tops[stage.id] = max(0, top)

    def on_resize(self, _event: events.Resize) -> None:
        self._scroll_to_cursor()
        self.refresh()

    # -- actions --------------------------------------------------------------------------

    def action_cursor(self, dx: int, dy: int) -> None:
        if not self.board or not self.board.stages:
            return
        self.col = max(0, min(self.col + dx, len(self.board.stages) - 1))
        sid = self.board.stages[self.col].id
        n = len(self.board.cards.get(sid, ()))
        self.rows[sid] = max(0, min(self.rows.get(sid, 0) + dy, n - 1))
        if self.rows[sid] >= n - self._per_page() * 2 and self.board.has_more(sid):
            self.post_message(self.NeedMore(sid, n))
        self._scroll_to_cursor()
        self.refresh()

    def action_page(self, direction: int) -> None:
        self.action_cursor(0, direction * self._per_page())

    def action_edge(self, direction: int) -> None:
        self.action_cursor(0, direction * 10**9)

    def action_open(self) -> None:
        card = self.cursor_card
        if card is not None:
            self.post_message(self.Opened(card.id))

    def on_click(self, event: events.Click) -> None:
        if not self.board or not self.board.stages:
            return
        visible, width = self._layout()
        ci = self.first_col + event.x // (width + 1)
        if ci >= len(self.board.stages):
            return
        sid = self.board.stages[ci].id
        self.col = ci
        if event.y >= self.HEAD_H:
            row = self.tops.get(sid, 0) + (event.y - self.HEAD_H) // self.CARD_H
            if row < len(self.board.cards.get(sid, ())):
                opened = self.rows.get(sid) == row and event.chain >= 2
                self.rows[sid] = row
                if opened:
                    self.action_open()
        self._scroll_to_cursor()
        self.refresh()

    def _wheel(self, event: events.MouseEvent, step: int) -> None:
        if not self.board or not self.board.stages:
            return
        _visible, width = self._layout()
        ci = min(self.first_col + event.x // (width + 1), len(self.board.stages) - 1)
        sid = self.board.stages[ci].id
        n = len(self.board.cards.get(sid, ()))
        self.tops[sid] = max(0, min(self.tops.get(sid, 0) + step, max(0, n - self._per_page())))
        event.stop()
        self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, -1)

    # -- rendering ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not self.board or not self.board.stages:
            text = Text(" No stages in this pipeline." if self.board else " Loading…" if y == 0 else "")
            text.truncate(width, pad=True)
            return Strip(list(text.render(self.app.console)), width).apply_style(self.rich_style)
        visible, col_w = self._layout()
        console = self.app.console
        sep = self._cached(("sep",), lambda: Text("│", style=self._style("kanban--sep", False)))
        segments: list[Segment] = []
        last = min(len(self.board.stages), self.first_col + visible)
        for ci in range(self.first_col, last):
            if ci > self.first_col:
                segments.extend(sep)
            if y < self.HEAD_H:
                cell = list(self._cell(ci, y, col_w, ci == self.first_col, ci == last - 1).render(console))
            else:
                cell = self._card_cell(ci, y, col_w)
            segments.extend(cell)
        base = self._styles.get(("__base__", False))
        if base is None:
            base = self._styles[("__base__", False)] = self.rich_style
        return Strip(segments).adjust_cell_length(width).apply_style(base)

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Text]) -> list[Segment]:
        """Rendered segments of a cell, cached: a card's lines are drawn once per board/theme/focus."""
        cell = self._lines.get(key)
        if cell is None:
            if len(self._lines) > 20_000:
                self._lines.clear()
            cell = self._lines[key] = list(make().render(self.app.console))
        return cell

    def _card_cell(self, ci: int, y: int, w: int) -> list[Segment]:
        board = self.board
        assert board is not None  # drawn by render_line only once a board is shown
        stage = board.stages[ci]
        cards = board.cards.get(stage.id, [])
        index, part = divmod(y - self.HEAD_H, self.CARD_H)
        index += self.tops.get(stage.id, 0)
        if index >= len(cards) or part == self.CARD_H - 1:
            return self._cached(
                ("blank", w, index == 0 and part == 0 and not cards), lambda: self._cell(ci, y, w, False, False)
            )
        on_cursor = ci == self.col and index == self.rows.get(stage.id, 0)
        card = cards[index]
        ago = (self.now - card.closed_at).days if part == 2 and card.closed_at else 0  # "3d ago" moves with now
        return self._cached((card, part, w, on_cursor, ago, self.me), lambda: self._cell(ci, y, w, False, False))

    def _style(self, name: str, partial: bool = True) -> Style:
        """Component styles, cached until the styles change (theme, focus)."""
        key = (name, partial)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self.get_component_rich_style(name, partial=partial)
        return style

    def notify_style_update(self) -> None:
        self._styles, self._lines = {}, {}
        super().notify_style_update()

    def on_focus(self) -> None:
        self._styles, self._lines = {}, {}
        self.refresh()

    def on_blur(self) -> None:
        self._styles, self._lines = {}, {}
        self.refresh()

    def _cell(self, ci: int, y: int, w: int, first: bool, last: bool) -> Text:
        board = self.board
        assert board is not None  # drawn by render_line only once a board is shown
        stage = board.stages[ci]
        head = board.headers.get(stage.id)
        cards = board.cards.get(stage.id, [])
        if y == 0:
            more_left = "◀ " if first and self.first_col > 0 else ""
            more_right = " ▶" if last and ci < len(board.stages) - 1 else ""
            name = Text(more_left + safe(stage.name), style=self._style("kanban--header", False))
            count = f" {head.count if head else 0}{more_right}"
            goal = board.stage_goals.get(stage.id)
            if goal:  # a "deals advanced into this stage" goal: this period's count of its target
                count = f" ◎{goal}{count}"
            return self._fit(name, w, right=count, right_style=self._style("kanban--header", False))
        if y == 1:
            style = self._style("kanban--sub", False)
            value = short_money(head.value_cents if head else 0)
            if stage.outcome == "open":
                label = f"Σ{value} w{short_money(head.weighted_cents if head else 0)}"
            else:
                label = f"Σ{value} last {board.closed_days}d"
            return self._fit(Text(label, style=style), w)
        if y == 2:
            return Text("─" * w, style=self._style("kanban--rule"))
        index, part = divmod(y - self.HEAD_H, self.CARD_H)
        index += self.tops.get(stage.id, 0)
        if index >= len(cards):
            if index == 0 and part == 0 and not cards:
                return self._fit(Text(" no deals", style=self._style("kanban--muted")), w)
            return Text(" " * w)
        card = cards[index]
        on_cursor = ci == self.col and index == self.rows.get(stage.id, 0) and part < self.CARD_H - 1
        text = self._card_line(card, stage.outcome, part, w)
        if on_cursor:
            cursor = self._style("kanban--cursor", False)
            text.stylize_before(Style(bgcolor=cursor.bgcolor))
        return text

    def _card_line(self, card: Card, outcome: str, part: int, w: int) -> Text:
        if part == 0:
            title = Text(" " + safe(card.title), style=self._style("kanban--title"))
            if self.me is not None and card.owner and card.owner != self.me:  # theirs: say whose
                return self._fit(title, w, right=" @" + safe(card.owner)[:10], right_style=self._style("kanban--muted"))
            return self._fit(title, w)
        if part == 1:
            customer = Text(" " + (safe(card.customer) or "—"), style=self._style("kanban--muted"))
            tag = CATEGORY_TAGS.get(card.category, "")  # pipeline, the default, goes unsaid
            return self._fit(customer, w, right=tag, right_style=self._style("kanban--category") if tag else None)
        if part == 2:
            home = self.board.currency if self.board else card.currency
            amount = Text(" " + money_text(card.amount_cents, card.currency if card.currency != home else ""))
            if outcome == "open":
                days = f" {card.days_in_stage}d"
                style = {1: "kanban--rotting", 2: "kanban--rotten"}.get(card.rot)
                return self._fit(amount, w, right=days, right_style=self._style(style) if style else None)
            closed_days = (self.now - card.closed_at).days if card.closed_at else 0
            return self._fit(
                amount,
                w,
                right=f" {closed_days}d ago",
                right_style=self._style("kanban--won" if outcome == "won" else "kanban--lost"),
            )
        if part == 3:
            if outcome != "open":
                return Text(" " * w)
            if card.next_task:
                return self._fit(Text(" ▸ " + safe(card.next_task), style=self._style("kanban--muted")), w)
            return self._fit(Text(" ⚠ no next task", style=self._style("kanban--rotting")), w)
        return Text(" " * w)

    @staticmethod
    def _fit(left: Text, w: int, *, right: str = "", right_style: Style | None = None) -> Text:
        """``left`` truncated with … so that ``right`` fits at the right edge; exactly ``w`` cells."""
        right_text = Text(right, style=right_style or "")
        room = max(0, w - right_text.cell_len)
        left = left.copy()
        left.truncate(room, overflow="ellipsis", pad=True)
        left.append_text(right_text)
        left.truncate(w, overflow="ellipsis", pad=True)
        return left
