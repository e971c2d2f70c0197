"""The backtest on the Maven CRM data set (SQLite; imported once for the module): the learned
forecast beats the stage-probability baseline, with the figures it gives on that fixed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_tui.cli import main
from crm_tui.db import Database
from crm_tui.io import import_file

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"


@pytest.fixture(scope="module")
def maven_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maven")
    folder.chmod(0o700)
    path = folder / "maven.sqlite3"
    db = Database.open(str(path))
    import_file(db, "products", MAVEN / "products.csv")
    import_file(db, "customers", MAVEN / "accounts.csv")
    import_file(db, "deals", MAVEN / "sales_pipeline.csv")
    db.close()
    return str(path)


def test_learned_forecast_beats_the_baseline_on_maven(maven_db, capsys):
    assert main(["forecast", "--backtest", "--format", "json", "--db", maven_db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"months", "overall"}
    assert [m["month"] for m in out["months"]] == [f"2017-{m:02}" for m in range(1, 13)]
    assert all(set(m) == {"month", "actual", "learned", "baseline"} for m in out["months"])
    assert set(out["overall"]) == {"learned", "baseline"}
    assert all(set(v) == {"mape", "bias"} for v in out["overall"].values())
    # March: nothing won before it to learn from, so the learned forecast is the baseline (10% of the list value open)
    assert out["months"][2] == {"month": "2017-03", "actual": 1134672, "learned": 286945.6, "baseline": 286945.6}
    assert sum(m["actual"] for m in out["months"]) == 10005534  # every won close_value in the CSV
    learned, baseline = out["overall"]["learned"], out["overall"]["baseline"]
    assert learned["mape"] < baseline["mape"]
    # the figures the method gives on this fixed data (a regression check)
    assert (learned["mape"], learned["bias"]) == (0.2925, -0.1161)
    assert (baseline["mape"], baseline["bias"]) == (0.5118, -0.5118)


def test_forecast_text_names_both_errors(maven_db, capsys):
    assert main(["forecast", "--backtest", "--months", "3", "--db", maven_db]) == 0
    text = capsys.readouterr().out
    assert "2017-12" in text and "learned   MAPE" in text and "baseline  MAPE" in text
    assert main(["forecast", "--months", "0", "--db", maven_db]) == 2
    assert "--months must be between 1 and 120" in capsys.readouterr().err


def test_the_interval_widened_by_past_misses_holds_more_months(maven_db):
    from crm_tui.metrics.forecast import backtest_book, load_book

    book = load_book(Database.open(maven_db))
    # the share of the 10 months that won something whose actual fell inside the "80%" interval
    assert backtest_book(book, widen=False).coverage == 0.4  # the deals' own luck alone: too narrow
    assert backtest_book(book).coverage == 0.6


def test_the_forecast_learned_a_part_at_a_time_is_the_one_learned_whole(maven_db, monkeypatch):
    """On real data, read in parts of 500 deal ids (``forecast_read.read_parts``): what the book
    teaches and the months ahead, as from the book read whole."""
    import datetime as dt

    from crm_tui.metrics import forecast_read
    from crm_tui.metrics.forecast import forecast_months, load_book
    from crm_tui.metrics.forecast_learn import apply_learned, learn, learn_parts

    db = Database.open(maven_db)
    try:
        now = dt.datetime(2017, 11, 20, 10, tzinfo=dt.UTC)
        whole = load_book(db)
        want = learn(whole, months=4, now=now)
        monkeypatch.setattr(forecast_read, "PART", 500)
        with db.read() as s:
            parts, first = forecast_read.read_parts(s.connection())
            books = list(parts)
        assert len(books) > 10 and sum(len(b) for b in books) == len(whole)
        assert learn_parts(books, first, months=4, now=now).json() == want.json()
        assert any(c.won_v.any() for c in want.cells)  # it learned something to compare
        assert forecast_months(db, months=4, now=now, keep=False) == apply_learned(want, whole, now=now)
    finally:
        db.close()
