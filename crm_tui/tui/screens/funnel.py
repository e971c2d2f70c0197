"""Funnel and process design: one pipeline's stages (win probability, rot threshold, deals in each)
and the tasks a deal entering the highlighted stage gets.

Opened from the board (``S``) or the palette ("Edit stages"), on top of it: escape goes back, and
the board follows every change at once. The stage table and the stage-task table are two lists;
``tab`` moves between them and ``e`` / ``d`` / ``K`` / ``J`` act on the one that has focus.
Everything is read by one worker and written through the services (``services.funnel``), one
journal entry per change (``ctrl+z`` takes it back).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Static

from crm_tui import validate as v
from crm_tui.models import TASK_KINDS
from crm_tui.queries.funnel import DesignStage, FunnelDesign, StageTemplate
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.validate import Check

STAGE_FIELDS = (
    Field("name", "Stage", placeholder="Demo"),
    Field("probability", "Win %", placeholder="0–100: how likely a deal here is won"),
    Field("rot_days", "Rots after", placeholder="days in the stage before a deal stands out; blank: never"),
)


def _rot(value: object) -> object:
    return None if str(value or "").strip() == "" else v.positive_int(value, "rot after (days)", maximum=3650)


STAGE_CHECKS: dict[str, Check] = {
    "name": partial(v.text, field="stage name", required=True, max_len=100),
    "probability": partial(v.positive_int, field="probability", minimum=0, maximum=100),
    "rot_days": _rot,
}
TEMPLATE_FIELDS = (
    Field("subject", "Task", placeholder="Book the demo"),
    Field("kind", "Kind", kind="select", options=TASK_KINDS),
    Field("responsible", "Who", placeholder="blank: the deal's owner"),
    Field("duration_days", "Due after", placeholder="days after the deal enters the stage"),
)
TEMPLATE_CHECKS: dict[str, Check] = {
    "subject": partial(v.text, field="subject", required=True, max_len=500),
    "responsible": partial(v.text, field="responsible"),
    "duration_days": partial(v.positive_int, field="due after (days)", minimum=0, maximum=3650),
}
PIPELINE_FIELDS = (Field("name", "Pipeline", placeholder="Renewals"),)
PIPELINE_CHECKS: dict[str, Check] = {"name": partial(v.text, field="pipeline name", required=True, max_len=100)}


class FunnelScreen(CrmScreen):
    CSS_PATH = "funnel.tcss"
    WATCHES = frozenset({"pipeline", "stage", "stage_task_template", "deal", "journal"})
    BINDINGS = [
        Binding("escape", "back", "Back", id="funnel.back", tooltip="Back to the board"),
        Binding("n", "new_stage", "New stage", id="funnel.new_stage",
                tooltip="New stage: after the highlighted one, with its win % and rot days"),
        Binding("t", "new_task", "Stage task", id="funnel.new_task",
                tooltip="Stage tasks: add a task every deal entering the highlighted stage gets"),
        Binding("e", "edit", "Edit", id="funnel.edit", tooltip="Edit the highlighted stage or stage task"),
        Binding("d", "remove", "Remove", id="funnel.remove",
                tooltip="Remove the highlighted stage (asks where its deals go) or stage task"),
        Binding("K,shift+up", "shift(-1)", "Earlier", key_display="K", id="funnel.earlier",
                tooltip="Move the highlighted stage or stage task one place earlier"),
        Binding("J,shift+down", "shift(1)", "Later", key_display="J", id="funnel.later",
                tooltip="Move the highlighted stage or stage task one place later"),
        Binding("p", "pick_pipeline", "Pipeline", id="funnel.switch", tooltip="Design another pipeline"),
        Binding("P", "new_pipeline", "New pipeline", id="funnel.new_pipeline", tooltip="New pipeline"),
        Binding("R", "rename_pipeline", "Rename", show=False, id="funnel.rename_pipeline",
                tooltip="Rename this pipeline"),
        Binding("A", "archive_pipeline", "Archive", show=False, id="funnel.archive_pipeline",
                tooltip="Archive this pipeline (off the board, its deals still counted), or restore it"),
    ]  # fmt: skip

    pipeline_id: var[int | None] = var(None)

    class Loaded(Message):
        def __init__(self, design: FunnelDesign | None) -> None:
            super().__init__()
            self.design = design

    def __init__(self, pipeline_id: int | None = None) -> None:
        super().__init__()
        self.set_reactive(FunnelScreen.pipeline_id, pipeline_id)
        self.design: FunnelDesign | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="funnel-head")
        with Horizontal(id="funnel-body"):
            with Vertical(id="funnel-stages-box"):
                yield Static(Text("Stages", style="bold"), classes="funnel-title")
                yield DataTable(id="funnel-stages", cursor_type="row", zebra_stripes=True)
            with Vertical(id="funnel-tasks-box"):
                yield Static(Text("Stage tasks", style="bold"), id="funnel-tasks-title", classes="funnel-title")
                yield DataTable(id="funnel-tasks", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        stages = self.query_one("#funnel-stages", DataTable)
        stages.add_columns("Stage", "Win", "Rots", "Deals", "Tasks")
        self.query_one("#funnel-tasks", DataTable).add_columns("Task", "Kind", "Who", "Due")
        self.set_focus(stages)

    def watch_pipeline_id(self) -> None:
        if self.is_mounted and self.app.db is not None:
            self.reload()

    def reload(self) -> None:
        self._load(self.pipeline_id)

    @work(thread=True, exclusive=True, group="funnel-load", exit_on_error=False)
    def _load(self, pipeline_id: int | None) -> None:
        from crm_tui.queries.funnel import funnel_design

        db = self.app.db
        assert db is not None  # screens reload once the database is open (CrmScreen.on_mount)
        self.post_message(self.Loaded(funnel_design(db, pipeline_id)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.design = design = event.design
        head = self.query_one("#funnel-head", Static)
        table = self.query_one("#funnel-stages", DataTable)
        if design is None:
            head.update(Text("There is no pipeline yet: P adds one."))
            table.clear()
            self._show_tasks()
            return
        line = Text.assemble(("Funnel design  ", "bold"), (safe(design.pipeline), "bold reverse"))
        if design.archived_at is not None:
            line.append("  archived: off the board, its deals still counted (A restores it)", style="italic")
        line.append("   tab: stages ⇄ stage tasks · ctrl+z undoes any change", style="dim")
        head.update(line)
        keep = table.cursor_row
        table.clear()
        for s in design.stages:
            closing = s.outcome != "open"
            table.add_row(
                Text(safe(s.name), style="italic" if closing else ""),
                Text(f"{s.probability}%", justify="right"),
                Text("—" if closing else ("never" if s.rot_days is None else f"{s.rot_days}d"), justify="right"),
                Text(f"{s.deals:,}", justify="right"),
                Text("—" if closing else str(len(s.templates)), justify="right"),
                key=str(s.id),
            )
        if design.stages:
            table.move_cursor(row=min(max(keep, 0), len(design.stages) - 1))
        self._show_tasks()
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#funnel-stages")
    def _stage_highlighted(self) -> None:
        self._show_tasks()

    def _show_tasks(self) -> None:
        stage = self._stage()
        title = self.query_one("#funnel-tasks-title", Static)
        table = self.query_one("#funnel-tasks", DataTable)
        keep = table.cursor_row
        table.clear()
        if stage is None:
            title.update(Text("Stage tasks", style="bold"))
            return
        text = Text.assemble(("Stage tasks of ", "bold"), (safe(stage.name), "bold"))
        if stage.outcome != "open":
            text.append(f"  (closes deals as {stage.outcome}: no tasks)", style="dim")
        elif not stage.templates:
            text.append("  none — t adds one", style="dim")
        title.update(text)
        for tpl in stage.templates:
            table.add_row(
                Text(safe(tpl.subject)),
                Text(tpl.kind),
                Text(safe(tpl.responsible) or "deal owner", style="" if tpl.responsible else "dim"),
                Text(f"+{tpl.duration_days}d", justify="right"),
                key=str(tpl.id),
            )
        if stage.templates:
            table.move_cursor(row=min(max(keep, 0), len(stage.templates) - 1))

    # -- what the keys act on -------------------------------------------------------------------

    def _stage(self) -> DesignStage | None:
        if self.design is None or not self.design.stages:
            return None
        row = self.query_one("#funnel-stages", DataTable).cursor_row
        return self.design.stages[row] if 0 <= row < len(self.design.stages) else None

    def _template(self) -> StageTemplate | None:
        stage = self._stage()
        if stage is None or not stage.templates:
            return None
        row = self.query_one("#funnel-tasks", DataTable).cursor_row
        return stage.templates[row] if 0 <= row < len(stage.templates) else None

    def _on_tasks(self) -> bool:
        return self.focused is self.query_one("#funnel-tasks", DataTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new_task",):
            stage = self._stage()
            return stage is not None and stage.outcome == "open"
        return True

    def _save(self, call: Callable[[], Any], message: str | Callable[[Any], str]) -> None:
        self.run_service(call, success=message)

    # -- actions --------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_new_stage(self) -> None:
        services, design = self.app.services, self.design
        if services is None or design is None:
            return
        stage = self._stage()
        after = stage.id if stage is not None and stage.outcome == "open" else None
        pid = design.pipeline_id

        def save(values: dict[str, Any]) -> Any:
            return services.add_stage(
                pid,
                values["name"],
                probability=values["probability"],
                rot_days=values["rot_days"],
                after_stage_id=after,
            )

        where = f" after {stage.name}" if after is not None and stage is not None else ""
        form = FormScreen(
            f"New stage in {design.pipeline}{where}",
            save,
            fields=STAGE_FIELDS,
            values={"probability": "10", "rot_days": "14"},
            checks=STAGE_CHECKS,
        )
        self.app.push_screen(form, self.said_when_saved("Stage added (ctrl+z takes it back)"))

    def action_new_task(self) -> None:
        services, stage = self.app.services, self._stage()
        if services is None or stage is None or stage.outcome != "open":
            return
        sid = stage.id

        def save(values: dict[str, Any]) -> Any:
            return services.add_stage_task(sid, values.pop("subject"), **values)

        form = FormScreen(
            f"New task for deals entering {stage.name}",
            save,
            fields=TEMPLATE_FIELDS,
            values={"kind": "call", "duration_days": "1"},
            checks=TEMPLATE_CHECKS,
        )
        self.app.push_screen(form, self.said_when_saved("Stage task added"))

    def action_edit(self) -> None:
        services = self.app.services
        if services is None:
            return
        if self._on_tasks():
            tpl = self._template()
            if tpl is None:
                return
            tid = tpl.id
            values = {
                "subject": tpl.subject,
                "kind": tpl.kind,
                "responsible": tpl.responsible,
                "duration_days": str(tpl.duration_days),
            }
            form = FormScreen(
                f"Edit stage task '{tpl.subject}'",
                lambda form: services.update_stage_task(tid, **form),
                fields=TEMPLATE_FIELDS,
                values=values,
                checks=TEMPLATE_CHECKS,
            )
            self.app.push_screen(form, self.said_when_saved("Stage task saved"))
            return
        stage = self._stage()
        if stage is None:
            return
        sid, closing = stage.id, stage.outcome != "open"
        fields = STAGE_FIELDS[:1] if closing else STAGE_FIELDS
        values = {
            "name": stage.name,
            "probability": str(stage.probability),
            "rot_days": "" if stage.rot_days is None else str(stage.rot_days),
        }

        def save(form: dict[str, Any]) -> Any:
            if closing:
                return services.update_stage(sid, name=form["name"])
            return services.update_stage(
                sid, name=form["name"], probability=form["probability"], rot_days=form["rot_days"]
            )

        checks = {k: c for k, c in STAGE_CHECKS.items() if k in {f.name for f in fields}}
        form = FormScreen(f"Edit stage {stage.name}", save, fields=fields, values=values, checks=checks)
        self.app.push_screen(form, self.said_when_saved("Stage saved"))

    def action_remove(self) -> None:
        services, design = self.app.services, self.design
        if services is None or design is None:
            return
        if self._on_tasks():
            tpl = self._template()
            if tpl is None:
                return
            tid, subject = tpl.id, tpl.subject

            def remove_task(yes: bool | None) -> None:
                if yes:
                    self._save(
                        lambda: services.remove_stage_task(tid),
                        f"Removed '{safe(subject)}': deals entering the stage no longer get it (ctrl+z brings it back)",
                    )

            self.app.push_screen(
                ConfirmScreen(
                    f"Remove the stage task '{subject}'?", "Tasks already made from it stay.", confirm_label="Remove"
                ),
                remove_task,
            )
            return
        stage = self._stage()
        if stage is None:
            return
        sid, name = stage.id, stage.name
        if stage.deals == 0:

            def remove_empty(yes: bool | None) -> None:
                if yes:
                    self._save(
                        lambda: services.remove_stage(sid), f"Removed the stage {safe(name)} (ctrl+z brings it back)"
                    )

            self.app.push_screen(ConfirmScreen(f"Remove the stage {name}?", confirm_label="Remove"), remove_empty)
            return
        targets = [(s.name, s.id) for s in design.stages if s.outcome == "open" and s.id != sid]
        if stage.outcome != "open" or not targets:  # the service says why it cannot
            self._save(lambda: services.remove_stage(sid), "")
            return
        count = stage.deals

        def moved(target: int | None) -> None:
            if target is None:
                return
            to = next(n for n, i in targets if i == target)
            self._save(
                lambda: services.remove_stage(sid, move_deals_to=target),
                f"Removed the stage {safe(name)}; its {count:,} deals are in {safe(to)} now (ctrl+z takes it back)",
            )

        # the stage after it by default (the deals keep their progress), else the one before
        opens = [s.id for s in design.stages if s.outcome == "open"]
        at = opens.index(sid)
        suggested = opens[at + 1] if at + 1 < len(opens) else opens[at - 1]
        question = f"{name} holds {count:,} deals: move them to"
        self.app.push_screen(PickScreen(question, targets, current=suggested), moved)

    def action_shift(self, step: int) -> None:
        services = self.app.services
        if services is None:
            return
        if self._on_tasks():
            tpl = self._template()
            if tpl is not None:
                table = self.query_one("#funnel-tasks", DataTable)
                tid = tpl.id
                self.run_service(lambda: services.move_stage_task(tid, step), done=lambda _r: _follow(table, step))
            return
        stage = self._stage()
        if stage is not None:
            table = self.query_one("#funnel-stages", DataTable)
            sid = stage.id
            self.run_service(lambda: services.move_stage(sid, step), done=lambda _r: _follow(table, step))

    def action_pick_pipeline(self) -> None:
        design = self.design
        if design is None:
            return
        choices = [(p.name + ("  (archived)" if p.archived else ""), p.id) for p in design.pipelines]

        def chosen(pid: int | None) -> None:
            if pid is not None:
                self.pipeline_id = pid

        self.app.push_screen(PickScreen("Design the pipeline", choices, current=design.pipeline_id), chosen)

    def action_new_pipeline(self) -> None:
        services = self.app.services
        if services is None:
            return

        def created(pipeline: Any) -> None:
            if pipeline:
                self.pipeline_id = pipeline.id
                self.app.notify(f"Pipeline '{safe(pipeline.name)}' added: n adds its stages", timeout=4, markup=False)

        form = FormScreen(
            "New pipeline (with New, Won and Lost stages)",
            lambda values: services.create_pipeline(values["name"]),
            fields=PIPELINE_FIELDS,
            checks=PIPELINE_CHECKS,
        )
        self.app.push_screen(form, created)

    def action_rename_pipeline(self) -> None:
        services, design = self.app.services, self.design
        if services is None or design is None:
            return
        pid = design.pipeline_id
        form = FormScreen(
            f"Rename the pipeline {design.pipeline}",
            lambda values: services.rename_pipeline(pid, values["name"]),
            fields=PIPELINE_FIELDS,
            values={"name": design.pipeline},
            checks=PIPELINE_CHECKS,
        )
        self.app.push_screen(form, self.said_when_saved("Pipeline renamed"))

    def action_archive_pipeline(self) -> None:
        services, design = self.app.services, self.design
        if services is None or design is None:
            return
        pid, name = design.pipeline_id, design.pipeline
        if design.archived_at is not None:
            self._save(lambda: services.restore_pipeline(pid), f"Pipeline '{safe(name)}' is back on the board")
            return

        def archive(yes: bool | None) -> None:
            if yes:
                self._save(
                    lambda: services.archive_pipeline(pid),
                    f"Archived '{safe(name)}': off the board, its deals still counted (ctrl+z takes it back)",
                )

        self.app.push_screen(
            ConfirmScreen(f"Archive the pipeline {name}?", "Its deals stay in every report.", confirm_label="Archive"),
            archive,
        )


def _follow(table: DataTable[Any], step: int) -> None:
    """Keep the cursor on the row that moved (the reload that follows keeps the row index)."""
    table.move_cursor(row=max(table.cursor_row + (1 if step > 0 else -1), 0))
