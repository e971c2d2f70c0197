"""A PostgreSQL server on another machine is reached over TLS unless the URL says otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from crm_tui import engines
from crm_tui.db import Database
from crm_tui.errors import DatabaseError


@pytest.fixture(autouse=True)
def _no_libpq_env(monkeypatch):
    monkeypatch.delenv("PGSSLMODE", raising=False)
    monkeypatch.delenv("PGHOST", raising=False)


def args(url: str) -> dict:
    return engines.postgresql_connect_args(make_url(url))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://ann@db.example.com/crm",
        "postgresql+psycopg://ann@10.0.0.5:5433/crm",
        "postgresql+psycopg://ann@[2001:db8::1]/crm",
        "postgresql+psycopg://ann@/crm?host=db.example.com",
        "postgresql+psycopg://ann@localhost,db2.example.com/crm",
    ],
)
def test_another_machine_requires_tls(url):
    assert args(url)["sslmode"] == "require"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://ann@localhost/crm",
        "postgresql+psycopg://ann@127.0.0.1:5433/crm",
        "postgresql+psycopg://ann@[::1]/crm",
        "postgresql+psycopg://ann@/crm",  # the default Unix socket
        "postgresql+psycopg://ann@/crm?host=/var/run/postgresql",
    ],
)
def test_this_machine_is_left_as_it_is(url):
    assert "sslmode" not in args(url)


def test_the_url_or_pgsslmode_wins(monkeypatch):
    assert "sslmode" not in args("postgresql+psycopg://ann@db.example.com/crm?sslmode=disable")
    assert "sslmode" not in args("postgresql+psycopg://ann@db.example.com/crm?sslmode=verify-full")
    monkeypatch.setenv("PGSSLMODE", "verify-ca")
    assert "sslmode" not in args("postgresql+psycopg://ann@db.example.com/crm")


def test_a_server_without_tls_is_one_clear_message(pg_db_url):
    # the test cluster has no TLS: require it, as for a remote server
    url = make_url(pg_db_url).update_query_dict({"sslmode": "require"}).render_as_string(hide_password=False)
    with pytest.raises(DatabaseError) as caught:
        Database.open(url)
    message = caught.value.message
    assert "does not accept encrypted (TLS) connections" in message and "?sslmode=disable" in message
