"""The Pipeline screen: a kanban board of one pipeline's deals.

One query loads every card and one aggregate the headers (crm_tui.queries.
pipeline.load_board) in a thread worker; on any change to deals, stages,
tasks or customers the board reloads and the cursor stays on the same deal.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from crm_tui.queries.pipeline import (
    CARDS_PER_COLUMN,
    Board,
    find_customers,
    list_owners,
    list_pipelines,
    load_board,
)
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.deal_form import CustomerSuggester, DealFormScreen
from crm_tui.tui.modals.lose_reason import LoseReasonScreen
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.tui.savers import deal_values
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.kanban import KanbanBoard
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.mode_bar import ModeBar


class PipelineScreen(CrmScreen):
    CSS_PATH = "pipeline.tcss"
    WATCHES = frozenset({"deal", "stage", "stage_change", "task", "customer", "pipeline"})
    BINDINGS = [
        Binding(
            "shift+left,H",
            "step(-1)",
            "◀Stage",
            key_display="H",
            id="pipeline.move_prev",
            tooltip="Move the deal to the previous stage",
        ),
        Binding(
            "shift+right,L",
            "step(1)",
            "Stage▶",
            key_display="L",
            id="pipeline.move_next",
            tooltip="Move the deal to the next stage",
        ),
        Binding("w", "win", "Win", id="pipeline.win", tooltip="Mark the deal won"),
        Binding("x", "lose", "Lose", id="pipeline.lose", tooltip="Mark the deal lost (asks why)"),
        Binding("n", "new_deal", "New", id="pipeline.new", tooltip="Add a deal to the first stage"),
        Binding(
            "slash", "filter", "Filter", id="pipeline.filter", tooltip="Show only deals whose title or customer matches"
        ),
        Binding("m", "mine", "Mine", id="pipeline.mine", tooltip="Toggle: only my deals"),
        Binding("o", "pick_owner", "Owner", show=False, id="pipeline.owner", tooltip="Show one owner's deals"),
        Binding("p", "pick_pipeline", "Pipeline", id="pipeline.switch", tooltip="Switch to another pipeline"),
    ]

    #: after a move of ours is patched in, the board waits this long for quiet before it
    #: re-reads every column: ten quick L presses cost one reload, not ten (other changes
    #: reload at once)
    RELOAD_AFTER_MOVE = 0.25

    def __init__(self) -> None:
        super().__init__()
        self.pipeline_id: int | None = None
        self.text = ""
        self.owner: str | None = None
        self._follow = True  # keep the cursor on the moved deal (not after win/lose)
        self.board: Board | None = None
        self.limits: dict[int, int] = {}  # stage id → cards to load (grows as the cursor nears the end)
        self._generation = 0  # of the latest reload: older boards are dropped when they arrive
        self._moves: set[Worker] = set()  # moves sent to the database and not finished yet
        self._deferred = False  # a change arrived meanwhile: reload once they are done
        self._reload_timer = None

    def compose(self) -> ComposeResult:
        yield ModeBar("pipeline")
        yield Static(id="pipeline-bar")
        yield Input(placeholder="filter by title or customer; enter keeps it, escape clears it", id="pipeline-filter")
        yield KanbanBoard(id="board")
        yield KeyBar()

    def on_mount(self) -> None:
        self._update_bar()
        self.query_one(KanbanBoard).focus()

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        if self.board is None and not (self.text or self.owner or self.limits or self.pipeline_id):
            ahead = self.app.take_prefetched("pipeline")  # read while the user was on another screen
            if ahead is not None:
                self._generation += 1
                self._show(self._generation, *ahead)
                return
        card = self.query_one(KanbanBoard).cursor_card
        self._generation += 1
        self._load(
            self._generation, self.pipeline_id, self.text, self.owner, dict(self.limits), card.id if card else None
        )

    def _on_data_changed(self, tables: frozenset[str]) -> None:
        if self._moves and self.is_current and tables & self.WATCHES:
            # most likely the move's own commit: the move patches the board, then reloads when quiet
            self._generation += 1  # boards being read now predate the move: drop them
            self._deferred = True
            return
        if self._reload_timer is not None and self.is_current and tables & self.WATCHES:
            self._reload_timer.stop()  # reloading now anyway
            self._reload_timer = None
        super()._on_data_changed(tables)

    def _reload_when_quiet(self) -> None:
        """One reload once moves have stopped for RELOAD_AFTER_MOVE seconds: the next task a move
        created, and whatever else changed meanwhile."""
        self._generation += 1  # boards being read now would undo the move just patched in
        self._deferred = False
        if self._reload_timer is not None:
            self._reload_timer.stop()
        self._reload_timer = self.set_timer(self.RELOAD_AFTER_MOVE, self._quiet_reload)

    def _quiet_reload(self) -> None:
        self._reload_timer = None
        if self._moves:  # another move is on its way: it reschedules, or reloads when it ends
            self._deferred = True
            return
        self.reload()

    @work(thread=True, exclusive=True, group="pipeline-load", exit_on_error=False)
    def _load(self, generation, pipeline_id, text, owner, limits, focus) -> None:
        now = self.app.clock()
        board = load_board(self.app.db, pipeline_id, now=now, text=text, owner=owner, limits=limits, focus=focus)
        self.app.call_from_thread(self._show, generation, board, now)

    @on(KanbanBoard.NeedMore)
    def _grow_column(self, event: KanbanBoard.NeedMore) -> None:
        wanted = event.loaded + CARDS_PER_COLUMN
        if self.limits.get(event.stage_id, CARDS_PER_COLUMN) < wanted:
            self.limits[event.stage_id] = wanted
            self.reload()

    def _show(self, generation: int, board: Board, now) -> None:
        if generation != self._generation:
            return  # a newer reload is on its way (e.g. one started before a move was patched in)
        widget = self.query_one(KanbanBoard)
        card = widget.cursor_card
        keep = card.id if card is not None and self._follow else None
        self._follow = True
        self.board = board
        self.pipeline_id = board.pipeline_id
        widget.set_board(board, now, keep)
        self._update_bar()

    def _update_bar(self) -> None:
        bar = Text()
        bar.append(safe(self.board.pipeline) if self.board else "Pipeline", style="bold")
        if self.board:
            open_n = sum(self.board.headers[s.id].count for s in self.board.stages if s.outcome == "open")
            bar.append(f"  {open_n:,} open deals", style="dim")
        if self.owner:
            bar.append("  owner: ")
            bar.append(safe(self.owner), style="bold")
        if self.text:
            bar.append("  filter: ")
            bar.append(repr(safe(self.text)), style="bold")
        self.query_one("#pipeline-bar", Static).update(bar)

    # -- the card under the cursor ------------------------------------------------------------

    def _card(self):
        card = self.query_one(KanbanBoard).cursor_card
        if card is None:
            self.notify("No deal here; move the cursor onto a card", severity="warning", timeout=3)
        return card

    @on(KanbanBoard.Opened)
    def _opened(self, event: KanbanBoard.Opened) -> None:
        self.app.open_deal(event.deal_id)

    def _undoable(self, call, label: str, success: str, *, follow: bool = True) -> None:
        services = self.app.services
        self._follow = follow
        self._moves.add(
            self.run_service(
                call,
                undo=lambda r: partial(services.undo_move, r),
                undo_label=label,
                success=success,
                done=partial(self._moved, follow),
            )
        )

    @on(Worker.StateChanged)
    def _move_ended(self, event: Worker.StateChanged) -> None:
        """However a move ended — patched in, refused, or failed — what waited for it reloads."""
        if event.worker in self._moves and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._moves.discard(event.worker)
            if self._deferred and not self._moves:
                self._deferred = False
                self.reload()

    def _moved(self, follow: bool, result) -> None:
        """A committed move: shift the card and both headers now; a reload confirms it once quiet."""
        self._reload_when_quiet()
        if self.board is None:
            return
        deal = result.deal
        if self.board.apply_move(
            deal.id,
            result.to_stage.id,
            amount_cents=deal.amount_cents,
            probability=deal.probability,
            at=self.app.clock(),
        ):
            self.query_one(KanbanBoard).set_board(self.board, self.app.clock(), deal.id if follow else None)
            self._update_bar()

    def action_step(self, step: int) -> None:
        card = self._card()
        if card is None or self.app.services is None:
            return
        services = self.app.services
        self._undoable(
            lambda: services.move_deal_step(card.id, step),
            f"move '{card.title}'",
            lambda r: f"Moved '{safe(r.deal.title)}' to {safe(r.to_stage.name)}",
        )

    def action_win(self) -> None:
        card = self._card()
        if card is None or self.app.services is None:
            return
        services = self.app.services
        self._undoable(
            lambda: services.win_deal(card.id), f"win '{card.title}'", f"Won '{safe(card.title)}'", follow=False
        )

    def action_lose(self) -> None:
        card = self._card()
        if card is None or self.app.services is None:
            return
        services = self.app.services

        def chosen(reason: str | None) -> None:
            if reason:
                self._undoable(
                    lambda: services.lose_deal(card.id, reason),
                    f"lose '{card.title}'",
                    f"Lost '{safe(card.title)}': {safe(reason)}",
                    follow=False,
                )

        self.app.push_screen(LoseReasonScreen(card.title), chosen)

    def action_new_deal(self) -> None:
        if self.app.services is None:
            return
        db, services, pipeline_id = self.app.db, self.app.services, self.pipeline_id

        def save(values: dict):
            return services.create_deal(pipeline_id=pipeline_id, **deal_values(db, values))

        def created(deal) -> None:
            if deal is not None:
                self.app.notify(f"Added '{safe(deal.title)}'", timeout=3)

        form = DealFormScreen(
            "New deal",
            save,
            values={"owner": self.app.user or ""},
            suggesters={"customer": CustomerSuggester(partial(find_customers, db, limit=1))},
        )
        self.app.push_screen(form, created)

    # -- filters ----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#pipeline-filter", Input)
        box.value = self.text
        box.add_class("shown")
        box.focus()

    @on(Input.Changed, "#pipeline-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self.reload()

    @on(Input.Submitted, "#pipeline-filter")
    def _filter_done(self) -> None:
        self.query_one("#pipeline-filter", Input).remove_class("shown")
        self.query_one(KanbanBoard).focus()

    def key_escape(self) -> None:
        box = self.query_one("#pipeline-filter", Input)
        if box.has_focus or self.text:
            box.value = ""
            self.text = ""
            box.remove_class("shown")
            self.query_one(KanbanBoard).focus()
            self.reload()

    def action_mine(self) -> None:
        self.owner = None if self.owner else (self.app.user or None)
        self.reload()
        self._update_bar()

    def action_pick_owner(self) -> None:
        if self.app.db is not None:
            self._owners()

    @work(thread=True, group="pipeline-pick", exit_on_error=False)
    def _owners(self) -> None:
        owners = list_owners(self.app.db)
        choices = [("Everyone", None)] + [(o, o) for o in owners]
        self.app.call_from_thread(
            self.app.push_screen, PickScreen("Show deals of", choices, current=self.owner), self._owner_picked
        )

    def _owner_picked(self, owner) -> None:
        self.owner = owner
        self.reload()
        self._update_bar()

    def action_pick_pipeline(self) -> None:
        if self.app.db is not None:
            self._pipelines()

    @work(thread=True, group="pipeline-pick", exit_on_error=False)
    def _pipelines(self) -> None:
        rows = list_pipelines(self.app.db)
        choices = [(p.name, p.id) for p in rows]
        self.app.call_from_thread(
            self.app.push_screen, PickScreen("Pipeline", choices, current=self.pipeline_id), self._pipeline_picked
        )

    def _pipeline_picked(self, pipeline_id) -> None:
        if pipeline_id is not None and pipeline_id != self.pipeline_id:
            self.pipeline_id = pipeline_id
            self.limits = {}
            self.reload()
