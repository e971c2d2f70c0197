"""The command line as a user runs it: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

REPORT_KEYS = {
    "customers": {"count", "value"},
    "deals": {
        "open_count",
        "open_value",
        "weighted_value",
        "won_count",
        "won_value",
        "lost_count",
        "lost_value",
        "win_rate",
        "win_rate_by_value",
        "avg_won_value",
        "avg_cycle_days",
        "velocity_per_day",
    },
    "stages": {"name", "kind", "count", "value", "weighted_value", "conversion"},
    "owners": {"owner", "open_count", "won_count", "won_value", "lost_count", "win_rate"},
    "tasks": {"open", "overdue", "due_today", "done", "on_time_rate"},
    "orders": {"count", "value"},
    "market_demand": {"product", "quantity", "unit_price", "demand"},
    "segments": {"segment", "count", "value"},
    "revenue_by_month": {"month", "won_value"},
    "activities": {"total", "by_kind", "by_owner", "outcomes"},
    "goals": {"owner", "metric", "period", "start", "end", "target", "actual", "attainment"},
    "forecast": {"months", "categories"},
}


def crm(*args, env=None, check=False):
    result = subprocess.run(
        [sys.executable, "-m", "crm_tui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("crm-tui: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[-1]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    crm("--db", str(path), "demo", "--no-open", "--size", "300", "--seed", "3", check=True)
    return path


def test_demo_then_report_json_has_every_key_and_adds_up(demo_db):
    data = json.loads(crm("--db", str(demo_db), "report", "--format", "json", check=True).stdout)
    assert data.pop("currency") == "USD"  # added with currencies: the home currency of every money figure
    assert set(data) == set(REPORT_KEYS)
    for key, fields in REPORT_KEYS.items():
        rows = data[key] if isinstance(data[key], list) else [data[key]]
        assert rows or key == "goals", f"{key} is empty on demo data"  # the demo sets no goals
        for row in rows:
            assert set(row) == fields, key
    months = data["forecast"]["months"]
    assert len(months) == 6 and set(months[0]) == {"month", "weighted", "learned", "low", "high"}
    assert all(m["low"] <= m["learned"] <= m["high"] for m in months)
    assert set(data["forecast"]["categories"]) == {"pipeline", "best_case", "commit", "closed"}
    deals = data["deals"]
    open_stages = [s for s in data["stages"] if s["kind"] == "open"]
    assert sum(s["count"] for s in open_stages) == deals["open_count"]
    assert sum(s["value"] for s in open_stages) == pytest.approx(deals["open_value"])
    assert sum(s["weighted_value"] for s in open_stages) == pytest.approx(deals["weighted_value"])
    won = next(s for s in data["stages"] if s["kind"] == "won")
    assert won["count"] == deals["won_count"]
    assert deals["win_rate"] == pytest.approx(deals["won_count"] / (deals["won_count"] + deals["lost_count"]), abs=1e-3)
    assert sum(o["won_count"] for o in data["owners"]) == deals["won_count"]
    assert sum(m["won_value"] for m in data["revenue_by_month"]) == pytest.approx(deals["won_value"])
    assert data["customers"]["count"] == 300
    activities = data["activities"]  # all time, everyone: every done task
    assert activities["total"] == data["tasks"]["done"] == sum(o["total"] for o in activities["by_owner"]) > 0


def test_report_text_and_csv(demo_db):
    text = crm("--db", str(demo_db), "report", check=True).stdout
    assert "Win rate" in text or "win rate" in text.lower()
    csv_out = crm("--db", str(demo_db), "report", "--format", "csv", check=True).stdout
    assert csv_out.count("\n") > 10


def test_report_owner_and_period_filters(demo_db):
    everyone = json.loads(crm("--db", str(demo_db), "report", "--format", "json", check=True).stdout)
    owner = everyone["owners"][0]["owner"]
    mine = json.loads(crm("--db", str(demo_db), "report", "--format", "json", "--owner", owner, check=True).stdout)
    assert mine["deals"]["won_count"] == everyone["owners"][0]["won_count"]
    nothing = json.loads(
        crm(
            "--db",
            str(demo_db),
            "report",
            "--format",
            "json",
            "--since",
            "1990-01-01",
            "--until",
            "1990-12-31",
            check=True,
        ).stdout
    )
    assert nothing["deals"]["won_count"] == 0 and nothing["revenue_by_month"] == []


def test_demo_is_deterministic(tmp_path):
    dumps = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.sqlite3"
        crm("--db", str(path), "demo", "--no-open", "--size", "40", "--seed", "11", check=True)
        raw = sqlite3.connect(path)
        dumps.append(raw.execute("select name, email, owner, status from customer order by id").fetchall())
        raw.close()
    assert dumps[0] == dumps[1] and len(dumps[0]) == 40


def test_demo_never_writes_over_real_data(tmp_path):
    path = tmp_path / "mine.sqlite3"
    script = (
        "from crm_tui.db import Database; from crm_tui.services import Services;"
        f"Services(Database.open({str(path)!r}), user='me').create_customer(name='My real customer')"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    result = crm("--db", str(path), "demo", "--no-open", "--size", "10")
    assert_one_line_error(result, "already holds data", "new file name")
    raw = sqlite3.connect(path)
    assert raw.execute("select name from customer").fetchall() == [("My real customer",)]
    raw.close()


def test_demo_default_location_is_separate_from_user_db(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    crm("demo", "--no-open", "--size", "20", env=env, check=True)
    assert (tmp_path / "data" / "crm-tui" / "demo.sqlite3").exists()
    assert not (tmp_path / "data" / "crm-tui" / "crm.sqlite3").exists()
    # run again with the same size and seed: reused, not regenerated
    again = crm("demo", "--no-open", "--size", "20", env=env, check=True)
    assert "Demo database ready" in again.stderr


def test_backup_writes_a_private_copy(demo_db, tmp_path):
    dest = tmp_path / "copy.sqlite3"
    out = crm("--db", str(demo_db), "backup", str(dest), check=True).stdout.strip()
    assert out == str(dest)
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    raw = sqlite3.connect(dest)
    assert raw.execute("select count(*) from customer").fetchone() == (300,)
    raw.close()
    assert_one_line_error(crm("--db", str(demo_db), "backup", str(dest)), "already exists")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["report", "--since", "2024-02-30"], "--since must be a real date"),
        (["report", "--since", "2024-05-01", "--until", "2024-01-01"], "is after --until"),
        (["demo", "--no-open", "--size", "0"], "--size must be between 1 and 1,000,000"),
    ],
)
def test_user_mistakes_are_one_line(tmp_path, args, fragment):
    assert_one_line_error(crm("--db", str(tmp_path / "x.sqlite3"), *args), fragment)


def test_bad_database_locations_are_one_line(tmp_path):
    assert_one_line_error(crm("--db", "/proc/nope/crm.sqlite3", "rates", "list"), "cannot create the database")
    assert_one_line_error(crm("--db", "mysqlx+nothing://h/db", "report"), "cannot use database URL")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"garbage" * 1000)
    assert_one_line_error(crm("--db", str(junk), "report"), "not a valid crm-tui database")


@pytest.mark.parametrize("args", [["report"], ["forecast"], ["history"], ["agenda"], ["export", "deals"], ["backup"]])
def test_a_command_that_only_reads_never_creates_a_mistyped_database(tmp_path, args):
    typo = tmp_path / "crm.sqltie3"
    assert_one_line_error(crm("--db", str(typo), *args), f"there is no database at {typo}")
    assert not typo.exists()


def test_unknown_option_exits_2_without_traceback():
    result = crm("--frobnicate")
    assert result.returncode == 2 and "unrecognized arguments: --frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_and_version():
    assert "report" in crm("--help", check=True).stdout
    assert crm("--version", check=True).stdout.startswith("crm-tui ")


def test_an_earlier_demo_on_a_server_is_never_a_local_file_to_delete(pg_db_url, tmp_path):
    """A demo database named by CRM_TUI_DEMO_DB on PostgreSQL, made with other options, is refused:
    its database name is not a path, and a file of that name beside the rep must survive."""
    from sqlalchemy.engine import make_url

    bystander = tmp_path / str(make_url(pg_db_url).database)
    bystander.write_text("the rep's own file")
    env = {**os.environ, "CRM_TUI_DEMO_DB": pg_db_url}

    def demo(size: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crm_tui", "demo", "--no-open", "--size", size],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    assert demo("5").returncode == 0
    result = demo("6")
    assert_one_line_error(result, "holds a demo made with size=5", "run the demo with those options")
    assert bystander.read_text() == "the rep's own file"
    assert demo("5").returncode == 0  # the earlier demo is still there, whole
