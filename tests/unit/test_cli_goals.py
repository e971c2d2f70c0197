"""`crm-tui goal set|list|remove` and the report's ``goals`` key, run in-process."""

from __future__ import annotations

import datetime as dt
import json

from crm_tui.cli import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_goal_set_list_remove_and_the_report_key(tmp_path, capsys):
    db = str(tmp_path / "crm.sqlite3")
    code, out, _ = run(
        capsys, "--db", db, "goal", "set", "--metric", "won_value", "--period", "month", "--target", "120000"
    )
    assert code == 0 and "target 120000" in out
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "goal",
        "set",
        "--metric",
        "deals_won",
        "--period",
        "week",
        "--target",
        "4",
        "--owner",
        "ann",
    )
    assert code == 0
    code, out, _ = run(capsys, "--db", db, "goal", "list", "--format", "json")
    goals = json.loads(out)["goals"]
    assert [(g["owner"], g["metric"], g["target"], g["actual"]) for g in goals] == [
        ("", "won_value", 120000, 0),  # typed in currency units, stored in cents, shown in units
        ("ann", "deals_won", 4, 0),
    ]
    today = dt.date.today()
    assert goals[0]["start"] == today.replace(day=1).isoformat()
    code, out, _ = run(capsys, "--db", db, "goal", "list")
    assert "of 120,000 won" in out and "of 4 deals won" in out
    code, out, _ = run(capsys, "--db", db, "report", "--format", "json")
    assert [g["metric"] for g in json.loads(out)["goals"]] == ["won_value", "deals_won"]
    code, out, _ = run(capsys, "--db", db, "report", "--format", "json", "--owner", "ann")
    assert [g["metric"] for g in json.loads(out)["goals"]] == ["deals_won"]
    code, out, _ = run(capsys, "--db", db, "report")
    assert "Goals (this period)" in out and "(everyone)" in out
    code, out, _ = run(capsys, "--db", db, "goal", "remove", str(goals[1]["id"]))
    assert code == 0
    code, out, _ = run(capsys, "--db", db, "goal", "list", "--format", "json")
    assert len(json.loads(out)["goals"]) == 1


def test_goal_mistakes_are_one_line(tmp_path, capsys):
    db = str(tmp_path / "crm.sqlite3")
    for args, words in [
        (("--metric", "won_value", "--period", "month", "--target", "0"), "greater than 0"),
        (("--metric", "deals_advanced", "--period", "month", "--target", "3"), "needs the stage"),
        (("--metric", "deals_advanced", "--period", "month", "--target", "3", "--stage", "Nope"), "no stage named"),
    ]:
        code, out, err = run(capsys, "--db", db, "goal", "set", *args)
        assert code == 2 and err.strip().splitlines()[-1].startswith("crm-tui: error:") and words in err
        assert "Traceback" not in err
    code, _, err = run(capsys, "--db", db, "goal", "remove", "77")
    assert code == 2 and "goal #77 does not exist" in err


def test_a_mistyped_owner_is_said_not_silently_counted_as_nothing(tmp_path, capsys):
    """`report --owner` or `goal set --owner` with a name nobody has: the command still runs
    (a new rep may own nothing yet) and one warning names the closest owner there is."""
    from crm_tui.db import Database
    from crm_tui.services import Services

    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    try:
        services = Services(db)
        services.create_deal("Rollout", amount="100", owner="Maya Patel")
    finally:
        db.close()
    code, out, err = run(capsys, "--db", str(path), "report", "--format", "json", "--owner", "Maya Patl")
    assert code == 0 and json.loads(out)["deals"]["open_count"] == 0
    assert "'Maya Patl' owns no deal, task, customer or order" in err and "did you mean 'Maya Patel'?" in err
    code, out, err = run(capsys, "--db", str(path), "report", "--format", "json", "--owner", "Maya Patel")
    assert code == 0 and err == "" and json.loads(out)["deals"]["open_count"] == 1
    args = ["--db", str(path), "goal", "set", "--metric", "deals_won", "--period", "month", "--target", "3"]
    code, out, err = run(capsys, *args, "--owner", "maya patel")
    assert code == 0 and "did you mean 'Maya Patel'?" in err and "goal #1" in out
    code, out, err = run(capsys, *args, "--owner", "Maya Patel")
    assert code == 0 and err == ""
    # the goal set under a name one case away from an owner's does not make that name someone
    code, out, err = run(capsys, "--db", str(path), "report", "--owner", "maya patel")
    assert code == 0 and "'maya patel' has a goal but owns no deal" in err and "'Maya Patel'?" in err
    # a new rep with a goal who owns nothing yet is no typo: nothing said
    code, out, err = run(capsys, *args, "--owner", "Noor Haddad")
    assert code == 0 and "owns no deal" in err  # said once, when the goal is set for a name nobody has
    code, out, err = run(capsys, "--db", str(path), "report", "--owner", "Noor Haddad")
    assert code == 0 and err == ""
    # the text names whose report it is, and that C and V stay every owner's (DESIGN §2)
    code, out, err = run(capsys, "--db", str(path), "report", "--owner", "Maya Patel")
    lines = out.splitlines()
    assert lines[0] == "Sales report: Maya Patel's deals, tasks and orders"
    assert [ln for ln in lines if ln.lstrip().startswith(("C ", "V "))][0].endswith("(every owner's)")
    code, out, err = run(capsys, "--db", str(path), "report")
    assert out.splitlines()[0] == "Sales report" and "(every owner's)" not in out
