"""The Tasks screen: Overdue / Today / Upcoming / Done, one line per task.

The list is a line-API widget: only visible lines are drawn, so thousands of
tasks scroll as fast as ten. Grouping rules live in crm_tui.queries.tasks.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from crm_tui.dates import moment_text
from crm_tui.queries.pipeline import find_customers
from crm_tui.queries.tasks import (
    NO_NEXT_STEP,
    ORDER,
    ROTTING,
    TaskQueue,
    TaskRow,
    deal_without_next_step,
    load_tasks,
    relative_due,
)
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.activity_form import ACTIVITY_KINDS, ActivityFormScreen
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.deal_form import CustomerSuggester
from crm_tui.tui.modals.snooze import SnoozeScreen
from crm_tui.tui.modals.task_form import PRIORITIES, TaskFormScreen
from crm_tui.tui.savers import activity_saver, task_saver
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.mode_bar import ModeBar

KINDS = {"call": "☎ call", "email": "✉ email", "meeting": "◷ meet", "todo": "☐ todo"}


class TaskList(Widget, can_focus=True):
    COMPONENT_CLASSES = {
        "tasks--group",
        "tasks--cursor",
        "tasks--muted",
        "tasks--overdue",
        "tasks--urgent",
        "tasks--high",
        "tasks--done",
    }
    # its styles are in tasks.tcss, read once at start-up: a DEFAULT_CSS would make Textual parse
    # every stylesheet again on the first switch to Tasks (~0.2 s)
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False, id="tasks.up", tooltip="Previous task"),
        Binding("down,j", "move(1)", "Down", show=False, id="tasks.down", tooltip="Next task"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="tasks.pageup", tooltip="A page up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="tasks.pagedown", tooltip="A page down"),
        Binding("home,g", "move(-1000000000)", "First", show=False, id="tasks.first", tooltip="First task"),
        Binding("end,G", "move(1000000000)", "Last", show=False, id="tasks.last", tooltip="Last task"),
    ]

    class Opened(Message):
        def __init__(self, row: TaskRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[tuple[str, int] | TaskRow] = []  # ("Overdue", 3) headers and task rows
        self.cursor = 0
        self.top = 0
        self.now = dt.datetime.now(dt.UTC)
        self.show_owner = True  # off while the list is one owner's: the column would repeat one name
        #: drawn lines, by what they depend on: a key redraws the two lines the cursor left and
        #: entered, not the whole list (a task line costs ~0.5 ms to lay out)
        self._strips: dict[tuple[int, bool, int, bool, str], Strip] = {}

    def set_queue(
        self,
        queue: TaskQueue,
        now: dt.datetime,
        *,
        follow: bool = True,
        top: bool = False,
        counts: dict[str, int] | None = None,
    ) -> None:
        """Show ``queue``. The cursor stays on its task (``follow``), or — after the rep completed
        or snoozed it and the task moved to another group — at the same place, on the task that
        took its place; ``top`` starts again at the first task, headers in view. ``counts``: the
        groups' sizes when ``queue`` holds only their first rows (the top of the day, read first)."""
        current = self.current
        self.now = now
        self.lines = []
        self._strips.clear()
        for group in ORDER:
            if group not in queue.groups:
                continue
            rows = queue.groups[group]
            self.lines.append((group, counts.get(group, len(rows)) if counts else len(rows)))
            self.lines.extend(rows)
        if top:
            self.cursor = self.top = 0
            self._settle(1)
            return
        index = None
        if follow and current is not None:
            index = next((i for i, r in enumerate(self.lines) if isinstance(r, TaskRow) and r.key == current.key), None)
        self.cursor = index if index is not None else min(self.cursor, len(self.lines) - 1)
        self._settle(1)

    @property
    def current(self) -> TaskRow | None:
        row = self.lines[self.cursor] if 0 <= self.cursor < len(self.lines) else None
        return row if isinstance(row, TaskRow) else None

    def _settle(self, direction: int) -> None:
        """Put the cursor on a task line (skipping headers) and scroll it into view."""
        n = len(self.lines)
        self.cursor = max(0, min(self.cursor, n - 1))
        i = self.cursor
        while 0 <= i < n and not isinstance(self.lines[i], TaskRow):
            i += direction
        if not 0 <= i < n:
            i = self.cursor
            while 0 <= i < n and not isinstance(self.lines[i], TaskRow):
                i -= direction
        self.cursor = max(0, min(i, n - 1))
        height = max(1, self.size.height)
        if self.cursor < self.top + 1:
            self.top = max(0, self.cursor - 1)  # keep the group header in sight when possible
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        self.refresh()

    def action_move(self, step: int) -> None:
        self.cursor += step
        self._settle(1 if step > 0 else -1)

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 1))

    def on_click(self, event: events.Click) -> None:
        index = self.top + event.y
        row = self.lines[index] if 0 <= index < len(self.lines) else None
        if isinstance(row, TaskRow):
            if index == self.cursor and event.chain >= 2:
                self.post_message(self.Opened(row))
            self.cursor = index
            self._settle(1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.top = max(0, min(self.top + 3, len(self.lines) - self.size.height))
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.top = max(0, self.top - 3)
        self.refresh()

    def on_resize(self, _event: events.Resize) -> None:
        self._settle(1)

    def render_line(self, y: int) -> Strip:
        index = self.top + y
        key = (index, index == self.cursor, self.size.width, self.has_focus, self.app.theme)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) >= 4096:
                self._strips.clear()
            strip = self._strips[key] = self._render_line(index)
        return strip

    def _render_line(self, index: int) -> Strip:
        width = self.size.width
        y = index - self.top
        if index >= len(self.lines):
            text = Text(" Loading…" if not self.lines and y == 0 else "")
        else:
            item = self.lines[index]
            if isinstance(item, TaskRow):
                text = self._task_line(item, width)
                if index == self.cursor:
                    text.stylize_before(Style(bgcolor=self.get_component_rich_style("tasks--cursor").bgcolor))
            else:
                group, count = item
                text = Text(f" {group} ({count})", style=self.get_component_rich_style("tasks--group"))
                if count == 0:
                    text.append("  nothing here", style=self.get_component_rich_style("tasks--muted", partial=True))
        text.truncate(width, overflow="ellipsis", pad=True)
        return Strip(list(text.render(self.app.console)), width).apply_style(self.rich_style)

    def _task_line(self, row: TaskRow, width: int) -> Text:
        st = partial(self.get_component_rich_style, partial=True)
        wide = width >= 110
        due_w = 32 if wide else 12
        owner_w, prio_w, kind_w = (10, 7, 8) if width >= 80 else (0, 3, 3)
        if not self.show_owner:
            owner_w = 0
        flex = max(10, width - due_w - owner_w - prio_w - kind_w - 7)
        subject_w = flex * 55 // 100
        who_w = flex - subject_w
        kind = ("✓ " + row.kind) if row.done_at else KINDS.get(row.kind, row.kind)
        if row.deal_item:
            kind = "⚑ deal"
            due = f"{row.days_in_stage}d in stage"
            if row.group == NO_NEXT_STEP:
                due = f"no next step · {due}" if wide else "no next step"
        elif row.done_at:
            due = "done " + moment_text(row.done_at, self.now, clock=False, weekday=False)
        else:
            due = relative_due(row.due_at, self.now)
            if wide and row.due_at:
                due = moment_text(row.due_at, self.now) + " · " + due
        who = safe(row.customer)
        if row.deal and not row.deal_item:
            who = f"{who} · {safe(row.deal)}" if who else safe(row.deal)
        prio = {3: "urgent", 2: "high", 0: "low"}.get(row.priority, "")
        line = Text(" ")
        line.append(self._cell(kind, kind_w, st("tasks--done") if row.done_at else None))
        line.append(" ")
        line.append(self._cell(safe(row.subject), subject_w, st("tasks--muted") if row.done_at else None))
        line.append(" ")
        line.append(self._cell(who or "—", who_w, st("tasks--muted")))
        line.append(" ")
        overdue = row.group in ("Overdue", ROTTING)
        line.append(self._cell(due, due_w, st("tasks--overdue") if overdue else st("tasks--muted")))
        if owner_w:
            line.append(" ")
            line.append(self._cell(safe(row.owner), owner_w, st("tasks--muted")))
        line.append(" ")
        style = {3: st("tasks--urgent"), 2: st("tasks--high")}.get(row.priority)
        line.append(self._cell(prio if prio_w > 3 else prio[:1].upper() + ("!" if prio else ""), prio_w, style))
        return line

    @staticmethod
    def _cell(value: str, w: int, style: Style | None) -> Text:
        cell = Text(value, style=style or "")
        cell.truncate(w, overflow="ellipsis", pad=True)
        return cell


