"""One deal: its fields, product lines, tasks, timeline (activities, notes, stage changes and orders, newest
first, filtered by kind with ``f``) and the History of every change to it.

Opened from the board, a task or the palette, on top of the screen the rep was on (escape goes
back there). Everything is read by one worker, which posts it back; it is read again whenever a
watched table changes, in this session or another. Win, lose and reopen carry the version of
the deal shown: a deal another session changed meanwhile is refused, not overwritten.

The whole deal is worked from here: its product lines (``l``, the order form's lines editor;
the amount follows them unless the rep typed one by hand), a move into another pipeline
(``p``: a pipeline, then one of its open stages), and a delete (``d``, asked first; ``ctrl+z``
brings it back).
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from crm_tui.models import CATEGORY_LABELS, category_of
from crm_tui.queries.history import HistoryItem, history
from crm_tui.queries.order_types import DraftLine, ProductChoice
from crm_tui.queries.pipeline import DealDetail, find_customers, list_pipelines, load_deal, open_stages
from crm_tui.queries.timeline import TimelineItem, timeline
from crm_tui.textnorm import money_text
from crm_tui.tui.history_view import history_text
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.activity_form import ActivityFormScreen
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.deal_form import CustomerSuggester, DealFormScreen
from crm_tui.tui.modals.deal_lines_form import DealLinesFormScreen
from crm_tui.tui.modals.lose_reason import LoseReasonScreen
from crm_tui.tui.modals.note_form import NoteForm
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.tui.modals.task_form import TaskFormScreen
from crm_tui.tui.order_actions import open_new_order_form
from crm_tui.tui.savers import activity_saver, deal_values, task_saver, won_message
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.timeline import Timeline


def local(at: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone().strftime(fmt) if at else "—"


def lines_table(detail: DealDetail) -> Table | Text:
    """The deal's product lines: product, quantity, unit price, line total, and their sum."""
    count = len(detail.lines)
    if not count:
        return Text.assemble(("Product lines\n", "bold"), ("none — l adds products (market demand counts them)", "dim"))
    table = Table(
        title=f"Product lines ({count})",
        title_justify="left",
        title_style="bold",
        box=None,
        padding=(0, 1),
        show_footer=True,
        expand=False,
    )
    table.add_column("Product", footer="Total", footer_style="bold", overflow="ellipsis", max_width=40)
    table.add_column("Qty", justify="right")  # quantities of different products do not add up
    table.add_column("Unit price", justify="right")
    table.add_column("Line total", justify="right", footer=money_text(detail.lines_total), footer_style="bold")
    for line in detail.lines:
        table.add_row(
            Text(safe(line.product)),
            str(line.quantity),
            money_text(line.unit_price_cents),
            money_text(line.total_cents),
        )
    return table


def theirs_mark(login: str | None, owner: str | None) -> str:
    """On a team's server (``login`` set), the words beside another rep's deal's owner: it is
    theirs, and the server lets only them or a manager change it. Nothing elsewhere."""
    if not login or owner == login:
        return ""
    return "   theirs: only they or a manager can change it"


