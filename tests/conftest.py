"""Fixtures every tier shares: a temp database, services on a frozen clock."""

from __future__ import annotations

import datetime as dt

import pytest

UTC = dt.timezone.utc
FROZEN_NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never touch the developer's real settings or database."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CRM_TUI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config-xdg"))
    monkeypatch.delenv("CRM_TUI_DB", raising=False)
    monkeypatch.setenv("CRM_TUI_USER", "tester")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "crm.sqlite3"


@pytest.fixture
def db(db_path):
    from crm_tui.db import Database

    database = Database.open(str(db_path))
    yield database
    database.close()


class Clock:
    """A settable clock: ``clock.now`` is returned; ``clock.advance(days=1)``."""

    def __init__(self, now: dt.datetime = FROZEN_NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def services(db, clock):
    from crm_tui.services import Services

    return Services(db, user="ann", clock=clock)
