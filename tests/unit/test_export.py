"""Export every kind (CSV, XLSX, JSON); export → import into an empty database gives the same report."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.io.mapping import KINDS
from crm_tui.metrics import Filters, report

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
ORDER = ("products", "customers", "contacts", "deals", "tasks", "orders")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_db(tmp_path):
    from crm_tui import demo

    db = Database.open(str(tmp_path / "src.sqlite3"))
    demo.generate(db, size=150, seed=11, now=NOW)
    yield db
    db.close()


def comparable(rep: dict) -> dict:
    """The report without stage conversion and the learned months ahead: both are learned from the
    stage history, which is not exported (documented); the forecast by category is compared."""
    rep = json.loads(json.dumps(rep))
    for stage in rep["stages"]:
        stage.pop("conversion", None)
    rep["forecast"].pop("months")
    return rep


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip_gives_identical_report(demo_db, tmp_path, fmt):
    target = Database.open(str(tmp_path / f"dst-{fmt}.sqlite3"))
    for kind in ORDER:
        path = tmp_path / f"{kind}.{fmt}"
        n = export_kind(demo_db, kind, path, fmt)
        assert n > 0, kind
        assert os.stat(path).st_mode & 0o777 == 0o600
        r = import_file(target, kind, path, now=NOW)
        assert r.rejected == 0, (kind, r.first_errors)
        assert r.unmapped_columns == [], (kind, r.unmapped_columns)
    assert comparable(report(target, Filters(), now=NOW)) == comparable(report(demo_db, Filters(), now=NOW))
    target.close()


def test_json_export_types(demo_db):
    buf = io.StringIO()
    n = export_kind(demo_db, "deals", buf, "json")
    data = json.loads(buf.getvalue())
    assert len(data) == n and n > 0
    first = data[0]
    assert list(first) == [
        "external_id",
        "title",
        "customer",
        "customer_external_id",
        "pipeline",
        "stage",
        "status",
        "amount",
        "currency",
        "probability",
        "owner",
        "product",
        "quantity",
        "unit_price",
        "created_at",
        "expected_close",
        "closed_at",
        "lost_reason",
        "forecast_category",
    ]
    assert isinstance(first["amount"], (int, float)) and first["created_at"].endswith("+00:00")


def test_unknown_format_and_kind(demo_db, tmp_path):
    from crm_tui.errors import ValidationError

    with pytest.raises(ValidationError, match="unknown export format"):
        export_kind(demo_db, "deals", tmp_path / "x", "pdf")
    with pytest.raises(ValidationError, match="unknown kind"):
        export_kind(demo_db, "widgets", tmp_path / "x", "csv")
    with pytest.raises(ValidationError, match="needs a file"):
        export_kind(demo_db, "deals", io.StringIO(), "xlsx")


def run_cli(*args, env_db):
    env = {**os.environ, "CRM_TUI_DB": str(env_db)}
    return subprocess.run(
        [sys.executable, "-m", "crm_tui", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def test_cli_end_to_end(tmp_path):
    dbfile = tmp_path / "cli.sqlite3"
    src = REPO / "tests" / "data" / "io" / "hubspot_deals.csv"
    p = run_cli("import", "deals", str(src), "--dry-run", env_db=dbfile)
    assert p.returncode == 0, p.stderr
    assert "would import deals from hubspot_deals.csv: 3 created, 0 updated, 0 rejected" in p.stdout
    assert "dry run: nothing was written" in p.stdout and "'Deal Type'" in p.stdout
    p = run_cli("import", "deals", str(src), env_db=dbfile)
    assert p.returncode == 0 and "3 created" in p.stdout and p.stderr == ""  # no progress line off a TTY
    p = run_cli("export", "deals", env_db=dbfile)
    assert p.returncode == 0 and p.stdout.startswith("external_id,title,customer,")
    assert "Acme renewal 2024" in p.stdout
    out = tmp_path / "d.xlsx"
    p = run_cli("export", "deals", "-o", str(out), env_db=dbfile)
    assert p.returncode == 0 and os.stat(out).st_mode & 0o777 == 0o600
    p = run_cli("export", "deals", "--format", "xlsx", env_db=dbfile)
    assert (
        p.returncode == 2
        and p.stderr.strip() == "crm-tui: error: xlsx is a binary format; give a file with -o FILE.xlsx"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nGood,g@x.example\nBad,nope\n")
    p = run_cli("import", "customers", str(bad), env_db=dbfile)
    assert p.returncode == 3 and "1 created, 0 updated, 1 rejected" in p.stdout  # 3: some rows rejected
    assert "row 3: email must look like name@example.com" in p.stdout
    assert (tmp_path / "bad.csv.rejected.csv").exists()
    for args, message in [
        (("import", "deals", str(tmp_path / "nope.csv")), "no such file"),
        (("import", "deals", str(src), "--map", "Amount=colour"), "have no field 'colour'"),
        (("import", "deals", str(src), "--map", "Amount"), "--map needs COLUMN=FIELD"),
        (("import", "deals", str(src), "--encoding", "nonsense"), "unknown encoding"),
    ]:
        p = run_cli(*args, env_db=dbfile)
        assert p.returncode == 2 and p.stderr.startswith("crm-tui: error: ") and message in p.stderr, p.stderr
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_help_lists_import_and_export():
    p = subprocess.run(
        [sys.executable, "-m", "crm_tui", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert "import" in p.stdout and "export" in p.stdout
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, crm_tui.cli_io; "
            "print(any(m in sys.modules for m in ('pandas', 'sqlmodel', 'openpyxl', 'sqlalchemy')))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert p.stdout.strip() == "False"


def test_every_kind_exports_in_every_format(demo_db, tmp_path):
    for kind in KINDS:
        for fmt in ("csv", "json", "xlsx"):
            written = export_kind(demo_db, kind, tmp_path / f"{kind}.{fmt}", fmt)
            assert written > 0 or kind == "goals"  # the demo sets no goals (test_goals_io exports some)
