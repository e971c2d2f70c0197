"""Importing pipelines: each with its stages (position, win probability, outcome, rot days,
archived) and each stage's task templates (the sales process: subject, kind, responsible,
duration in days, position, archived).

One row per stage task template (a stage with none has one row with the task columns blank; a
pipeline with no stages one row with the stage blank), as ``crm-tui export pipelines`` writes
them. A pipeline's own fields come from its first row, a stage's from its first row.

Matching (re-import updates instead of duplicating): a pipeline by its name (``name_key``), a
stage by its pipeline and name, a template by its stage and subject — the n-th row of a subject
in a stage is the n-th template of that subject there. Nothing is deleted: a stage or template
missing from the file stays. On update a blank position, probability, outcome, kind or duration
keeps the stored value; a blank rot days or archived time means none (the export writes both), so
a file that says a stage never rots or is offered again is taken at its word.

Counts are pipelines; new stages and templates are counted as "also created".
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from crm_tui.io import resolve as R
from crm_tui.io.deal_stages import NEW_STAGE_PROBABILITY
from crm_tui.io.kinds_other import TASK_KIND
from crm_tui.models import Deal, Pipeline, Stage, StageTaskTemplate
from crm_tui.textnorm import name_key

OUTCOMES = {"open": "open", "won": "won", "lost": "lost", "closed won": "won", "closed lost": "lost"}


def _when(value) -> dt.datetime | None:
    return None if value is None or pd.isna(value) else value.to_pydatetime()


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _changed(current: dict, wanted: dict) -> dict:
    """The columns of ``wanted`` whose value differs from ``current``."""
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def _holds_deals(conn, stage_id: int) -> bool:
    return conn.execute(select(Deal.id).where(Deal.stage_id == stage_id).limit(1)).first() is not None


def import_pipelines(conn, ctx):
    pipeline = ctx.text("pipeline")
    ctx.reject(pipeline == "", "pipeline is required; the row has no pipeline name")
    stage = ctx.text("stage")
    subject = ctx.text("task_subject", max_len=500)
    ctx.reject((subject != "") & (stage == ""), "a stage task needs its stage; the row has a task but no stage")
    outcome = ctx.choice("outcome", OUTCOMES, "", ("open", "won", "lost"))
    probability = ctx.percent("probability")
    rot = ctx.integers("rot_days", low=1, high=3650, hint="a whole number of days from 1 to 3650 (blank: never)")
    p_pos = ctx.integers("pipeline_position")
    s_pos = ctx.integers("stage_position")
    t_pos = ctx.integers("task_position")
    p_gone = ctx.dates("pipeline_archived_at")
    s_gone = ctx.dates("stage_archived_at")
    t_gone = ctx.dates("task_archived_at")
    raw_kind = ctx.text("task_kind").str.casefold().str.replace(r"[\s_\-]+", " ", regex=True)
    kind = raw_kind.map(TASK_KIND).where(raw_kind != "", "")
    bad_kind = kind.isna()
    ctx.reject(bad_kind, "task_kind must be one of call, email, meeting, todo")
    kind = kind.where(~bad_kind, "")
    responsible = ctx.text("task_responsible")
    duration = ctx.integers("task_duration_days", low=0, high=3650, hint="a whole number of days from 0 to 3650")
    pkeys, skeys = R.keys_of(pipeline), R.keys_of(stage)
    ok = ctx.ok

    pipes = {
        name_key(r.name): {"id": r.id, "position": r.position, "archived_at": r.archived_at}
        for r in conn.execute(select(Pipeline.id, Pipeline.name, Pipeline.position, Pipeline.archived_at))
    }
    stages: dict[tuple[int, str], dict] = {}
    last_position: dict[int, int] = {}
    for r in conn.execute(select(Stage.__table__)):
        stages[(r.pipeline_id, name_key(r.name))] = dict(r._mapping)
        last_position[r.pipeline_id] = max(last_position.get(r.pipeline_id, -1), r.position)
    templates: dict[int, list[dict]] = {}
    for r in conn.execute(
        select(StageTaskTemplate.__table__).order_by(StageTaskTemplate.position, StageTaskTemplate.id)
    ):
        templates.setdefault(r.stage_id, []).append(dict(r._mapping))
    next_pipe = max((p["position"] for p in pipes.values()), default=-1) + 1

    new_pipes, new_stages, new_tasks = [], [], []
    upd_pipes, upd_stages, upd_tasks = [], [], []
    created = updated = 0
    pid_of: dict[str, int] = {}
    sid_of: dict[tuple[str, str], int] = {}
    used: dict[int, set[int]] = {}  # stage id → templates a row already matched
    last_task: dict[int, int] = {}
    for i in pipeline.index[ok]:
        pk = pkeys[i]
        if pk not in pid_of:
            wanted = {"archived_at": _when(p_gone[i])} if ctx.has("pipeline_archived_at") else {}
            if _int(p_pos[i]) is not None:
                wanted["position"] = _int(p_pos[i])
            found = pipes.get(pk)
            if found is None:
                row = {"name": pipeline[i], "position": next_pipe, **wanted}
                next_pipe = max(next_pipe, row["position"]) + 1
                (pid_of[pk],) = ctx.stage.local_ids(Pipeline.__table__, 1)
                new_pipes.append({"id": pid_of[pk], **row})
                created += 1
            else:
                pid_of[pk] = found["id"]
                change = _changed(found, wanted)
                if change:
                    upd_pipes.append({"b_id": found["id"], **change})
                updated += 1
        pid = pid_of[pk]
        sk = skeys[i]
        if not sk:
            continue
        if (pk, sk) not in sid_of:
            out = OUTCOMES.get(outcome[i], "")
            wanted = {}
            if out:
                wanted["outcome"] = out
            if _int(probability[i]) is not None:
                wanted["probability"] = _int(probability[i])
            if _int(s_pos[i]) is not None:
                wanted["position"] = _int(s_pos[i])
            if ctx.has("rot_days"):
                wanted["rot_days"] = _int(rot[i])
            if ctx.has("stage_archived_at"):
                wanted["archived_at"] = _when(s_gone[i])
            found = stages.get((pid, sk))
            if found is None:
                out = wanted.get("outcome", "open")
                chance = 100 if out == "won" else 0 if out == "lost" else NEW_STAGE_PROBABILITY
                position = wanted.get("position", last_position.get(pid, -1) + 1)
                last_position[pid] = max(last_position.get(pid, -1), position)
                (sid,) = ctx.stage.local_ids(Stage.__table__, 1)
                new_stages.append(
                    {
                        "id": sid,
                        "pipeline_id": pid,
                        "name": stage[i],
                        "outcome": out,
                        "probability": chance,
                        "rot_days": None,
                        "archived_at": None,
                        **wanted,
                        "position": position,
                    }
                )
                sid_of[(pk, sk)] = sid
            else:
                sid_of[(pk, sk)] = found["id"]
                change = _changed(found, wanted)
                if "outcome" in change and _holds_deals(conn, found["id"]):
                    # open, won or lost is what its deals are: a stage holding some keeps it
                    del change["outcome"]
                    ctx.warn(pipeline.index == i, "stages holding deals keep their outcome (open, won or lost)")
                if change:
                    upd_stages.append({"b_id": found["id"], **change})
        sid = sid_of[(pk, sk)]
        if not subject[i]:
            continue
        wanted = {"subject": subject[i]}
        if kind[i]:
            wanted["kind"] = kind[i]
        if ctx.has("task_responsible"):
            wanted["responsible"] = responsible[i]
        if _int(duration[i]) is not None:
            wanted["duration_days"] = _int(duration[i])
        if _int(t_pos[i]) is not None:
            wanted["position"] = _int(t_pos[i])
        if ctx.has("task_archived_at"):
            wanted["archived_at"] = _when(t_gone[i])
        taken = used.setdefault(sid, set())
        key = name_key(subject[i])
        found = next(
            (t for t in templates.get(sid, []) if t["id"] not in taken and name_key(t["subject"]) == key), None
        )
        if found is None:
            position = wanted.get("position", last_task.get(sid, len(templates.get(sid, [])) - 1) + 1)
            last_task[sid] = max(last_task.get(sid, -1), position)
            base = {"stage_id": sid, "kind": "todo", "responsible": "", "duration_days": 1, "archived_at": None}
            new_tasks.append({**base, **wanted, "position": position})
        else:
            taken.add(found["id"])
            change = _changed(found, wanted)
            if change:
                upd_tasks.append({"b_id": found["id"], **change})

    ctx.stage.insert(Pipeline.__table__, new_pipes)
    ctx.stage.insert(Stage.__table__, new_stages)
    ctx.stage.insert(StageTaskTemplate.__table__, new_tasks)
    ctx.stage.update(Pipeline.__table__, upd_pipes)
    ctx.stage.update(Stage.__table__, upd_stages)
    ctx.stage.update(StageTaskTemplate.__table__, upd_tasks)
    for what, n in (("stages", len(new_stages)), ("stage tasks", len(new_tasks))):
        if n:
            ctx.also_created[what] = ctx.also_created.get(what, 0) + n
    ctx.tick(ctx.n)
    return created, updated
