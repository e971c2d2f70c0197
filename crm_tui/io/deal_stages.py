"""Which pipeline and stage each row of a deals file goes to, creating pipelines and stages the
file names and the database lacks (``crm_tui.io.kinds_deals`` explains the rules: matching
names, won and lost words, where new stages go and with what probability)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_tui.io import resolve as R
from crm_tui.io.parse import by_unique
from crm_tui.models import Pipeline, Stage
from crm_tui.textnorm import name_key

NEW_STAGE_PROBABILITY = 10
WON_KEYS = {"won", "closedwon", "dealwon"}
LOST_KEYS = {"lost", "closedlost", "deallost"}


def _stage_ranks(ctx, pids, skeys, stage, status, probability) -> tuple[dict, dict]:
    """Where stages the file names would go if new, and with what probability:
    {(pipeline id, stage key): sort key}, {(pipeline id, stage key): probability}. The file's
    median probability of a stage's open deals first, then the vendor's standard order and
    default probability (the detected profile's, else any vendor's that knows the name), then
    the order in which the file names them."""
    import pandas as pd

    from crm_tui.io import profiles

    order = [ctx.profile] if ctx.profile is not None else []
    order += [p for p in profiles.PROFILES if p is not ctx.profile]
    frame = pd.DataFrame({"pid": pids, "skey": skeys, "name": stage, "status": status, "p": probability})[ctx.ok]
    frame = frame[frame.skey != ""]
    medians = frame[frame.status.isin(["", "open"])].dropna(subset=["p"]).groupby(["pid", "skey"]).p.median()
    ranks, probs = {}, {}
    firsts = frame.drop_duplicates(["pid", "skey"])
    for n, (pid, skey, name) in enumerate(zip(firsts.pid, firsts.skey, firsts.name)):
        std = next((r for r in (p.stage_rank(name) for p in order) if r is not None), None)
        median = medians.get((pid, skey))
        prob = int(round(float(median))) if median is not None and pd.notna(median) else (std[1] if std else None)
        ranks[(pid, skey)] = (prob if prob is not None else 1000, std[0] if std else 1000, n)
        probs[(pid, skey)] = prob if prob is not None else NEW_STAGE_PROBABILITY
    return ranks, probs


def resolve_stages(conn, ctx, pipeline, stage, status, probability=None):
    """→ (pipeline id, stage id, outcome) per row; creates pipelines and stages as needed."""
    import pandas as pd

    pipes = {name_key(n): (i, n) for i, n in conn.execute(select(Pipeline.id, Pipeline.name))}
    default_pid = conn.execute(
        select(Pipeline.id).where(Pipeline.archived_at.is_(None)).order_by(Pipeline.position, Pipeline.id).limit(1)
    ).scalar()
    stages: dict[int, list] = {}
    removed: dict[tuple[int, str], str] = {}  # a stage taken out in the funnel design: never a new one's name
    for row in conn.execute(
        select(Stage.id, Stage.pipeline_id, Stage.name, Stage.position, Stage.outcome, Stage.archived_at).order_by(
            Stage.pipeline_id, Stage.position, Stage.id
        )
    ):
        if row.archived_at is not None:
            removed[(row.pipeline_id, name_key(row.name))] = row.name
            continue
        stages.setdefault(row.pipeline_id, []).append(
            {"id": row.id, "key": name_key(row.name), "outcome": row.outcome, "position": row.position}
        )
    pkeys = R.keys_of(pipeline)
    next_position = (conn.execute(select(func.max(Pipeline.position))).scalar() or 0) + 1
    for key in [k for k in pkeys[ctx.ok].unique() if k and k not in pipes]:
        name = pipeline[pkeys == key].iloc[0]
        (pid,) = ctx.stage.insert(Pipeline.__table__, [{"name": name, "position": next_position}])
        next_position += 1
        stages[pid] = [
            _new_stage(ctx, pid, "Won", 0, 100, "won"),
            _new_stage(ctx, pid, "Lost", 1, 0, "lost"),
        ]
        pipes[key] = (pid, name)
        ctx.also_created["pipelines"] = ctx.also_created.get("pipelines", 0) + 1
    if default_pid is None and not pipes:
        raise_no_pipeline()
    pid_of = {k: v[0] for k, v in pipes.items()}
    pids = by_unique(lambda keys: keys.map(lambda k: pid_of.get(k) if k else default_pid), pkeys)
    skeys = R.keys_of(stage)
    if probability is None:
        probability = pd.Series(pd.NA, index=stage.index, dtype="Int64")
    ranks, probs = _stage_ranks(ctx, pids, skeys, stage, status, probability)
    combos = pd.DataFrame({"pid": pids, "skey": skeys, "status": status, "name": stage})[ctx.ok]
    combos = combos.drop_duplicates(["pid", "skey", "status"])
    combos["rank"] = [ranks.get((p, k), (1000, 1000, 10**9)) for p, k in zip(combos.pid, combos.skey)]
    combos = combos.sort_values("rank", kind="stable").drop(columns="rank")
    before = {s["id"]: s["position"] for listed in stages.values() for s in listed if "new" not in s}
    answer: dict[tuple, tuple] = {}
    for pid, skey, st, sname in combos.itertuples(index=False):
        listed = stages.setdefault(int(pid), [])
        chance = probs.get((pid, skey), NEW_STAGE_PROBABILITY)
        gone = removed.get((int(pid), skey))
        if gone is not None and st not in ("won", "lost") and not any(x["key"] == skey for x in listed):
            answer[(pid, skey, st)] = (
                None,
                "open",
                f"the stage {gone!r} was removed from this pipeline; add it back (S on the board) "
                "or give these rows another stage",
            )
            continue
        answer[(pid, skey, st)] = _stage_for(ctx, listed, int(pid), skey, st, sname, chance)
    _stage_stages(ctx, stages, before)
    keys = list(zip(pids.tolist(), skeys.tolist(), status.tolist()))
    got = [answer.get(k, (None, "open", "")) for k in keys]
    stage_ids = pd.Series([g[0] for g in got], index=stage.index, dtype="Int64")
    outcomes = pd.Series([g[1] for g in got], index=stage.index, dtype=object)
    errors = pd.Series([g[2] for g in got], index=stage.index, dtype=object)
    ctx.reject(errors != "", errors)
    return pids.astype("Int64"), stage_ids, outcomes


def _new_stage(ctx, pid, name, position, probability, outcome) -> dict:
    """A stage to create: given its (local) id now, written once every position is known."""
    (sid,) = ctx.stage.local_ids(Stage.__table__, 1)
    row = {"pipeline_id": pid, "name": name, "probability": probability, "outcome": outcome}
    return {"id": sid, "key": name_key(name), "outcome": outcome, "position": position, "new": row}


def _stage_stages(ctx, stages, before) -> None:
    """Stage the new stages at their final positions, and the existing ones that moved."""
    new, moved = [], []
    for listed in stages.values():
        for s in listed:
            if "new" in s:
                new.append({"id": s["id"], **s["new"], "position": s["position"]})
            elif before.get(s["id"]) != s["position"]:
                moved.append({"b_id": s["id"], "position": s["position"]})
    ctx.stage.insert(Stage.__table__, new)
    ctx.stage.update(Stage.__table__, moved)


def raise_no_pipeline():
    from crm_tui.errors import ValidationError

    raise ValidationError("the database has no pipeline; name one in a 'pipeline' column")


def _stage_for(ctx, stages, pid, skey, status, sname, chance=NEW_STAGE_PROBABILITY):
    def first(outcome):
        return next((s for s in stages if s["outcome"] == outcome), None)

    if status is None:
        return None, "open", "status 'deleted': deleted deals are not imported"
    match = next((s for s in stages if skey and s["key"] == skey), None)
    if status in ("won", "lost"):
        if match is not None and match["outcome"] == status:
            return match["id"], status, ""
        target = first(status)
        if target is None:
            return None, status, f"the pipeline has no {status} stage"
        return target["id"], status, ""
    if match is not None:
        if status == "open" and match["outcome"] != "open":
            return None, "open", f"status is open but stage {sname!r} closes the deal; fix one of them"
        return match["id"], match["outcome"], ""
    if skey in WON_KEYS or skey in LOST_KEYS or skey.startswith(("closedwon", "closedlost")):
        outcome = "won" if (skey in WON_KEYS or skey.startswith("closedwon")) else "lost"
        target = first(outcome)
        if status == "open":
            return None, "open", f"status is open but stage {sname!r} closes the deal; fix one of them"
        if target is None:
            return None, outcome, f"the pipeline has no {outcome} stage"
        return target["id"], outcome, ""
    if not skey:
        target = first("open")
        if target is None:
            return None, "open", "no stage given and the pipeline has no open stage; add a stage column"
        return target["id"], "open", ""
    # An unknown name: a new open stage after the open ones, before won/lost.
    open_pos = [s["position"] for s in stages if s["outcome"] == "open"]
    pos = (max(open_pos) + 1) if open_pos else 0
    for s in stages:
        if s["position"] >= pos:
            s["position"] += 1
    made = _new_stage(ctx, pid, sname, pos, chance, "open")
    made["key"] = skey
    stages.append(made)
    stages.sort(key=lambda s: s["position"])
    ctx.also_created["stages"] = ctx.also_created.get("stages", 0) + 1
    return made["id"], "open", ""
