"""`crm-tui import` exit status: 0 every row in, 3 some rows rejected, 2 nothing imported; a dry
run touches nothing on disk (no database file, no rejected-rows file)."""

from __future__ import annotations

import pytest

from crm_tui.cli import main


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    def go(*args: str, db=None) -> tuple[int, str]:
        monkeypatch.setenv("CRM_TUI_DB", str(db or tmp_path / "crm.sqlite3"))
        code = main(["import", *args])
        return code, capsys.readouterr().out

    return go


def test_exit_status(run, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("name,email\nA,a@x.example\nB,b@x.example\n", encoding="utf-8")
    some = tmp_path / "some.csv"
    some.write_text("name,email\nC,c@x.example\nD,nope\n", encoding="utf-8")
    none = tmp_path / "none.csv"
    none.write_text("name,email\nE,nope\n,f@x.example\n", encoding="utf-8")
    assert run("customers", str(good))[0] == 0
    code, out = run("customers", str(some))
    assert code == 3 and "1 created, 0 updated, 1 rejected" in out
    code, out = run("customers", str(none))
    assert code == 2 and "0 created, 0 updated, 2 rejected" in out
    assert run("customers", str(good))[0] == 0  # again: 2 updated


def test_dry_run_touches_nothing_on_disk(run, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    path = data / "deals.csv"
    path.write_text(
        'Deal Name,Stage,Amount,Created\nPilot,Won,100,"15 Apr, 2021 00:02:00"\nBad,Won,lots,\n', encoding="utf-8"
    )
    target = tmp_path / "new" / "crm.sqlite3"
    code, out = run("deals", str(path), "--dry-run", db=target)
    assert code == 3
    assert "would import deals from deals.csv: 1 created, 0 updated, 1 rejected" in out
    assert "row 3: amount must be an amount" in out and "dry run: nothing was written" in out
    assert not target.exists() and not target.parent.exists()
    assert sorted(p.name for p in data.iterdir()) == ["deals.csv"]  # no deals.csv.rejected.csv