class TasksScreen(CrmScreen):
    CSS_PATH = "tasks.tcss"
    WATCHES = frozenset({"task", "customer", "deal"})
    BINDINGS = [
        Binding("space", "complete", "Done", id="tasks.complete",
                tooltip="Complete the highlighted task (or reopen a done one)"),
        Binding("s", "snooze", "Snooze", id="tasks.snooze", tooltip="Push the due date: +1 day, +1 week or a date"),
        Binding("a", "log", "Log", id="tasks.log",
                tooltip="Log the call, email or meeting: its outcome, a note and the next step, in one go"),
        Binding("n", "new_task", "New", id="tasks.new", tooltip="Add a task"),
        Binding("e", "edit_task", "Edit", id="tasks.edit",
                tooltip="Edit the highlighted task: subject, kind, due, priority, owner, customer"),
        Binding("d", "delete_task", "Delete", id="tasks.delete", tooltip="Delete the highlighted task (asks first)"),
        Binding("enter", "open", "Open", id="tasks.open", tooltip="Go to the task's deal or customer"),
        Binding("m", "mine", "Mine", id="tasks.mine",
                tooltip="My day (my tasks, my deals without a next step, my rotting deals), or everyone's tasks"),
    ]  # fmt: skip

    #: only this owner's tasks and waiting deals — the rep's own day at first (None: everyone's tasks)
    owner: var[str | None] = var(None, init=False)

    class QueueLoaded(Message):
        def __init__(
            self, generation: int, queue: TaskQueue, now: dt.datetime, counts: dict[str, int] | None = None
        ) -> None:
            super().__init__()
            self.generation = generation
            self.queue = queue
            self.now = now
            self.counts = counts  # the top of the day only (its groups' sizes): the whole queue follows

    def __init__(self) -> None:
        super().__init__()
        self._generation = 0
        self._placing = "follow"  # how the next queue shown places the cursor: follow, stay, top
        self._owner_chosen = False  # the screen opens on the rep's day once the rep is known

    def compose(self) -> ComposeResult:
        yield ModeBar("tasks")
        yield Static(id="tasks-bar")
        yield TaskList(id="task-list")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(TaskList).focus()
        self._update_bar(None)

    def watch_owner(self) -> None:
        self._placing = "top"  # another list: start at its top, group headers in view
        self.reload()
        self._update_bar(None)

    def reload(self) -> None:
        if not self._owner_chosen and self.app.user:
            self._owner_chosen = True
            self.set_reactive(TasksScreen.owner, self.app.user)
            self._update_bar(None)
        if self.app.db is not None:
            self._generation += 1
            first = self._placing == "top" or not self.query_one(TaskList).lines
            self._load(self._generation, self.owner, first)

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False)
    def _load(self, generation: int, owner: str | None, first: bool = False) -> None:
        """The queue; with ``first`` (a list shown from its top), the top of the rep's day before it,
        which costs the same on any book while the whole queue grows with it."""
        db, now = self.app.db, self.app.clock()
        assert db is not None  # reload() starts this only once the database is open
        if first and owner:
            from crm_tui.queries.agenda import day_first_lines

            top, counts = day_first_lines(db, now=now, owner=owner)
            self.post_message(self.QueueLoaded(generation, top, now, counts))
        queue = load_tasks(db, now=now, owner=owner, deals=owner is not None)
        self.post_message(self.QueueLoaded(generation, queue, now))

    @on(QueueLoaded)
    def _show(self, event: QueueLoaded) -> None:
        if event.generation != self._generation:
            return
        placing, self._placing = self._placing, "follow"
        task_list = self.query_one(TaskList)
        task_list.show_owner = self.owner is None
        task_list.set_queue(
            event.queue, event.now, follow=placing == "follow", top=placing == "top", counts=event.counts
        )
        if event.counts is None:  # the bar counts the whole day's groups
            self._update_bar(event.queue)

    def _update_bar(self, queue: TaskQueue | None) -> None:
        mine = self.owner is not None and self.owner == self.app.user
        bar = Text("My day" if mine else "Tasks", style="bold")
        if queue is not None:
            c = queue.counts()
            bar.append(f"  {c['Overdue']} overdue · {c['Today']} today", style="dim")
            if NO_NEXT_STEP in c:
                waiting = c[NO_NEXT_STEP]
                bar.append(
                    f" · {waiting} deal{'' if waiting == 1 else 's'} without a next step · {c[ROTTING]} rotting",
                    style="dim",
                )
            else:
                bar.append(f" · {c['Upcoming']} upcoming", style="dim")
        bar.append("  owner: ")
        bar.append(safe(self.owner) if self.owner else "everyone", style="bold")
        bar.append("  (m: everyone)" if mine else "  (m: my day)", style="dim")
        self.query_one("#tasks-bar", Static).update(bar)

    def _row(self) -> TaskRow | None:
        task_list = self.query_one(TaskList)
        row = task_list.current if task_list.has_focus else None
        if row is None:
            self.notify("No task highlighted", severity="warning", timeout=3)
        return row

    def action_complete(self) -> None:
        row, services = self._row(), self.app.services
        if row is None or services is None:
            return
        if row.deal_item:  # a deal waiting on the rep: its next step is what "done" means here
            self._ask_next_step(row, row.deal)
            return
        self._placing = "stay"  # the cursor stays here, on the next task, not with this one in Done
        if row.done_at is not None:
            self.run_service(lambda: services.reopen_task(row.id), success=f"Reopened '{safe(row.subject)}'")
            return
        db = self.app.db
        assert db is not None  # the services exist only once the database is open

        def complete() -> str | None:
            services.complete_task(row.id)
            return deal_without_next_step(db, row.deal_id) if row.deal_id else None

        self.run_service(
            complete,
            done=lambda deal: self._ask_next_step(row, deal) if deal else None,
            success=f"Done: '{safe(row.subject)}' (ctrl+z reopens it)",
        )

    def _ask_next_step(self, row: TaskRow, deal: str) -> None:
        """Activity-based selling: an open deal whose last task was just done gets its next step
        here, or the rep skips it with escape."""
        assert row.deal_id is not None  # asked only for a task of a deal
        customer = (row.customer_id, row.customer) if row.customer_id else None
        form = TaskFormScreen(
            f"Next step for '{deal}'? (escape skips)",
            task_saver(self.app, deal_id=row.deal_id, customer=customer),
            values={
                "owner": row.owner or self.app.user or "",
                "priority": PRIORITIES[1],
                "kind": "call" if row.deal_item else row.kind,
                "customer": row.customer,
            },
        )
        self.app.push_screen(form, self.said_when_saved("Next step added"))

    def action_snooze(self) -> None:
        row, services = self._task_row(), self.app.services
        if row is None or services is None:
            return

        def chosen(choice: dict[str, Any] | None) -> None:
            if choice:
                self._placing = "stay"
                self.run_service(
                    lambda: services.snooze_task(row.id, **choice),
                    success=lambda t: f"Snoozed '{safe(row.subject)}' to {moment_text(t.due_at, self.app.clock())}",
                )

        self.app.push_screen(SnoozeScreen(row.subject), chosen)

    def action_log(self) -> None:
        row = self._row()
        if row is None or self.app.services is None:
            return
        if row.done_at is not None:
            self.notify(f"'{row.subject}' is done already; log on its deal or customer (enter opens it)",
                        severity="warning", timeout=4, markup=False)  # fmt: skip
            return
        if row.deal_item:
            title, save = f"Log an activity on '{row.deal}'", activity_saver(self.app, deal_id=row.id)
        else:
            title, save = f"Log '{row.subject}'", activity_saver(self.app, task_id=row.id)
        kind = row.kind if row.kind in ACTIVITY_KINDS else "call"
        self._placing = "stay"
        form = ActivityFormScreen(title, save, values={"kind": kind, "outcome": "reached"})
        self.app.push_screen(form, self.said_when_saved("Activity logged (ctrl+z takes it back)"))

    def action_new_task(self) -> None:
        db = self.app.db
        if self.app.services is None or db is None:  # both open together (CrmApp.DatabaseOpened)
            return
        suggest = CustomerSuggester(partial(find_customers, db, limit=1))
        form = TaskFormScreen(
            "New task",
            task_saver(self.app),
            values={"owner": self.app.user or "", "priority": PRIORITIES[1]},
            suggesters={"customer": suggest},
        )
        self.app.push_screen(form, self.said_when_saved("Task added"))

    def _task_row(self) -> TaskRow | None:
        """The highlighted task; a deal waiting on the rep is not one (said, and None)."""
        row = self._row()
        if row is not None and row.deal_item:
            self.notify(
                f"'{row.deal}' is a deal, not a task: space adds its next step, enter opens it",
                severity="warning",
                timeout=4,
                markup=False,
            )
            return None
        return row

    def action_edit_task(self) -> None:
        row, db = self._task_row(), self.app.db
        if row is None or db is None or self.app.services is None:
            return
        customer = (row.customer_id, row.customer) if row.customer_id else None
        values = {
            "subject": row.subject,
            "kind": row.kind,
            "due": row.due_at.astimezone().strftime("%Y-%m-%d %H:%M") if row.due_at else "",
            "priority": PRIORITIES[row.priority] if 0 <= row.priority < len(PRIORITIES) else PRIORITIES[1],
            "owner": row.owner,
            "customer": row.customer,
        }
        form = TaskFormScreen(
            f"Edit task '{row.subject}'",
            task_saver(self.app, deal_id=row.deal_id, customer=customer, task_id=row.id),
            values=values,
            suggesters={"customer": CustomerSuggester(partial(find_customers, db, limit=1))},
        )
        self.app.push_screen(form, self.said_when_saved("Task saved (ctrl+z takes it back)"))

    def action_delete_task(self) -> None:
        row, services = self._task_row(), self.app.services
        if row is None or services is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._placing = "stay"
                self.run_service(
                    lambda: services.delete_task(row.id),
                    success=f"Deleted '{safe(row.subject)}' (ctrl+z brings it back)",
                )

        self.app.push_screen(ConfirmScreen(f"Delete the task '{row.subject}'?"), answered)

    @on(TaskList.Opened)
    def _opened(self, event: TaskList.Opened) -> None:
        self._open(event.row)

    def action_open(self) -> None:
        row = self._row()
        if row is not None:
            self._open(row)

    def _open(self, row: TaskRow) -> None:
        if row.deal_id:
            self.app.open_deal(row.deal_id)
        elif row.customer_id:
            self.app.open_customer(row.customer_id)
        else:
            self.notify("This task has no customer or deal", severity="warning", timeout=3)

    def action_mine(self) -> None:
        self.owner = None if self.owner else (self.app.user or None)
