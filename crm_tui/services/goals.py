"""Goals: targets per owner (or everyone) and period, set and removed as journaled actions.

A goal applies to every period of its kind (this month, last month, ...). There is at most one
live goal per owner, metric, period and stage: setting one that exists changes its target.
Removing archives it (``archived_at``): it leaves every panel, its row stays for history and undo.

``target`` is what the rep typed: currency units of the home currency for ``won_value``
("120000" is 120,000.00, stored as cents), a whole count for every other metric.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from crm_tui import journal as jr
from crm_tui import validate as v
from crm_tui.errors import ValidationError
from crm_tui.models import GOAL_METRICS, GOAL_PERIODS, Goal, Pipeline, Stage
from crm_tui.services.base import ServiceBase

GOAL_TABLES = {"goal"}
#: a count target above this is a typo, not a plan
MAX_COUNT = 10**7

METRIC_WORDS = {
    "won_value": "won value",
    "deals_won": "deals won",
    "deals_added": "deals added",
    "deals_advanced": "deals advanced",
    "activities_done": "activities done",
}


def parse_target(metric: str, value: object) -> int:
    """The stored target: cents for won_value, a count otherwise; > 0 or one clear message."""
    shown = str(value).strip() if value is not None else ""
    if not shown:
        raise ValidationError("a goal needs a target greater than 0", field="target")
    if metric == "won_value":
        if shown.startswith("-"):
            raise ValidationError(f"the target must be greater than 0, got {shown[:20]}", field="target")
        cents = v.money(shown, "target")
        if cents <= 0:
            raise ValidationError(f"the target must be greater than 0, got {shown[:20]}", field="target")
        return cents
    try:
        number = int(shown.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValidationError(
            f"the target of {METRIC_WORDS.get(metric, metric)} is a whole number, got {shown[:20]!r}", field="target"
        ) from None
    if number <= 0:
        raise ValidationError(f"the target must be greater than 0, got {number}", field="target")
    if number > MAX_COUNT:
        raise ValidationError(f"the target must be at most {MAX_COUNT:,}, got {number:,}", field="target")
    return number


def target_text(metric: str, target: int) -> str:
    """The target as the rep types it back: '120000' or '120000.50' for money, '12' for a count."""
    if metric != "won_value":
        return str(target)
    units, cents = divmod(target, 100)
    return f"{units}" if not cents else f"{units}.{cents:02d}"


class GoalOps(ServiceBase):
    def _goal_stage(self, session: Session, stage: object, pipeline_id: int | None) -> Stage:
        if isinstance(stage, int) and not isinstance(stage, bool):
            row = session.get(Stage, stage)
            if row is None or row.archived_at is not None:
                raise ValidationError(f"stage #{stage} does not exist; pick one of the board's stages", field="stage")
            return row
        name = v.text(stage, "stage", required=True)
        q = select(Stage).where(col(Stage.archived_at).is_(None))
        if pipeline_id is not None:
            q = q.where(col(Stage.pipeline_id) == pipeline_id)
        found = [s for s in session.exec(q).all() if s.name.casefold() == name.casefold()]
        if not found:
            names = sorted({s.name for s in session.exec(q).all()})
            raise ValidationError(
                f"there is no stage named {name[:40]!r}; stages: {', '.join(names)[:200]}", field="stage"
            )
        if len(found) > 1:
            raise ValidationError(
                f"several pipelines have a stage named {name[:40]!r}; name the pipeline too", field="stage"
            )
        return found[0]

    def _goal_pipeline(self, session: Session, pipeline: object) -> int | None:
        if pipeline is None or (isinstance(pipeline, str) and not pipeline.strip()):
            return None
        if isinstance(pipeline, int) and not isinstance(pipeline, bool):
            if session.get(Pipeline, pipeline) is None:
                raise ValidationError(f"pipeline #{pipeline} does not exist", field="pipeline")
            return pipeline
        name = v.text(pipeline, "pipeline", required=True)
        for pid, existing in session.exec(select(Pipeline.id, Pipeline.name)).all():
            if existing.casefold() == name.casefold():
                return pid
        raise ValidationError(f"there is no pipeline named {name[:40]!r}", field="pipeline")

    def set_goal(
        self,
        metric: str,
        period: str,
        target: object,
        *,
        owner: str = "",
        stage: object = None,
        pipeline: object = None,
        external_id: str | None = None,
    ) -> Goal:
        """Create the goal, or change the target of the live one for the same owner, metric,
        period (and stage). ``stage`` (a name or id) is required for deals_advanced and refused
        otherwise; ``pipeline`` (a name or id) limits the goal to that pipeline's deals."""
        metric = str(metric or "").strip().lower()
        period = str(period or "").strip().lower()
        if metric not in GOAL_METRICS:
            raise ValidationError(
                f"unknown goal metric {metric[:30]!r}; use one of {', '.join(GOAL_METRICS)}", field="metric"
            )
        if period not in GOAL_PERIODS:
            raise ValidationError(
                f"unknown goal period {period[:30]!r}; use one of {', '.join(GOAL_PERIODS)}", field="period"
            )
        cents_or_count = parse_target(metric, target)
        who = v.text(owner, "owner")
        has_stage = stage is not None and not (isinstance(stage, str) and not stage.strip())
        if metric == "deals_advanced" and not has_stage:
            raise ValidationError(
                "a deals_advanced goal needs the stage the deals must enter (--stage NAME)", field="stage"
            )
        if metric != "deals_advanced" and has_stage:
            raise ValidationError("only a deals_advanced goal names a stage; leave the stage out", field="stage")
        with self._write(GOAL_TABLES, "edit") as session:
            pipeline_id = self._goal_pipeline(session, pipeline)
            stage_row = self._goal_stage(session, stage, pipeline_id) if has_stage else None
            stage_id = stage_row.id if stage_row is not None else None
            q = select(Goal).where(
                col(Goal.archived_at).is_(None),
                col(Goal.owner) == who,
                col(Goal.metric) == metric,
                col(Goal.period) == period,
            )
            q = q.where(col(Goal.stage_id).is_(None) if stage_id is None else col(Goal.stage_id) == stage_id)
            goal = session.exec(q).first()
            words = f"{period}ly {METRIC_WORDS[metric]}"
            who_words = who or "everyone"
            if goal is None:
                goal = Goal(
                    owner=who,
                    metric=metric,
                    period=period,
                    target=cents_or_count,
                    stage_id=stage_id,
                    pipeline_id=pipeline_id,
                    external_id=external_id,
                    created_at=self.now(),
                    updated_at=self.now(),
                )
                session.add(goal)
                jr_kind = "create"
                self._say(session, f"set {words} goal of {who_words} to {target_text(metric, cents_or_count)}")
            else:
                goal.target = cents_or_count
                goal.pipeline_id = pipeline_id
                if external_id is not None:
                    goal.external_id = external_id
                self._touch(goal)
                jr_kind = "edit"
                self._say(session, f"change {words} goal of {who_words} to {target_text(metric, cents_or_count)}")
            session.flush()
            action = jr.declared(session)
            if action is not None:
                action.kind = jr_kind
                action.record = ("goal", goal.id or 0)
            return goal

    def remove_goal(self, goal_id: object) -> Goal:
        """No longer tracked: archived, kept for history (``ctrl+z`` brings it back)."""
        with self._write(GOAL_TABLES, "archive") as session:
            goal = self._get(session, Goal, goal_id)
            if goal.archived_at is not None:
                raise ValidationError(f"goal #{goal.id} was already removed")
            self._say(
                session,
                f"remove {goal.period}ly {METRIC_WORDS.get(goal.metric, goal.metric)} goal"
                f" of {goal.owner or 'everyone'}",
                record=("goal", goal.id or 0),
            )
            goal.archived_at = self.now()
            self._touch(goal)
            return goal

    def list_goals(self) -> list[Goal]:
        """Every live goal: everyone's first, then by owner, metric and period."""
        with self.db.read() as session:
            rows = list(session.exec(select(Goal).where(col(Goal.archived_at).is_(None))).all())
        order = {m: i for i, m in enumerate(GOAL_METRICS)}
        porder = {p: i for i, p in enumerate(GOAL_PERIODS)}
        return sorted(rows, key=lambda g: (g.owner != "", g.owner, order.get(g.metric, 9), porder.get(g.period, 9)))
