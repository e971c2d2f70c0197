"""The funnel design screen's read side (no textual): one pipeline's stages with how many deals
each holds, every stage's task templates, and the pipelines to switch between — in one read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crm_tui.columns import col, pk
from crm_tui.models import Deal, Pipeline, Stage, StageTaskTemplate

if TYPE_CHECKING:
    from crm_tui.db import Database


@dataclass(frozen=True)
class PipelineChoice:
    id: int
    name: str
    archived: bool


@dataclass(frozen=True)
class StageTemplate:
    id: int
    stage_id: int
    kind: str
    subject: str
    responsible: str  # blank: the deal's owner
    duration_days: int


@dataclass(frozen=True)
class DesignStage:
    id: int
    name: str
    outcome: str  # open / won / lost
    probability: int
    rot_days: int | None
    deals: int  # live deals in it now
    templates: tuple[StageTemplate, ...]


@dataclass(frozen=True)
class FunnelDesign:
    pipeline_id: int
    pipeline: str
    archived_at: dt.datetime | None
    pipelines: tuple[PipelineChoice, ...]  # in use first, then archived ones
    stages: tuple[DesignStage, ...]  # open ones in order, then won, then lost


def funnel_design(db: Database, pipeline_id: int | None = None) -> FunnelDesign | None:
    """One pipeline's design (the first one in use when ``pipeline_id`` is None or unknown); None
    when the database has no pipeline."""
    with db.read() as session:
        conn = session.connection()
        pipes = conn.execute(
            select(pk(Pipeline.id), col(Pipeline.name), col(Pipeline.archived_at)).order_by(
                col(Pipeline.archived_at).is_not(None), col(Pipeline.position), pk(Pipeline.id)
            )
        ).all()
        if not pipes:
            return None
        chosen = next((p for p in pipes if p[0] == pipeline_id), pipes[0])
        stage_rows = conn.execute(
            select(pk(Stage.id), col(Stage.name), col(Stage.outcome), col(Stage.probability), col(Stage.rot_days))
            .where(col(Stage.pipeline_id) == chosen[0], col(Stage.archived_at).is_(None))
            .order_by(col(Stage.position), pk(Stage.id))
        ).all()
        ids = [r[0] for r in stage_rows]
        counts: dict[int, int] = {}
        templates: dict[int, list[StageTemplate]] = {i: [] for i in ids}
        if ids:
            counts = {
                sid: int(n)
                for sid, n in conn.execute(
                    select(col(Deal.stage_id), func.count())
                    .where(col(Deal.stage_id).in_(ids), col(Deal.deleted_at).is_(None))
                    .group_by(col(Deal.stage_id))
                )
            }
            for row in conn.execute(
                select(
                    pk(StageTaskTemplate.id),
                    col(StageTaskTemplate.stage_id),
                    col(StageTaskTemplate.kind),
                    col(StageTaskTemplate.subject),
                    col(StageTaskTemplate.responsible),
                    col(StageTaskTemplate.duration_days),
                )
                .where(col(StageTaskTemplate.stage_id).in_(ids), col(StageTaskTemplate.archived_at).is_(None))
                .order_by(col(StageTaskTemplate.position), pk(StageTaskTemplate.id))
            ):
                templates[row[1]].append(StageTemplate(*row))
    stages = tuple(
        DesignStage(sid, name, outcome, int(prob), rot, counts.get(sid, 0), tuple(templates[sid]))
        for sid, name, outcome, prob, rot in stage_rows
    )
    return FunnelDesign(
        chosen[0],
        chosen[1],
        chosen[2],
        tuple(PipelineChoice(pid, name, archived is not None) for pid, name, archived in pipes),
        stages,
    )
