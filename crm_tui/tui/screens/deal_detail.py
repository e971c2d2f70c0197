"""One deal: its fields, stage history, tasks and notes; edit, note, task, reopen."""

from __future__ import annotations

import datetime as dt
from functools import partial

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from crm_tui.queries.pipeline import DealDetail, find_customers, load_deal
from crm_tui.textnorm import money_text
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.deal_form import CustomerSuggester, DealFormScreen
from crm_tui.tui.modals.lose_reason import LoseReasonScreen
from crm_tui.tui.savers import deal_values, task_saver
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar


def local(at: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone().strftime(fmt) if at else "—"


class DealDetailScreen(CrmScreen):
    CSS_PATH = "deal_detail.tcss"
    WATCHES = frozenset({"deal", "stage_change", "task", "note", "customer", "stage"})
    BINDINGS = [
        Binding("escape", "back", "Back", id="deal.back", tooltip="Back to the board"),
        Binding("e", "edit", "Edit", id="deal.edit", tooltip="Edit the deal's fields"),
        Binding("n", "note", "Note", id="deal.note", tooltip="Add a note to the deal"),
        Binding("t", "task", "Task", id="deal.task", tooltip="Add a task for this deal"),
        Binding("w", "win", "Win", id="deal.win", tooltip="Mark the deal won"),
        Binding("x", "lose", "Lose", id="deal.lose", tooltip="Mark the deal lost (asks why)"),
        Binding("r", "reopen", "Reopen", id="deal.reopen", tooltip="Reopen a won or lost deal"),
        Binding("c", "customer", "Customer", id="deal.customer", tooltip="Open the deal's customer"),
    ]

    def __init__(self, deal_id: int) -> None:
        super().__init__()
        self.deal_id = deal_id
        self.detail: DealDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="deal-body"):
            yield Static("Loading…", id="deal-head")
            with Horizontal(id="deal-columns"):
                yield Static(id="deal-history", classes="deal-box")
                yield Static(id="deal-tasks", classes="deal-box")
            yield Static(id="deal-notes", classes="deal-box")
        yield Input(placeholder="a: add a note — type and press enter", id="deal-note")
        yield KeyBar()

    def reload(self) -> None:
        self._load(self.deal_id)

    @work(thread=True, exclusive=True, group="deal-load", exit_on_error=False)
    def _load(self, deal_id: int) -> None:
        detail = load_deal(self.app.db, deal_id)
        self.app.call_from_thread(self._show, detail)

    def _show(self, detail: DealDetail | None) -> None:
        self.detail = detail
        if detail is None:
            self.query_one("#deal-head", Static).update(Text("This deal no longer exists (it was deleted)."))
            return
        d = detail.deal
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim")
        head.add_column()
        title = Text(safe(d.title), style="bold")
        title.append(f"   {detail.stage}", style="bold reverse" if detail.outcome != "open" else "bold")
        head.add_row("Deal", title)
        head.add_row("Customer", Text(safe(detail.customer) or "—"))
        head.add_row("Amount", Text(money_text(d.amount_cents, d.currency)))
        prob = f"{detail.probability}%" + ("" if d.probability is not None else " (stage default)")
        head.add_row("Probability", Text(prob))
        head.add_row(
            "Pipeline", Text(f"{safe(detail.pipeline)} · {safe(detail.stage)} since {local(d.stage_entered_at)}")
        )
        head.add_row("Owner", Text(safe(d.owner) or "—"))
        head.add_row("Expected close", Text(d.expected_close.isoformat() if d.expected_close else "—"))
        head.add_row("Created", Text(local(d.created_at)))
        if d.closed_at:
            head.add_row("Closed", Text(local(d.closed_at)))
        if d.lost_reason:
            head.add_row("Lost because", Text(safe(d.lost_reason)))
        self.query_one("#deal-head", Static).update(head)

        history = Text("Stage history\n", style="bold")
        for h in detail.history:
            history.append(f"{local(h.at)}  ", style="dim")
            history.append(f"{safe(h.from_stage)} → {safe(h.to_stage)}")
            history.append(f"  {safe(h.by)}\n" if h.by else "\n", style="dim")
        self.query_one("#deal-history", Static).update(history)

        tasks = Text("Tasks\n", style="bold")
        for t in detail.tasks:
            tasks.append("✓ " if t.done_at else "☐ ", style="bold")
            tasks.append(safe(t.subject), style="dim" if t.done_at else "")
            tasks.append(f"  {t.kind} · due {local(t.due_at)}\n", style="dim")
        if not detail.tasks:
            tasks.append("none — t adds one\n", style="dim")
        self.query_one("#deal-tasks", Static).update(tasks)

        notes = Text("Notes\n", style="bold")
        for n in detail.notes:
            notes.append(f"{local(n.at)}  {safe(n.author)}\n", style="dim")
            notes.append("\n".join(safe(line) for line in n.body.splitlines()) + "\n\n")
        if not detail.notes:
            notes.append("none — a adds one\n", style="dim")
        self.query_one("#deal-notes", Static).update(notes)

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        box = self.query_one("#deal-note", Input)
        if box.has_focus:
            box.value = ""
            self.query_one("#deal-body").focus()
        else:
            self.app.pop_screen()

    def action_note(self) -> None:
        self.query_one("#deal-note", Input).focus()

    @on(Input.Submitted, "#deal-note")
    def _add_note(self, event: Input.Submitted) -> None:
        body = event.value
        services = self.app.services
        if services is None:
            return

        def added(_note) -> None:
            event.input.value = ""

        self.run_service(lambda: services.add_note(body, deal_id=self.deal_id), done=added, success="Note added")

    def action_edit(self) -> None:
        if self.detail is None or self.app.services is None:
            return
        d, db, services = self.detail.deal, self.app.db, self.app.services
        values = {
            "title": d.title,
            "customer": self.detail.customer,
            "amount": money_text(d.amount_cents).replace(",", ""),
            "owner": d.owner,
            "expected_close": d.expected_close.isoformat() if d.expected_close else "",
            "probability": "" if d.probability is None else str(d.probability),
        }

        def save(form: dict, version: int):
            return services.update_deal(d.id, expected_version=version, **deal_values(db, form))

        form = DealFormScreen(
            "Edit deal",
            save,
            values=values,
            version=d.version,
            suggesters={"customer": CustomerSuggester(partial(find_customers, db, limit=1))},
        )
        self.app.push_screen(form, lambda r: r and self.app.notify("Deal saved", timeout=3))

    def action_task(self) -> None:
        if self.detail is None or self.app.services is None:
            return
        from crm_tui.tui.modals.task_form import TaskFormScreen

        save = task_saver(self.app, deal_id=self.deal_id)
        values = {"owner": self.app.user or "", "customer": self.detail.customer}
        self.app.push_screen(
            TaskFormScreen(f"New task for '{safe(self.detail.deal.title)}'", save, values=values),
            lambda r: r and self.app.notify("Task added", timeout=3),
        )

    def _move(self, call, label: str, success: str) -> None:
        services = self.app.services
        self.run_service(call, undo=lambda r: partial(services.undo_move, r), undo_label=label, success=success)

    def action_win(self) -> None:
        if self.detail and self.app.services:
            services, title = self.app.services, self.detail.deal.title
            self._move(lambda: services.win_deal(self.deal_id), f"win '{title}'", f"Won '{safe(title)}'")

    def action_lose(self) -> None:
        if not (self.detail and self.app.services):
            return
        services, title = self.app.services, self.detail.deal.title

        def chosen(reason: str | None) -> None:
            if reason:
                self._move(lambda: services.lose_deal(self.deal_id, reason), f"lose '{title}'", f"Lost '{safe(title)}'")

        self.app.push_screen(LoseReasonScreen(title), chosen)

    def action_reopen(self) -> None:
        if self.detail and self.app.services:
            services, title = self.app.services, self.detail.deal.title
            self._move(
                lambda: services.reopen_deal(self.deal_id),
                f"reopen '{title}'",
                lambda r: f"Reopened '{safe(title)}' in {safe(r.to_stage.name)}",
            )

    def action_customer(self) -> None:
        if self.detail and self.detail.deal.customer_id:
            self.app.open_customer(self.detail.deal.customer_id)
        else:
            self.notify("This deal has no customer", severity="warning", timeout=3)
