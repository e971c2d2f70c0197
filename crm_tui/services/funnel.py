"""Funnel and process design: pipelines, their stages, and each stage's task templates.

The seeds' "sales funnel the company designs" and "sales process of per-stage tasks": a manager
or a rep adds, renames, reorders and removes stages, sets each one's win probability and rot
threshold, and says which tasks a deal entering the stage gets (``StageTaskTemplate``).

Nothing here loses history: a removed stage is archived (stage changes still point at it) after
its deals were moved to a stage the rep picked, each move recorded as a stage change; a removed
task template is archived (tasks made from it keep their link); an archived pipeline leaves the
board and the switcher but its deals stay in the figures. Every change is one journal entry, so
``ctrl+z`` takes it back.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from crm_tui import validate as v
from crm_tui.errors import ValidationError
from crm_tui.models import TASK_KINDS, Deal, Pipeline, Stage, StageChange, StageTaskTemplate
from crm_tui.services.base import ServiceBase

FUNNEL_TABLES = {"pipeline", "stage", "stage_task_template"}
#: a new pipeline's stages: name, probability %, outcome, rot threshold in days
NEW_PIPELINE_STAGES = (("New", 10, "open", 14), ("Won", 100, "won", None), ("Lost", 0, "lost", None))


def _rot_days(value: object) -> int | None:
    """Blank means the stage never rots."""
    if value is None or str(value).strip() in ("", "-", "—"):
        return None
    return v.positive_int(value, "rot after (days)", minimum=1, maximum=3650)


class FunnelOps(ServiceBase):
    # -- pipelines -----------------------------------------------------------------------------

    def _pipeline_name(self, session: Session, name: object, *, other_than: int | None = None) -> str:
        clean = v.text(name, "pipeline name", required=True, max_len=100)
        for pid, existing in session.exec(select(Pipeline.id, Pipeline.name)).all():
            if pid != other_than and existing.casefold() == clean.casefold():
                raise ValidationError(f"there is already a pipeline named '{existing}'; choose another name")
        return clean

    def create_pipeline(self, name: str) -> Pipeline:
        """A new pipeline with one open stage and its won and lost stages, last in the switcher."""
        with self._write(FUNNEL_TABLES, "create") as session:
            clean = self._pipeline_name(session, name)
            self._say(session, f"add pipeline '{clean}'")
            last = session.exec(select(func.max(Pipeline.position))).one()
            pipeline = Pipeline(name=clean, position=(last if last is not None else -1) + 1)
            session.add(pipeline)
            session.flush()
            for pos, (stage, prob, outcome, rot) in enumerate(NEW_PIPELINE_STAGES):
                session.add(
                    Stage(
                        pipeline_id=pipeline.id,
                        name=stage,
                        position=pos,
                        probability=prob,
                        outcome=outcome,
                        rot_days=rot,
                    )
                )
            session.flush()
            return pipeline

    def rename_pipeline(self, pipeline_id: int, name: str) -> Pipeline:
        with self._write(FUNNEL_TABLES, "edit") as session:
            pipeline = self._get(session, Pipeline, pipeline_id)
            clean = self._pipeline_name(session, name, other_than=pipeline.id)
            self._say(session, f"rename pipeline '{pipeline.name}' to '{clean}'")
            pipeline.name = clean
            return pipeline

    def archive_pipeline(self, pipeline_id: int) -> Pipeline:
        """Off the board and the switcher; its deals stay in every figure. The last pipeline in use
        cannot be archived."""
        with self._write(FUNNEL_TABLES, "archive") as session:
            pipeline = self._get(session, Pipeline, pipeline_id)
            if pipeline.archived_at is not None:
                raise ValidationError(f"the pipeline '{pipeline.name}' is already archived")
            live = session.exec(select(func.count()).where(Pipeline.archived_at.is_(None))).one()
            if live <= 1:
                raise ValidationError(
                    f"'{pipeline.name}' is the only pipeline in use; add another before archiving this one"
                )
            self._say(session, f"archive pipeline '{pipeline.name}'")
            pipeline.archived_at = self.now()
            return pipeline

    def restore_pipeline(self, pipeline_id: int) -> Pipeline:
        with self._write(FUNNEL_TABLES, "restore") as session:
            pipeline = self._get(session, Pipeline, pipeline_id)
            if pipeline.archived_at is None:
                raise ValidationError(f"the pipeline '{pipeline.name}' is not archived")
            self._say(session, f"restore pipeline '{pipeline.name}'")
            pipeline.archived_at = None
            return pipeline

    # -- stages --------------------------------------------------------------------------------

    def _live_stages(self, session: Session, pipeline_id: int) -> list[Stage]:
        return list(
            session.exec(
                select(Stage)
                .where(Stage.pipeline_id == pipeline_id, Stage.archived_at.is_(None))
                .order_by(Stage.position, Stage.id)
            )
        )

    def _live_stage(self, session: Session, stage_id: int) -> Stage:
        stage = self._get(session, Stage, stage_id)
        if stage.archived_at is not None:
            raise ValidationError(f"the stage {stage.name} was removed; nothing to change")
        return stage

    @staticmethod
    def _renumber(stages: list[Stage]) -> None:
        """Open stages first in their order, then won, then lost: positions 0, 1, 2, …"""
        rank = {"open": 0, "won": 1, "lost": 2}
        ordered = sorted(stages, key=lambda s: (rank.get(s.outcome, 0), s.position, s.id or 0))
        for pos, stage in enumerate(ordered):
            if stage.position != pos:
                stage.position = pos

    def _stage_name(self, session: Session, pipeline_id: int, name: object, *, other_than: int | None = None) -> str:
        clean = v.text(name, "stage name", required=True, max_len=100)
        for stage in session.exec(select(Stage).where(Stage.pipeline_id == pipeline_id)).all():
            if stage.id == other_than or stage.name.casefold() != clean.casefold():
                continue
            if stage.archived_at is None:
                raise ValidationError(f"this pipeline already has a stage named '{stage.name}'")
            if other_than is not None:  # a new stage of that name brings the removed one back instead
                raise ValidationError(
                    f"a removed stage of this pipeline is named '{stage.name}'; choose another name, "
                    "or add a stage with that name to bring it back"
                )
        return clean

    def add_stage(
        self,
        pipeline_id: int,
        name: str,
        *,
        probability: object = 0,
        rot_days: object = None,
        after_stage_id: int | None = None,
    ) -> Stage:
        """A new open stage after ``after_stage_id`` (an open stage), else after the last open one.
        A name a removed stage of this pipeline had brings that stage back (with its history)."""
        with self._write(FUNNEL_TABLES | {"deal"}, "create") as session:
            pipeline = self._get(session, Pipeline, pipeline_id)
            clean = self._stage_name(session, pipeline.id, name)
            prob = v.positive_int(probability if str(probability).strip() else 0, "probability", minimum=0, maximum=100)
            rot = _rot_days(rot_days)
            stages = self._live_stages(session, pipeline.id)
            opens = [s for s in stages if s.outcome == "open"]
            if after_stage_id is not None:
                index = next((i for i, s in enumerate(opens) if s.id == after_stage_id), None)
                if index is None:
                    raise ValidationError("add a stage after an open stage of this pipeline")
            else:
                index = len(opens) - 1
            self._say(session, f"add stage {clean} to '{pipeline.name}'")
            removed = session.exec(
                select(Stage).where(Stage.pipeline_id == pipeline.id, Stage.archived_at.is_not(None))
            ).all()
            stage = next((s for s in removed if s.name.casefold() == clean.casefold()), None)
            if stage is None:
                stage = Stage(pipeline_id=pipeline.id, name=clean, outcome="open")
                session.add(stage)
            stage.name, stage.probability, stage.rot_days, stage.archived_at = clean, prob, rot, None
            opens.insert(index + 1, stage)
            for pos, s in enumerate(opens):
                s.position = pos
            self._renumber(opens + [s for s in stages if s.outcome != "open"])
            session.flush()
            return stage

    def update_stage(
        self, stage_id: int, *, name: object = None, probability: object = None, rot_days: object = ...
    ) -> Stage:
        """Rename a stage, set its win probability (open stages) and its rot threshold (blank: never)."""
        with self._write(FUNNEL_TABLES | {"deal"}, "edit") as session:
            stage = self._live_stage(session, stage_id)
            changes: dict[str, object] = {}
            if name is not None:
                changes["name"] = self._stage_name(session, stage.pipeline_id, name, other_than=stage.id)
            if probability is not None and str(probability).strip() != str(stage.probability):
                prob = v.positive_int(probability, "probability", minimum=0, maximum=100)
                if stage.outcome != "open" and prob != stage.probability:
                    raise ValidationError(
                        f"{stage.name} closes deals as {stage.outcome}: its probability stays {stage.probability}%"
                    )
                changes["probability"] = prob
            if rot_days is not ...:
                rot = _rot_days(rot_days)
                if stage.outcome != "open" and rot is not None:
                    raise ValidationError(f"{stage.name} closes deals: closed deals do not rot")
                changes["rot_days"] = rot
            self._say(session, f"edit stage {stage.name} ({self._changed_fields(stage, changes)})")
            for key, value in changes.items():
                setattr(stage, key, value)
            return stage

    def move_stage(self, stage_id: int, step: int) -> Stage:
        """One place earlier (-1) or later (+1) among the open stages; won and lost stay last."""
        with self._write(FUNNEL_TABLES | {"deal"}, "move") as session:
            stage = self._live_stage(session, stage_id)
            if stage.outcome != "open":
                raise ValidationError(f"{stage.name} closes deals: the won and lost stages stay at the end")
            stages = self._live_stages(session, stage.pipeline_id)
            opens = [s for s in stages if s.outcome == "open"]
            index = opens.index(stage)
            target = index + (1 if step > 0 else -1)
            if not 0 <= target < len(opens):
                edge = "first" if target < 0 else "last open"
                raise ValidationError(f"{stage.name} is already the {edge} stage")
            self._say(session, f"move stage {stage.name} {'later' if step > 0 else 'earlier'}")
            opens[index], opens[target] = opens[target], opens[index]
            for pos, s in enumerate(opens):
                s.position = pos
            self._renumber(stages)
            return stage

    def remove_stage(self, stage_id: int, *, move_deals_to: int | None = None) -> int:
        """Take an open stage out of its pipeline. Deals in it (deleted ones too, so a restore never
        lands in a removed stage) move to ``move_deals_to``, an open stage of the same pipeline, each
        move recorded as a stage change. Returns how many deals moved."""
        with self._write(FUNNEL_TABLES | {"deal", "stage_change"}, "delete") as session:
            stage = self._live_stage(session, stage_id)
            if stage.outcome != "open":
                raise ValidationError(f"{stage.name} closes deals as {stage.outcome}; a pipeline keeps that stage")
            stages = self._live_stages(session, stage.pipeline_id)
            opens = [s for s in stages if s.outcome == "open"]
            if len(opens) <= 1:
                raise ValidationError(f"{stage.name} is the pipeline's only open stage; add another before removing it")
            deals = list(session.exec(select(Deal).where(Deal.stage_id == stage.id).order_by(Deal.id)))
            target: Stage | None = None
            if deals:
                if move_deals_to is None:
                    raise ValidationError(f"{stage.name} holds {len(deals):,} deals; say which stage they move to")
                target = self._live_stage(session, move_deals_to)
                if target.pipeline_id != stage.pipeline_id or target.outcome != "open" or target.id == stage.id:
                    raise ValidationError("move the deals to another open stage of the same pipeline")
            where = f", moving {len(deals):,} deals to {target.name}" if target is not None else ""
            self._say(session, f"remove stage {stage.name}{where}")
            now = self.now()
            if target is not None:
                for deal in deals:
                    deal.stage_id = target.id
                    deal.stage_entered_at = now
                    self._touch(deal)
                    session.add(
                        StageChange(
                            deal_id=deal.id, from_stage_id=stage.id, to_stage_id=target.id, at=now, by=self.user
                        )
                    )
            stage.archived_at = now
            self._renumber([s for s in stages if s.id != stage.id])
            return len(deals)

    # -- stage task templates (the sales process) ----------------------------------------------

    def _template_values(self, data: dict[str, object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in data.items():
            if key == "subject":
                out[key] = v.text(value, "subject", required=True, max_len=500)
            elif key == "kind":
                out[key] = v.choice(value or "todo", "kind", TASK_KINDS)
            elif key == "responsible":
                out[key] = v.text(value, "responsible")
            elif key == "duration_days":
                out[key] = v.positive_int(
                    value if str(value).strip() else 0, "due after (days)", minimum=0, maximum=3650
                )
            else:
                raise ValidationError(f"a stage task has no field '{key}'")
        return out

    def _live_templates(self, session: Session, stage_id: int) -> list[StageTaskTemplate]:
        return list(
            session.exec(
                select(StageTaskTemplate)
                .where(StageTaskTemplate.stage_id == stage_id, StageTaskTemplate.archived_at.is_(None))
                .order_by(StageTaskTemplate.position, StageTaskTemplate.id)
            )
        )

    def _live_template(self, session: Session, template_id: int) -> StageTaskTemplate:
        tpl = self._get(session, StageTaskTemplate, template_id)
        if tpl.archived_at is not None:
            raise ValidationError(f"the stage task '{tpl.subject}' was removed; nothing to change")
        return tpl

    def add_stage_task(self, stage_id: int, subject: str, **fields: object) -> StageTaskTemplate:
        """A task every deal entering the stage gets: ``kind``, ``responsible`` (blank: the deal's
        owner), due ``duration_days`` after it entered."""
        with self._write(FUNNEL_TABLES, "create") as session:
            stage = self._live_stage(session, stage_id)
            if stage.outcome != "open":
                raise ValidationError(f"{stage.name} closes deals; stage tasks belong to open stages")
            data = self._template_values({"subject": subject, **fields})
            self._say(session, f"add stage task '{data['subject']}' to {stage.name}")
            templates = self._live_templates(session, stage.id)
            tpl = StageTaskTemplate(stage_id=stage.id, position=len(templates), **data)  # type: ignore[arg-type]
            session.add(tpl)
            session.flush()
            return tpl

    def update_stage_task(self, template_id: int, **fields: object) -> StageTaskTemplate:
        with self._write(FUNNEL_TABLES, "edit") as session:
            tpl = self._live_template(session, template_id)
            data = self._template_values(fields)
            self._say(session, f"edit stage task '{tpl.subject}' ({self._changed_fields(tpl, data)})")
            for key, value in data.items():
                setattr(tpl, key, value)
            return tpl

    def remove_stage_task(self, template_id: int) -> StageTaskTemplate:
        """Deals entering the stage no longer get it; tasks already made from it stay."""
        with self._write(FUNNEL_TABLES, "delete") as session:
            tpl = self._live_template(session, template_id)
            self._say(session, f"remove stage task '{tpl.subject}'")
            tpl.archived_at = self.now()
            for pos, other in enumerate(t for t in self._live_templates(session, tpl.stage_id) if t.id != tpl.id):
                other.position = pos
            return tpl

    def move_stage_task(self, template_id: int, step: int) -> StageTaskTemplate:
        with self._write(FUNNEL_TABLES, "move") as session:
            tpl = self._live_template(session, template_id)
            templates = self._live_templates(session, tpl.stage_id)
            index = templates.index(tpl)
            target = index + (1 if step > 0 else -1)
            if not 0 <= target < len(templates):
                raise ValidationError(f"'{tpl.subject}' is already the {'first' if target < 0 else 'last'} task")
            self._say(session, f"move stage task '{tpl.subject}' {'later' if step > 0 else 'earlier'}")
            templates[index], templates[target] = templates[target], templates[index]
            for pos, t in enumerate(templates):
                t.position = pos
            return tpl
