"""Promises about imports: the core never needs textual, and `--help` stays light."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import crm_tui


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(crm_tui.__path__, "crm_tui."):
        if info.name.startswith("crm_tui.tui") or info.name == "crm_tui.__main__":
            continue
        names.append(info.name)
    return names


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_core_imports_without_textual():
    modules = core_modules()
    assert "crm_tui.services" in modules and "crm_tui.db" in modules and "crm_tui.metrics" in modules
    out = run(
        f"""
        import importlib, sys
        for name in {modules!r}:
            importlib.import_module(name)
        print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
        """
    )
    assert out == "[]"


def test_help_imports_neither_textual_nor_pandas_nor_sqlmodel():
    out = run(
        """
        import sys, contextlib, io
        from crm_tui.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["--help"])
            except SystemExit:
                pass
        heavy = {"textual", "pandas", "sqlmodel", "sqlalchemy"}
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    assert out == "[]"