class DealDetailScreen(CrmScreen):
    CSS_PATH = "deal_detail.tcss"
    WATCHES = frozenset(
        {
            "deal",
            "deal_product",
            "product",
            "pipeline",
            "stage_change",
            "task",
            "note",
            "customer",
            "stage",
            "journal",
            "sales_order",
            "order_line",
        }
    )
    BINDINGS = [
        Binding("escape", "back", "Back", id="deal.back", tooltip="Back to where you came from"),
        Binding("e", "edit", "Edit", id="deal.edit", tooltip="Edit the deal's fields"),
        Binding(
            "l",
            "lines",
            "Lines",
            id="deal.lines",
            tooltip="Edit the deal's product lines (the amount follows them unless typed by hand)",
        ),
        Binding("n", "note", "Note", id="deal.note", tooltip="Add a note to the deal"),
        Binding("N", "notes", "Notes", show=False, id="deal.notes", tooltip="The deal's notes: edit or delete one"),
        Binding("t", "task", "Task", id="deal.task", tooltip="Add a task for this deal"),
        Binding("a", "log", "Log", id="deal.log", tooltip="Log a call, email or meeting: outcome, note, next step"),
        Binding("w", "win", "Win", id="deal.win", tooltip="Mark this deal won"),
        Binding("x", "lose", "Lose", id="deal.lose", tooltip="Mark this deal lost (asks why)"),
        Binding("r", "reopen", "Reopen", id="deal.reopen", tooltip="Reopen this won or lost deal"),
        Binding("c", "customer", "Customer", id="deal.customer", tooltip="Open the deal's customer"),
        Binding("o", "new_order", "Order", id="deal.order", tooltip="New order from this won deal (its product lines)"),
        Binding(
            "p",
            "move_pipeline",
            "Pipeline",
            id="deal.pipeline",
            tooltip="Move this open deal to another pipeline (pick the pipeline, then its stage)",
        ),
        Binding(
            "d", "delete", "Delete", id="deal.delete", tooltip="Delete this deal (asks first; ctrl+z brings it back)"
        ),
        Binding(
            "F",
            "forecast_category",
            "Forecast",
            show=False,
            id="deal.forecast_category",
            tooltip="Forecast category of this open deal: pipeline → best case → commit",
        ),
        Binding(
            "f",
            "timeline_filter",
            "Filter",
            id="deal.timeline_filter",
            tooltip="Timeline: show only activities, notes, stage changes or orders (again: the next; then all)",
        ),
    ]

    class Loaded(Message):
        def __init__(
            self,
            detail: DealDetail | None,
            changes: list[HistoryItem],
            items: list[TimelineItem],
            kinds: tuple[str, ...] | None,
        ) -> None:
            super().__init__()
            self.detail = detail
            self.changes = changes
            self.items = items
            self.kinds = kinds  # the timeline filter these items were read for

    def __init__(self, deal_id: int) -> None:
        super().__init__()
        self.deal_id = deal_id
        #: the timeline's filter (None: every kind), what the next read asks for
        self.kinds: tuple[str, ...] | None = None
        self.detail: DealDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="deal-body"):
            yield Static("Loading…", id="deal-head")
            yield Static(id="deal-lines", classes="deal-box")
            with Horizontal(id="deal-columns"):
                yield Static(id="deal-tasks", classes="deal-box")
                yield Timeline(id="deal-timeline", empty="Nothing yet — a logs a call, n adds a note")
            yield Static(id="deal-changes", classes="deal-box")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#deal-body").focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 110, "-wide")

    def reload(self) -> None:
        self._load(self.deal_id, self.kinds)

    @work(thread=True, exclusive=True, group="deal-load", exit_on_error=False)
    def _load(self, deal_id: int, kinds: tuple[str, ...] | None) -> None:
        db = self.app.db
        assert db is not None  # screens reload once the database is open (CrmScreen.on_mount)
        detail = load_deal(db, deal_id)
        changes = history(db, deal_id=deal_id, limit=30) if detail is not None else []
        items = timeline(db, deal_id=deal_id, kinds=kinds) if detail is not None else []
        self.post_message(self.Loaded(detail, changes, items, kinds))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self._show(event.detail, event.changes)
        board = self.query_one(Timeline)
        if event.kinds == self.kinds:  # else a read for the filter before: the next one is coming
            board.show(event.items if event.detail is not None else [])

    @on(Timeline.FilterChanged)
    def _filter_changed(self, event: Timeline.FilterChanged) -> None:
        self.kinds = event.timeline.kinds
        self.reload()

    def action_timeline_filter(self) -> None:
        self.query_one(Timeline).cycle()

    def _show(self, detail: DealDetail | None, changes: list[HistoryItem]) -> None:
        self.detail = detail
        self.refresh_bindings()
        if detail is None:
            self.query_one("#deal-head", Static).update(
                Text("This deal no longer exists (it was deleted; ctrl+z brings back your own delete).")
            )
            for box in self.query(".deal-box").results(Static):
                box.update("")
            return
        d = detail.deal
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim")
        head.add_column()
        title = Text(safe(d.title), style="bold")
        title.append(f"   {safe(detail.stage)}", style="bold reverse" if detail.outcome != "open" else "bold")
        head.add_row("Deal", title)
        head.add_row("Customer", Text(safe(detail.customer) or "—"))
        amount = Text(money_text(d.amount_cents, d.currency))
        if detail.amount_by_hand:
            amount.append(f"   amount set by hand (lines total {money_text(detail.lines_total)})", style="italic")
        head.add_row("Amount", amount)
        prob = f"{detail.probability}%" + ("" if d.probability is not None else " (stage default)")
        head.add_row("Probability", Text(prob))
        if detail.outcome == "open":
            category = category_of(d.forecast_category, detail.probability)
            how = "your call" if d.forecast_category else "from its probability"
            head.add_row("Forecast", Text(f"{CATEGORY_LABELS[category]} ({how}; F changes it)"))
        head.add_row(
            "Pipeline", Text(f"{safe(detail.pipeline)} · {safe(detail.stage)} since {local(d.stage_entered_at)}")
        )
        owner = Text(safe(d.owner) or "—")
        db = self.app.db
        owner.append(theirs_mark(db.login if db is not None else None, d.owner), style="italic")
        head.add_row("Owner", owner)
        head.add_row("Expected close", Text(d.expected_close.isoformat() if d.expected_close else "—"))
        head.add_row("Created", Text(local(d.created_at)))
        if d.closed_at:
            head.add_row("Closed", Text(local(d.closed_at)))
        if d.lost_reason:
            head.add_row("Lost because", Text(safe(d.lost_reason)))
        self.query_one("#deal-head", Static).update(head)
        self.query_one("#deal-lines", Static).update(lines_table(detail))

        tasks = Text.assemble(("Tasks\n", "bold"))
        for t in detail.tasks:
            tasks.append("✓ " if t.done_at else "☐ ", style="bold")
            tasks.append(safe(t.subject), style="dim" if t.done_at else "")
            tasks.append(f"  {t.kind} · due {local(t.due_at)}\n", style="dim")
        for t in detail.cancelled:
            tasks.append("✗ ", style="dim")
            tasks.append(safe(t.subject), style="dim strike")
            tasks.append("  cancelled when the deal closed\n", style="dim")
        if not detail.tasks and not detail.cancelled:
            tasks.append("none — t adds one\n", style="dim")
        self.query_one("#deal-tasks", Static).update(tasks)

        changed = Text.assemble(("History\n", "bold"))
        changed.append_text(history_text(changes))
        self.query_one("#deal-changes", Static).update(changed)

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Win and lose only on an open deal, reopen only on a closed one, an order only from a
        won one with a customer (hidden otherwise)."""
        if action in ("win", "lose", "reopen", "new_order"):
            if self.detail is None:
                return None  # shown, dimmed, until the deal is read
            if action == "new_order":
                return self.detail.outcome == "won" and self.detail.deal.customer_id is not None
            is_open = self.detail.outcome == "open"
            return is_open if action != "reopen" else not is_open
        return True

    def _ready(self) -> bool:
        return self.detail is not None and self.app.services is not None

    def action_note(self) -> None:
        if not self._ready():
            return
        services, deal_id = self.app.services, self.deal_id
        assert self.detail is not None and services is not None
        form = NoteForm(
            f"'{self.detail.deal.title}'", lambda values: services.add_note(values["note"], deal_id=deal_id)
        )
        self.app.push_screen(form, self.said_when_saved("Note added"))

    def action_notes(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        db, deal_id, title = self.app.db, self.deal_id, self.detail.deal.title
        assert db is not None  # _ready: the services and the database open together

        def read() -> None:
            from crm_tui.queries.customer_detail import deal_notes
            from crm_tui.tui.note_actions import open_notes

            notes = deal_notes(db, deal_id)
            self.app.call_from_thread(open_notes, self, title, notes)

        self.run_worker(read, thread=True, exclusive=True, group="deal-notes", exit_on_error=False)

    def action_edit(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        d, db, services, deal_id = self.detail.deal, self.app.db, self.app.services, self.deal_id
        assert db is not None and services is not None  # open once services are (_ready)
        values = {
            "title": d.title,
            "customer": self.detail.customer,
            "amount": money_text(d.amount_cents).replace(",", ""),
            "currency": d.currency,
            "owner": d.owner,
            "expected_close": d.expected_close.isoformat() if d.expected_close else "",
            "probability": "" if d.probability is None else str(d.probability),
        }

        def save(form: dict[str, Any], version: int) -> Any:
            return services.update_deal(deal_id, expected_version=version, **deal_values(db, form))

        form = DealFormScreen(
            "Edit deal",
            save,
            values=values,
            version=d.version,
            suggesters={"customer": CustomerSuggester(partial(find_customers, db, limit=1))},
            customer_id=d.customer_id,
        )
        self.app.push_screen(form, self.said_when_saved("Deal saved"))

    def action_task(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        save = task_saver(self.app, deal_id=self.deal_id)
        values = {"owner": self.app.user or "", "customer": self.detail.customer}
        self.app.push_screen(
            TaskFormScreen(f"New task for '{safe(self.detail.deal.title)}'", save, values=values),
            self.said_when_saved("Task added"),
        )

    def action_log(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        form = ActivityFormScreen(
            f"Log an activity on '{self.detail.deal.title}'",
            activity_saver(self.app, deal_id=self.deal_id),
            values={"kind": "call", "outcome": "reached"},
        )
        self.app.push_screen(form, self.said_when_saved("Activity logged (ctrl+z takes it back)"))

    def _close(self, call: Any, success: Any) -> None:
        self.run_service(call, success=success)

    def action_win(self) -> None:
        if self._ready():
            assert self.detail is not None
            services, deal, deal_id = self.app.services, self.detail.deal, self.deal_id
            assert services is not None
            self._close(
                lambda: services.win_deal(deal_id, expected_version=deal.version),
                won_message,
            )

    def action_forecast_category(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        services, deal, detail = self.app.services, self.detail.deal, self.detail
        assert services is not None
        if detail.outcome != "open":
            self.app.notify(f"This deal is {detail.outcome}: its forecast category is its outcome", timeout=4)
            return
        self.run_service(
            lambda: services.next_forecast_category(deal.id or 0),
            success=lambda d: f"'{safe(d.title)}' is {CATEGORY_LABELS[d.forecast_category]} in the forecast",
        )

    def action_lose(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        services, deal, deal_id = self.app.services, self.detail.deal, self.deal_id
        assert services is not None

        def chosen(reason: str | None) -> None:
            if reason:
                self._close(
                    lambda: services.lose_deal(deal_id, reason, expected_version=deal.version),
                    f"Lost '{safe(deal.title)}'",
                )

        self.app.push_screen(LoseReasonScreen(deal.title, won=self.detail.outcome == "won"), chosen)

    def action_reopen(self) -> None:
        if self._ready():
            assert self.detail is not None
            services, deal, deal_id = self.app.services, self.detail.deal, self.deal_id
            assert services is not None
            self._close(
                lambda: services.reopen_deal(deal_id, expected_version=deal.version),
                lambda r: f"Reopened '{safe(deal.title)}' in {safe(r.to_stage.name)}",
            )

    def action_customer(self) -> None:
        if self.detail and self.detail.deal.customer_id:
            self.app.open_customer(self.detail.deal.customer_id)
        else:
            self.notify("This deal has no customer", severity="warning", timeout=3)

    def action_new_order(self) -> None:
        detail = self.detail
        if detail is None or detail.deal.customer_id is None or detail.outcome != "won":
            return
        deal = (self.deal_id, detail.deal.title)
        open_new_order_form(self, detail.deal.customer_id, detail.customer, deal=deal)

    # -- product lines, another pipeline, delete ------------------------------------------------

    def action_lines(self) -> None:
        """Read the catalogue in a worker, then open the lines form on the deal's lines."""
        if not self._ready():
            return
        assert self.detail is not None
        db, services, detail, deal_id = self.app.db, self.app.services, self.detail, self.deal_id
        assert db is not None and services is not None

        def read() -> None:
            from crm_tui.queries.orders import product_choices

            products = product_choices(db, keep_names={line.product for line in detail.lines})
            self.app.call_from_thread(show, products)

        def save(values: dict[str, Any], version: int) -> Any:
            return services.set_deal_lines(deal_id, values["lines"], expected_version=version)

        def show(products: list[ProductChoice]) -> None:
            lines = [DraftLine(x.product, x.quantity, x.unit_price_cents) for x in detail.lines]
            form = DealLinesFormScreen(
                f"Product lines of '{detail.deal.title}'",
                save,
                products=products,
                lines=lines,
                version=detail.deal.version,
            )
            self.app.push_screen(form, self._lines_saved)

        self.run_worker(read, thread=True, exclusive=True, group="deal-lines", exit_on_error=False)

    def _lines_saved(self, result: Any) -> None:
        if result is None:
            return
        total = money_text(result.total_cents)
        if not result.changed:
            said = "The lines are as they were"
        elif result.followed:
            said = f"Lines saved — the amount follows them: {total} (ctrl+z takes it back)"
        else:
            amount = money_text(result.deal.amount_cents)
            said = f"Lines saved (total {total}) — the amount {amount} was set by hand and stays (ctrl+z takes it back)"
        self.app.notify(said, timeout=4, markup=False)

    def action_move_pipeline(self) -> None:
        """Pick another pipeline, then one of its open stages; the move is a stage change."""
        if not self._ready():
            return
        assert self.detail is not None
        detail, db = self.detail, self.app.db
        assert db is not None
        if detail.outcome != "open":
            self.notify(
                f"'{detail.deal.title}' is {detail.outcome}; only an open deal moves to another pipeline "
                "(reopen it first with r)",
                severity="warning",
                timeout=5,
                markup=False,
            )
            return

        names: dict[int, str] = {}

        def read() -> None:
            others = [p for p in list_pipelines(db) if p.id != detail.deal.pipeline_id]
            names.update((p.id, p.name) for p in others)
            self.app.call_from_thread(pick_pipeline, [(p.name, p.id) for p in others])

        def pick_pipeline(choices: list[tuple[str, int]]) -> None:
            if not choices:
                self.notify("There is no other pipeline to move it to (add one on the Funnel screen)", timeout=4)
                return
            self.app.push_screen(PickScreen("Move the deal to pipeline", choices), picked_pipeline)

        def picked_pipeline(pipeline_id: int | None) -> None:
            if pipeline_id is not None:
                self.run_worker(
                    partial(read_stages, pipeline_id),
                    thread=True,
                    exclusive=True,
                    group="deal-move",
                    exit_on_error=False,
                )

        def read_stages(pipeline_id: int) -> None:
            stages = open_stages(db, pipeline_id)
            self.app.call_from_thread(pick_stage, pipeline_id, stages)

        def pick_stage(pipeline_id: int, stages: list[tuple[int, str]]) -> None:
            if not stages:
                self.notify("That pipeline has no open stage to move the deal into", severity="warning", timeout=4)
                return
            choices = [(name, sid) for sid, name in stages]
            title = f"Into which stage of {names.get(pipeline_id, 'the pipeline')}?"
            self.app.push_screen(PickScreen(title, choices), partial(move, names.get(pipeline_id, "")))

        def move(pipeline: str, stage_id: int | None) -> None:
            services, version, deal_id = self.app.services, detail.deal.version, self.deal_id
            if stage_id is None or services is None:
                return
            self.run_service(
                lambda: services.move_deal_to_pipeline(deal_id, stage_id, expected_version=version),
                success=lambda r: (
                    f"Moved '{safe(r.deal.title)}' to {safe(pipeline)} · {safe(r.to_stage.name)} (ctrl+z takes it back)"
                ),
            )

        self.run_worker(read, thread=True, exclusive=True, group="deal-move", exit_on_error=False)

    def action_delete(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None
        services, deal, deal_id = self.app.services, self.detail.deal, self.deal_id
        assert services is not None
        tasks = len(self.detail.tasks)
        detail = (
            f"{money_text(deal.amount_cents, deal.currency)} · {tasks} task{'s' if tasks != 1 else ''}. "
            "It leaves the board, the lists and every figure; ctrl+z brings it back."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_service(
                    lambda: services.delete_deal(deal_id),
                    success=f"Deleted '{safe(deal.title)}' (ctrl+z brings it back)",
                )

        self.app.push_screen(
            ConfirmScreen(f"Delete the deal '{deal.title}'?", detail, confirm_label="Delete", cancel_label="Keep it"),
            answered,
        )
