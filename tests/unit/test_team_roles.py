"""A team on PostgreSQL: two reps and a manager, each rule tried through the services and
through raw SQL as that login (refused by the server, not only by the app)."""

from __future__ import annotations

import io
import sys
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm_tui import cli, team
from crm_tui.db import Database
from crm_tui.errors import DatabaseError
from crm_tui.services import Services


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def crew(pg_db_url):
    """URLs of two reps and a manager on a fresh team database (added with ``crm-tui team``)."""
    tag = uuid.uuid4().hex[:6]
    names = {"ann": f"ann_{tag}", "bob": f"bob_{tag}", "max": f"max_{tag}"}
    urls = {}
    for key, login in names.items():
        role = "manager" if key == "max" else "rep"
        password = f"pw-{login}-long-enough"
        old = sys.stdin
        sys.stdin = io.StringIO(password + "\n")
        try:
            assert cli.main(["--db", pg_db_url, "team", "add-rep", login, "--role", role, "--password-stdin"]) == 0
        finally:
            sys.stdin = old
        urls[key] = make_url(pg_db_url).set(username=login, password=password).render_as_string(hide_password=False)
    return names, urls


def raw(url: str, sql: str, *params):
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.rowcount, (cur.fetchall() if cur.description else None)


def test_reps_change_only_their_own_and_the_manager_everything(crew):
    names, urls = crew
    ann_db, bob_db, max_db = (Database.open(urls[k]) for k in ("ann", "bob", "max"))
    try:
        ann, bob, boss = Services(ann_db), Services(bob_db, user=names["ann"]), Services(max_db)
        assert (ann.user, bob.user, boss.user) == (names["ann"], names["bob"], names["max"])
        acme = ann.create_customer(name="Acme")
        deal = ann.create_deal("Rollout", customer_id=acme.id, amount=100)
        assert deal.owner == names["ann"]
        ann.update_deal(deal.id, amount=150)

        # bob reads ann's deal and customer, but cannot change the deal: the services say whose it is
        with bob_db.read() as session:
            from crm_tui.models import Deal

            assert session.get(Deal, deal.id).owner == names["ann"]
        with pytest.raises(DatabaseError, match=f"is {names['ann']}'s; only {names['ann']} or a manager"):
            bob.update_deal(deal.id, amount=1)
        with pytest.raises(DatabaseError, match="not allowed"):
            bob.win_deal(deal.id)
        # nor make a deal in ann's name
        with pytest.raises(DatabaseError, match="may change only their own deals"):
            bob.create_deal("Forged", customer_id=acme.id, amount=5, owner=names["ann"])
        # nor touch the pipelines (a manager's)
        with pytest.raises(DatabaseError, match="may not change pipelines"):
            bob.create_pipeline("Mine")
        own = bob.create_deal("Bob's", customer_id=acme.id, amount=7)
        assert own.owner == names["bob"]

        # the manager changes anyone's deal and reassigns it
        boss.update_deal(deal.id, owner=names["bob"])
        bob.update_deal(deal.id, amount=175)  # now bob's
        with pytest.raises(DatabaseError, match="not allowed"):
            ann.update_deal(deal.id, amount=1)

        # undo works for a rep (it marks only their own journal entry)
        bob.undo()
    finally:
        for d in (ann_db, bob_db, max_db):
            d.close()

    # the same rules through raw SQL as each login
    deal_id = deal.id
    assert raw(urls["ann"], "UPDATE deal SET amount_cents = 1 WHERE id = %s", deal_id)[0] == 0  # bob's now
    assert raw(urls["ann"], "DELETE FROM deal")[0] == 0  # none of them is ann's any more
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw(urls["bob"], "UPDATE deal SET owner = %s WHERE id = %s", names["ann"], own.id)  # give it away
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw(urls["bob"], "INSERT INTO pipeline (name, position) VALUES ('x', 9)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw(urls["ann"], "DELETE FROM stage")
    assert raw(urls["max"], "UPDATE deal SET amount_cents = 2 WHERE id = %s", deal_id)[0] == 1
    assert raw(urls["bob"], "SELECT count(*) FROM deal")[1] == [(2,)]  # reads all


def test_nobody_alters_or_deletes_the_journal(crew, capsys):
    names, urls = crew
    db = Database.open(urls["ann"])
    try:
        Services(db).create_customer(name="Acme")
    finally:
        db.close()
    for who in ("ann", "max"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw(urls[who], "UPDATE journal SET who = 'someone', action = 'nothing'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw(urls[who], "DELETE FROM journal")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw(urls[who], "DELETE FROM journal_change")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # written only as oneself
        raw(
            urls["bob"],
            "INSERT INTO journal (at, who, kind, action, undone) VALUES (now(), %s, 'x', 'x', false)",
            names["ann"],
        )
    assert raw(urls["bob"], "UPDATE journal SET undone = true")[0] == 0  # ann's entries: not bob's to mark

    # crm-tui history shows the login
    assert cli.main(["--db", urls["max"], "history"]) == 0
    assert names["ann"] in capsys.readouterr().out


def test_team_list_and_set_role(crew, pg_db_url, capsys):
    names, urls = crew
    capsys.readouterr()
    assert cli.main(["--db", pg_db_url, "team", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{names['ann']}\trep" in out and f"{names['max']}\tmanager" in out
    assert cli.main(["--db", pg_db_url, "team", "set-role", names["bob"], "viewer"]) == 0
    db = Database.open(urls["bob"])
    try:
        with pytest.raises(DatabaseError, match="may not change customers"):
            Services(db).create_customer(name="Nope")
    finally:
        db.close()
    # a rep cannot manage the team
    assert cli.main(["--db", urls["ann"], "team", "add-rep", "zed_x"]) == 2
    assert "may not manage the team" in capsys.readouterr().err
    assert team.check_role("rep") == "rep"


def test_the_team_policy_decides_whether_reps_see_other_reps_deals(crew, pg_db_url, capsys):
    names, urls = crew
    ann_db, bob_db = Database.open(urls["ann"]), Database.open(urls["bob"])
    try:
        ann, bob = Services(ann_db), Services(bob_db)
        acme = ann.create_customer(name="Acme")
        deal = ann.create_deal("Rollout", customer_id=acme.id, amount=100)
        bob.create_deal("Bob's", customer_id=acme.id, amount=7)
        assert raw(urls["bob"], "SELECT count(*) FROM deal")[1] == [(2,)]  # the default: reps see all
        assert cli.main(["--db", urls["bob"], "team", "policy", "--reps-see", "own"]) == 2  # not a rep's call
        assert "may not manage the team" in capsys.readouterr().err
        assert cli.main(["--db", pg_db_url, "team", "policy", "--reps-see", "own"]) == 0
        assert "reps see own deals (was: all)" in capsys.readouterr().err
        assert raw(urls["bob"], "SELECT title FROM deal")[1] == [("Bob's",)]
        assert raw(urls["bob"], "SELECT count(*) FROM stage_change WHERE deal_id = %s", deal.id)[1] == [(0,)]
        assert raw(urls["ann"], "SELECT title FROM deal")[1] == [("Rollout",)]
        assert raw(urls["max"], "SELECT count(*) FROM deal")[1] == [(2,)]  # the manager sees every deal
        with bob_db.read() as session:
            from crm_tui.models import Deal

            assert session.get(Deal, deal.id) is None  # the app reads through the same rules
        assert cli.main(["--db", pg_db_url, "team", "policy", "--reps-see", "all"]) == 0
        assert raw(urls["bob"], "SELECT count(*) FROM deal")[1] == [(2,)]
    finally:
        ann_db.close()
        bob_db.close()
