"""Importing goals, as ``crm-tui export goals`` writes them: one row per live goal.

Columns: ``external_id``, ``owner`` (blank: everyone), ``metric`` (GOAL_METRICS), ``period``
(GOAL_PERIODS), ``target`` (won_value: an amount in the home currency, "120000.50"; otherwise a
whole count), ``pipeline`` (blank: every pipeline's deals), ``stage`` and ``stage_pipeline``
(deals_advanced: the stage the deals must enter, and its pipeline when the name repeats).

Matching (re-import updates instead of duplicating): the goal holding the external id, or the
one our own export named "crm-g<id>", else the live goal of the same owner, metric, period and
stage. Nothing is deleted.
"""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.errors import ValidationError
from crm_tui.models import GOAL_METRICS, GOAL_PERIODS, Goal, Pipeline, Stage
from crm_tui.services.goals import parse_target
from crm_tui.textnorm import name_key

#: our export names a goal with no external id "crm-g<id>"
OWN_PREFIX = "crm-g"


def own_goal_id(ref: str) -> int | None:
    if not ref.startswith(OWN_PREFIX):
        return None
    number, dash, again = ref[len(OWN_PREFIX) :].partition("-")
    if dash and again != number:
        return None
    return int(number) if number.isdigit() and len(number) < 19 else None


def import_goals(conn, ctx):
    ext = ctx.text("external_id")
    owner = ctx.text("owner")
    metric = ctx.choice("metric", {m.replace("_", " "): m for m in GOAL_METRICS}, "", GOAL_METRICS)
    ctx.reject(metric == "", "metric is required: one of " + ", ".join(GOAL_METRICS))
    period = ctx.choice("period", {p: p for p in GOAL_PERIODS}, "", GOAL_PERIODS)
    ctx.reject(period == "", "period is required: one of " + ", ".join(GOAL_PERIODS))
    target_raw = ctx.text("target")
    pipeline = ctx.text("pipeline")
    stage = ctx.text("stage")
    stage_pipeline = ctx.text("stage_pipeline")

    pipes = {name_key(n): i for i, n in conn.execute(select(Pipeline.id, Pipeline.name))}
    stages: dict[str, list[tuple[int, int]]] = {}  # stage name key → [(stage id, pipeline id)]
    for sid, pid, name in conn.execute(
        select(Stage.id, Stage.pipeline_id, Stage.name).where(Stage.archived_at.is_(None))
    ):
        stages.setdefault(name_key(name), []).append((sid, pid))
    goals = [dict(r._mapping) for r in conn.execute(select(Goal.__table__))]
    by_id = {g["id"]: g for g in goals}
    by_ext = {g["external_id"]: g for g in goals if g["external_id"]}
    live = {(g["owner"], g["metric"], g["period"], g["stage_id"]): g for g in goals if g["archived_at"] is None}

    new, upd = [], []
    created = updated = 0
    seen: set[int] = set()
    for i in ext.index[ctx.ok]:
        row = ext.index == i

        def bad(reason: str, row=row) -> None:
            ctx.reject(row, reason)

        try:
            target = parse_target(metric[i], target_raw[i])
        except ValidationError as exc:
            bad(exc.message)
            continue
        pid = None
        if pipeline[i]:
            pid = pipes.get(name_key(pipeline[i]))
            if pid is None:
                bad(f"there is no pipeline named {pipeline[i][:40]!r}")
                continue
        sid = None
        if metric[i] == "deals_advanced":
            found = stages.get(name_key(stage[i]), []) if stage[i] else []
            if stage_pipeline[i]:
                where = pipes.get(name_key(stage_pipeline[i]))
                found = [s for s in found if s[1] == where]
            if not stage[i]:
                bad("a deals_advanced goal needs the stage the deals must enter")
                continue
            if len(found) != 1:
                bad(
                    f"there is no stage named {stage[i][:40]!r}"
                    if not found
                    else f"several pipelines have a stage named {stage[i][:40]!r}; fill stage_pipeline"
                )
                continue
            sid = found[0][0]
        elif stage[i]:
            bad("only a deals_advanced goal names a stage; leave the stage blank")
            continue
        match = by_ext.get(ext[i]) if ext[i] else None
        if match is None and ext[i] and (own := own_goal_id(ext[i])) is not None:
            mine = by_id.get(own)
            # "crm-g1" of another database's export is not this one's goal 1 unless it is the same goal
            if mine is not None and (mine["owner"], mine["metric"], mine["period"], mine["stage_id"]) == (
                owner[i],
                metric[i],
                period[i],
                sid,
            ):
                match = mine
        if match is None:
            match = live.get((owner[i], metric[i], period[i], sid))
        wanted = {
            "owner": owner[i],
            "metric": metric[i],
            "period": period[i],
            "target": target,
            "stage_id": sid,
            "pipeline_id": pid,
        }
        if match is None:
            ext_id = ext[i] if ext[i] and own_goal_id(ext[i]) is None else None
            new.append(
                {
                    **wanted,
                    "external_id": ext_id,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                    "archived_at": None,
                    "version": 1,
                }
            )
            live[(owner[i], metric[i], period[i], sid)] = {"id": None, **wanted}
            created += 1
            continue
        if match["id"] is None or match["id"] in seen:
            bad("another row of this file sets the same goal (owner, metric, period and stage)")
            continue
        seen.add(match["id"])
        change = {k: v for k, v in wanted.items() if match.get(k) != v}
        if match.get("archived_at") is not None:
            change["archived_at"] = None  # a goal the file lists is tracked again
        if change:
            change.update({"updated_at": ctx.now, "version": int(match.get("version") or 1) + 1})
            upd.append({"b_id": match["id"], **change})
        updated += 1
    ctx.stage.insert(Goal.__table__, new)
    ctx.stage.update(Goal.__table__, upd)
    ctx.tick(ctx.n)
    return created, updated
