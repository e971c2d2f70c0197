"""The Pipeline screen: a kanban board of one pipeline's deals.

One read loads every column's first cards and one aggregate per header
(crm_tui.queries.pipeline.load_board) in a thread worker, which posts the board back; on any
change to deals, stages, tasks or customers the board reloads and the cursor stays on the
same deal. What the rep filters by (pipeline, owner, text) is reactive state: changing it
reloads the board and redraws the bar above it.

Every move carries the version of the deal its card showed: a card another session moved or
won meanwhile is refused (and the board shows where it is now) instead of being moved twice.
Moves of one card pressed in one burst (``L L``) run one after the other, each with the
version the previous one left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from crm_tui.errors import ConflictError, CrmError
from crm_tui.metrics.goals import BoardGoals, board_goals, goal_progress
from crm_tui.models import CATEGORY_LABELS
from crm_tui.money import missing_note
from crm_tui.queries.board import CARDS_PER_COLUMN, Board, Card
from crm_tui.queries.pipeline import find_customers, list_owners, list_pipelines, load_board
from crm_tui.services import MoveResult
from crm_tui.textnorm import how_many
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.deal_form import CustomerSuggester, DealFormScreen
from crm_tui.tui.modals.lose_reason import LoseReasonScreen
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.tui.savers import deal_values, won_message
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.kanban import KanbanBoard
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.mode_bar import ModeBar


class PipelineScreen(CrmScreen):
    CSS_PATH = "pipeline.tcss"
    # the board takes the keys from the first one: a key typed right after `2` (one burst) must not
    # land in the hidden filter box, which would otherwise be the first focusable widget
    AUTO_FOCUS = "#board"
    WATCHES = frozenset(
        {"deal", "stage", "stage_change", "task", "customer", "pipeline", "currency_rate", "crm_meta", "goal"}
    )
    BINDINGS = [
        Binding("shift+left,H", "step(-1)", "◀Stage", key_display="H", id="pipeline.move_prev",
                tooltip="Move the deal to the previous stage"),
        Binding("shift+right,L", "step(1)", "Stage▶", key_display="L", id="pipeline.move_next",
                tooltip="Move the deal to the next stage"),
        Binding("w", "win", "Win", id="pipeline.win", tooltip="Mark the highlighted deal won"),
        Binding("x", "lose", "Lose", id="pipeline.lose", tooltip="Mark the highlighted deal lost (asks why)"),
        Binding("n", "new_deal", "New", id="pipeline.new", tooltip="Add a deal to the first stage"),
        Binding("slash", "filter", "Filter", id="pipeline.filter",
                tooltip="Show only deals whose title or customer matches"),
        Binding("m", "mine", "Mine", id="pipeline.mine", tooltip="Show only my deals, or everyone's again"),
        Binding("o", "pick_owner", "Owner", show=False, id="pipeline.owner", tooltip="Show one owner's deals"),
        Binding("p", "pick_pipeline", "Pipeline", id="pipeline.switch", tooltip="Switch to another pipeline"),
        Binding("F", "forecast_category", "Forecast", show=False, id="pipeline.forecast_category",
                tooltip="Forecast category of the deal: pipeline → best case → commit (the card shows best/commit)"),
        Binding("S", "design", "Stages", id="pipeline.design",
                tooltip="Edit stages: add, rename, reorder, remove; win %, rot days, stage tasks; pipelines"),
    ]  # fmt: skip

    #: after a move of ours is patched in, the board waits this long for quiet before it
    #: re-reads every column: ten quick L presses cost one reload, not ten (other changes
    #: reload at once)
    RELOAD_AFTER_MOVE = 0.25

    #: the pipeline the rep chose (None: the first one)
    pipeline_id: var[int | None] = var(None, init=False)
    #: text filter on title or customer
    text: var[str] = var("", init=False)
    #: only this owner's deals (None: everyone's)
    owner: var[str | None] = var(None, init=False)

    class BoardLoaded(Message):
        def __init__(self, generation: int, board: Board, now: dt.datetime) -> None:
            super().__init__()
            self.generation = generation
            self.board = board
            self.now = now

    class GoalsRead(Message):
        """The goals of a board shown without them (the warm-up's board)."""

        def __init__(self, generation: int, goals: BoardGoals) -> None:
            super().__init__()
            self.generation = generation
            self.goals = goals

    class ChoicesLoaded(Message):
        """Owners or pipelines read for a picker; the picker opens on the event loop."""

        def __init__(self, kind: str, choices: list[tuple[str, Any]]) -> None:
            super().__init__()
            self.kind = kind
            self.choices = choices

    def __init__(self) -> None:
        super().__init__()
        self.board: Board | None = None
        self.limits: dict[int, int] = {}  # stage id → cards to load (grows as the cursor nears the end)
        self._generation = 0  # of the latest reload: older boards are dropped when they arrive
        self._moves: set[Worker[None]] = set()  # moves sent to the database and not finished yet
        self._moving: dict[int, list[Callable[[int], None]]] = {}  # deal id → steps waiting for its move
        self._deferred = False  # a change arrived meanwhile: reload once they are done
        self._reload_timer: Any = None
        self._follow: int | None = None  # the deal the cursor goes to when the next board shows

    def compose(self) -> ComposeResult:
        yield ModeBar("pipeline")
        yield Static(id="pipeline-bar")
        yield Static(id="pipeline-goal", markup=False)
        yield Input(placeholder="filter by title or customer; enter keeps it, escape clears it", id="pipeline-filter")
        yield KanbanBoard(id="board")
        yield KeyBar()

    def on_mount(self) -> None:
        self._update_bar()
        self.query_one(KanbanBoard).focus()

    # -- state ------------------------------------------------------------------------------

    def watch_pipeline_id(self) -> None:
        self.limits = {}
        self.reload()
        self._update_bar()

    def watch_text(self) -> None:
        self.reload()
        self._update_bar()

    def watch_owner(self) -> None:
        self.reload()
        self._update_bar()

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        if self.app.db is None:
            return
        if self.board is None and not (self.text or self.owner or self.limits or self.pipeline_id):
            ahead = self.app.take_prefetched("pipeline")  # read while the rep was on another screen
            if ahead is not None:
                self._generation += 1
                self._show(self._generation, *ahead)
                return
        boards = self.query(KanbanBoard)
        if not boards:  # a form's callback after the app began to close: nothing left to show
            return
        card = boards.first().cursor_card
        focus = self._follow if self._follow is not None else (card.id if card else None)
        self._generation += 1
        self._load(self._generation, self.pipeline_id, self.text, self.owner, dict(self.limits), focus)

    def follow_record(self, table: str, record_id: int) -> None:
        """An undo or redo changed this deal: the cursor goes to its card, wherever it is now
        (left where it was, it would sit on the neighbour that took the card's place)."""
        if table == "deal":
            self._follow = record_id
            self.reload()

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
    def _load(
        self,
        generation: int,
        pipeline_id: int | None,
        text: str,
        owner: str | None,
        limits: dict[int, int],
        focus: int | None,
    ) -> None:
        db, now = self.app.db, self.app.clock()
        assert db is not None  # reload() starts this only once the database is open
        board = load_board(db, pipeline_id, now=now, text=text, owner=owner, limits=limits, focus=focus)
        _with_goals(board, read_board_goals(db, board, now, owner or self.app.user))
        self.post_message(self.BoardLoaded(generation, board, now))

    @work(thread=True, exclusive=True, group="pipeline-goals", exit_on_error=False)
    def _load_goals(self, generation: int, board: Board, now: dt.datetime, owner: str | None) -> None:
        db = self.app.db
        assert db is not None  # a board is shown only once the database is open
        self.post_message(self.GoalsRead(generation, read_board_goals(db, board, now, owner or self.app.user)))

    @on(GoalsRead)
    def _goals_read(self, event: GoalsRead) -> None:
        if event.generation != self._generation or self.board is None:
            return
        _with_goals(self.board, event.goals)
        widget = self.query_one(KanbanBoard)
        card = widget.cursor_card
        widget.set_board(self.board, self.app.clock(), card.id if card is not None else None)
        self._update_bar()

    @on(BoardLoaded)
    def _board_loaded(self, event: BoardLoaded) -> None:
        self._show(event.generation, event.board, event.now)

    @on(KanbanBoard.NeedMore)
    def _grow_column(self, event: KanbanBoard.NeedMore) -> None:
        wanted = event.loaded + CARDS_PER_COLUMN
        if self.limits.get(event.stage_id, CARDS_PER_COLUMN) < wanted:
            self.limits[event.stage_id] = wanted
            self.reload()

    def _show(self, generation: int, board: Board, now: dt.datetime) -> None:
        if generation != self._generation:
            return  # a newer reload is on its way (e.g. one started before a move was patched in)
        widget = self.query_one(KanbanBoard)
        card = widget.cursor_card
        keep = self._follow if self._follow is not None else (card.id if card is not None else None)
        self._follow = None
        self.board = board
        db = self.app.db
        widget.me = db.login if db is not None else None  # a team's server: other reps' cards say whose
        widget.set_board(board, now, keep)
        self._update_bar()
        if not board.goals_read:
            self._load_goals(generation, board, now, self.owner)

    def _update_bar(self) -> None:
        bar = Text()
        bar.append(safe(self.board.pipeline) if self.board else "Pipeline", style="bold")
        if self.board:
            open_n = sum(self.board.headers[s.id].count for s in self.board.stages if s.outcome == "open")
            bar.append(f"  {how_many(open_n, 'open deal')} · totals in {self.board.currency}", style="dim")
            if self.board.missing:
                bar.append("  " + missing_note(self.board.missing, cli=False), style="bold")
        if self.owner:
            bar.append("  owner: ")
            bar.append(safe(self.owner), style="bold")
        if self.text:
            bar.append("  filter: ")
            bar.append(repr(safe(self.text)), style="bold")
        self.query_one("#pipeline-bar", Static).update(bar)
        goal = self.query_one("#pipeline-goal", Static)
        line, state = (self.board.goal_line, self.board.goal_state) if self.board else ("", "")
        goal.update(Text(line))  # plain text: a stage name in it is never markup
        goal.set_class(bool(line), "-shown")
        for name in ("met", "ahead", "behind"):
            goal.set_class(state == name, f"-{name}")

    # -- the card under the cursor ------------------------------------------------------------

    def _card(self) -> Card | None:
        """The card the rep sees highlighted — only while the board has the keys."""
        board = self.query_one(KanbanBoard)
        card = board.cursor_card if board.has_focus else None
        if card is None:
            self.notify("No deal highlighted; move the cursor onto a card", severity="warning", timeout=3)
        return card

    @on(KanbanBoard.Opened)
    def _opened(self, event: KanbanBoard.Opened) -> None:
        self.app.open_deal(event.deal_id)

    def _move(
        self,
        card: Card,
        call: Callable[[int], MoveResult],
        success: Callable[[MoveResult], str],
        *,
        follow: bool = True,
    ) -> None:
        """Send a move of ``card`` (``call(expected_version)``); a second move of the same card
        pressed before the first is done waits for it and carries the version it left."""
        services = self.app.services
        if services is None:
            return
        if card.id in self._moving:
            self._moving[card.id].append(lambda version: self._send(card, call, success, follow, version))
            return
        self._send(card, call, success, follow, card.version)

    def _send(
        self,
        card: Card,
        call: Callable[[int], MoveResult],
        success: Callable[[MoveResult], str],
        follow: bool,
        version: int,
    ) -> None:
        self._moving.setdefault(card.id, [])

        def failed(error: CrmError) -> None:
            self._moving.pop(card.id, None)  # the rest of the burst was meant for the move refused
            title = "Changed elsewhere" if isinstance(error, ConflictError) else ""
            self.app.notify(error.message, title=title, severity="error", timeout=8, markup=False)
            if isinstance(error, ConflictError):
                self.reload()  # show where the deal is now

        worker = self.run_service(
            lambda: call(version), success=success, done=partial(self._moved, card.id, follow), on_error=failed
        )
        self._moves.add(worker)

    @on(Worker.StateChanged)
    def _move_ended(self, event: Worker.StateChanged) -> None:
        """However a move ended — patched in, refused, or failed — what waited for it reloads."""
        if event.worker in self._moves and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._moves.discard(event.worker)
            if event.state != WorkerState.SUCCESS:
                self._moving.clear()
            if self._deferred and not self._moves:
                self._deferred = False
                self.reload()

    def _moved(self, deal_id: int, follow: bool, result: MoveResult) -> None:
        """A committed move: shift the card and both headers now; a reload confirms it once quiet."""
        self._reload_when_quiet()
        waiting = self._moving.pop(deal_id, [])
        if waiting:  # the next move of this card in the burst, with the version this one left
            following = waiting.pop(0)
            following(result.deal.version)
            self._moving.setdefault(deal_id, []).extend(waiting)
        if self.board is None:
            return
        deal, to_stage_id = result.deal, result.to_stage.id
        assert to_stage_id is not None  # a stored stage
        widget = self.query_one(KanbanBoard)
        if self.board.apply_move(
            deal_id,
            to_stage_id,
            amount_cents=deal.amount_cents,
            probability=deal.probability,
            at=self.app.clock(),
            version=deal.version,
        ):
            # after a step the cursor goes with the card; after a win or a loss it stays in the
            # column, on the card that took the closed one's place
            widget.set_board(self.board, self.app.clock(), deal.id if follow else None)
            self._update_bar()

    def action_step(self, step: int) -> None:
        card = self._card()
        services = self.app.services
        if card is None or services is None:
            return
        self._move(
            card,
            lambda version: services.move_deal_step(card.id, step, expected_version=version),
            lambda r: f"Moved '{safe(r.deal.title)}' to {safe(r.to_stage.name)}",
        )

    def action_win(self) -> None:
        card = self._card()
        services = self.app.services
        if card is None or services is None:
            return
        self._move(
            card,
            lambda version: services.win_deal(card.id, expected_version=version),
            won_message,
            follow=False,
        )

    def action_forecast_category(self) -> None:
        card = self._card()
        services = self.app.services
        if card is None or services is None:
            return
        if not card.category:
            self.app.notify(
                f"'{safe(card.title)}' is closed: its forecast category is its outcome", timeout=4, markup=False
            )
            return
        self.run_service(
            lambda: services.next_forecast_category(card.id),
            success=lambda d: (
                f"'{safe(d.title)}' is {CATEGORY_LABELS[d.forecast_category]} in the forecast (F again: the next one)"
            ),
        )

    def action_lose(self) -> None:
        card = self._card()
        services = self.app.services
        if card is None or services is None:
            return

        def chosen(reason: str | None) -> None:
            if reason:
                self._move(
                    card,
                    lambda version: services.lose_deal(card.id, reason, expected_version=version),
                    lambda r: f"Lost '{safe(r.deal.title)}': {safe(reason)}",
                    follow=False,
                )

        stage = next((s for s in self.board.stages if s.id == card.stage_id), None) if self.board else None
        self.app.push_screen(LoseReasonScreen(card.title, won=stage is not None and stage.outcome == "won"), chosen)

    def action_new_deal(self) -> None:
        db, services, pipeline_id = self.app.db, self.app.services, self.board.pipeline_id if self.board else None
        if services is None or db is None:  # both open together (CrmApp.DatabaseOpened)
            return

        def save(values: dict[str, Any]) -> Any:
            return services.create_deal(pipeline_id=pipeline_id, **deal_values(db, values))

        def created(deal: Any) -> None:
            if deal is not None:
                self._follow = deal.id  # the new card is selected and scrolled into view
                self.reload()
                self.app.notify(f"Added '{safe(deal.title)}'", timeout=3, markup=False)

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
        self.focus_now(box)

    @on(Input.Changed, "#pipeline-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text = event.value

    @on(Input.Submitted, "#pipeline-filter")
    def _filter_done(self) -> None:
        self.query_one("#pipeline-filter", Input).remove_class("shown")
        self.focus_now(self.query_one(KanbanBoard))

    def key_escape(self) -> None:
        box = self.query_one("#pipeline-filter", Input)
        if box.has_focus or self.text:
            box.value = ""
            self.text = ""
            box.remove_class("shown")
            self.focus_now(self.query_one(KanbanBoard))

    def action_mine(self) -> None:
        self.owner = None if self.owner else (self.app.user or None)

    def action_pick_owner(self) -> None:
        if self.app.db is not None:
            self._read_choices("owner")

    def action_design(self) -> None:
        from crm_tui.tui.screens.funnel import FunnelScreen

        self.app.push_screen(FunnelScreen(self.board.pipeline_id if self.board else self.pipeline_id))

    def action_pick_pipeline(self) -> None:
        if self.app.db is not None:
            self._read_choices("pipeline")

    @work(thread=True, group="pipeline-pick", exit_on_error=False)
    def _read_choices(self, kind: str) -> None:
        db = self.app.db
        assert db is not None  # the pickers start this only once the database is open
        choices: list[tuple[str, Any]]
        if kind == "owner":
            choices = [("Everyone", "")] + [(o, o) for o in list_owners(db)]
        else:
            choices = [(p.name, p.id) for p in list_pipelines(db)]
        self.post_message(self.ChoicesLoaded(kind, choices))

    @on(ChoicesLoaded)
    def _pick(self, event: ChoicesLoaded) -> None:
        if event.kind == "owner":
            current = self.owner or ""
            self.app.push_screen(PickScreen("Show deals of", event.choices, current=current), self._owner_picked)
        else:
            shown = self.board.pipeline_id if self.board else self.pipeline_id
            self.app.push_screen(PickScreen("Pipeline", event.choices, current=shown), self._pipeline_picked)

    def _owner_picked(self, owner: str | None) -> None:
        if owner is not None:  # None: the picker was closed without a choice
            self.owner = owner or None

    def _pipeline_picked(self, pipeline_id: int | None) -> None:
        if pipeline_id is not None:
            self.pipeline_id = pipeline_id


def read_board_goals(db: Any, board: Board, now: dt.datetime, user: str | None) -> BoardGoals:
    """The goals the board shows (a few grouped reads, none per card); in a thread worker."""
    rows = goal_progress(db, now=now, takes=False, metrics=("won_value", "deals_advanced"))
    return board_goals(rows, user=user, stage_ids=[s.id for s in board.stages])


def _with_goals(board: Board, goals: BoardGoals) -> None:
    board.goal_line, board.goal_state, board.stage_goals, board.goals_read = (
        goals.line,
        goals.state,
        dict(goals.stages),
        True,
    )
