"""Every command works in a pipe that closes early (`| head -1`) and with stdout closed: no
traceback, a quiet exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [
    ["report"],
    ["report", "--format", "json"],
    ["export", "deals"],
    ["history"],
    ["--help"],
]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipes") / "demo.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "crm_tui", "demo", "--size", "400", "--no-open", "--db", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_reader_that_stops_early_gets_no_traceback(demo_db, args):
    cmd = [sys.executable, "-m", "crm_tui", *args] + (["--db", str(demo_db)] if args != ["--help"] else [])
    # export deals writes more than a pipe holds (64 KiB): head is gone before the last write
    shell = " ".join(f"'{part}'" for part in cmd) + " | head -c 10 >/dev/null"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert done.stderr == "" or done.stderr.startswith("crm-tui: warning"), done.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_stdout_gets_no_traceback(demo_db, args):
    cmd = [sys.executable, "-m", "crm_tui", *args] + (["--db", str(demo_db)] if args != ["--help"] else [])
    shell = " ".join(f"'{part}'" for part in cmd) + " >&-"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_to_dash_writes_standard_output_not_a_file_called_dash(demo_db, tmp_path, fmt):
    """`-o -` is the usual name for standard output: the records arrive there, no file "-" appears."""
    cmd = [sys.executable, "-m", "crm_tui", "--db", str(demo_db), "export", "customers", "--format", fmt, "-o", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "-").exists()
    assert done.stdout.startswith("external_id,name" if fmt == "csv" else "["), done.stdout[:80]
