"""A team on PostgreSQL: one login per rep, three roles, enforced by the server.

The group roles ``crm_rep``, ``crm_manager`` and ``crm_viewer`` get their rights from grants
and row-level security policies made here (by the schema upgrade to version 8, and again by
every ``crm-tui team`` command, so tables a later version adds are covered):

- viewer: reads everything, changes nothing;
- rep: reads everything; adds and changes customers and contacts; adds, changes and deletes
  only their own deals (with their lines and stage moves), tasks, notes and orders (with their
  lines) — "own" being ``owner`` (``author`` for a note) equal to the session's login; writes
  the journal only as themselves, and of it changes nothing but the undone mark of their own
  entries; pipelines, stages, stage tasks, products, rates and goals are read only;
- manager: everything, reassigning owners included; the journal as the rep does, plus nothing:
  no role can change or delete what the journal says was done, or by whom.

Policies compare with ``session_user``: the login the server authenticated, which ``SET
ROLE`` cannot change. The tables' owner (who runs the upgrades) is not bound by the
policies. On SQLite nothing here applies.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from crm_tui.errors import ValidationError
from crm_tui.models import ALL_TABLES, FIGURE_TABLES

ROLES = {"rep": "crm_rep", "manager": "crm_manager", "viewer": "crm_viewer"}
GROUPS = tuple(ROLES.values())
ALL = "crm_rep, crm_manager, crm_viewer"

#: every table of the schema (the journal's and the change log's rights are their own)
TABLES = ("crm_meta", "change_log", *ALL_TABLES, "journal", "journal_change", *FIGURE_TABLES)
#: tables a rep writes (row security narrows the owned ones to the rep's own rows)
REP_WRITES = (
    "customer",
    "contact",
    "deal",
    "deal_product",
    "stage_change",
    "task",
    "note",
    "sales_order",
    "order_line",
)
ME = "session_user"
#: table → the condition that a row is the rep's own
OWN = {
    "deal": f"owner = {ME}",
    "task": f"owner = {ME}",
    "note": f"author = {ME}",
    "sales_order": f"owner = {ME}",
    "deal_product": f"EXISTS (SELECT 1 FROM deal d WHERE d.id = deal_id AND d.owner = {ME})",
    "stage_change": f"EXISTS (SELECT 1 FROM deal d WHERE d.id = deal_id AND d.owner = {ME})",
    "order_line": f"EXISTS (SELECT 1 FROM sales_order o WHERE o.id = order_id AND o.owner = {ME})",
}
#: the crm_meta key of the team's policy on other reps' deals: "all" (the default) or "own"
SEE_KEY = "team_reps_see"
SEE_CHOICES = ("all", "own")
#: deals and what only describes a deal: a rep reads another rep's only when the policy is "all"
_DEAL_READS = ("deal", "deal_product", "stage_change")
_SEES_ALL = f"NOT EXISTS (SELECT 1 FROM crm_meta m WHERE m.key = '{SEE_KEY}' AND m.value = 'own')"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _exec(conn: Any, sql: str) -> None:
    conn.exec_driver_sql(sql)


def _quote(conn: Any, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(name))


def check_name(name: str) -> str:
    """A login name crm-tui creates: lower case letters, digits and _, starting with a letter."""
    name = (name or "").strip()
    if not _NAME.match(name) or name.startswith("pg_") or name in GROUPS:
        raise ValidationError(
            f"'{name}' cannot be a login name: use lower-case letters, digits and _ (up to 63, starting with "
            "a letter), not pg_… or a role's own name"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    return role


def ensure_groups(conn: Any) -> None:
    """The three group roles (cluster-wide), made if missing; needs CREATEROLE once."""
    for group in GROUPS:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).first()
        if exists is None:  # two sessions may race to make it: the second finds it made
            _exec(
                conn,
                f"DO $$ BEGIN CREATE ROLE {group} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
            )


def grant_figures(conn: Any) -> None:
    """Every role reads the kept figures; the triggers that write them run as their owner
    (``crm_tui.kept``), and a manager may rebuild them."""
    figures = ", ".join(FIGURE_TABLES)
    _exec(conn, f"GRANT SELECT ON {figures} TO {ALL}")
    _exec(conn, f"GRANT ALL ON {figures} TO crm_manager")


def secure(conn: Any) -> None:
    """Grants and row-level security for the three roles on this database (idempotent, in the
    caller's transaction). PostgreSQL only."""
    ensure_groups(conn)
    database = _quote(conn, conn.exec_driver_sql("SELECT current_database()").scalar())
    _exec(conn, f"GRANT CONNECT ON DATABASE {database} TO {ALL}")
    _exec(conn, f"GRANT USAGE ON SCHEMA public TO {ALL}")
    present = set(conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars())
    names = [t for t in TABLES if t in present]  # an upgrade secures before a later version adds its tables
    tables = ", ".join(names)
    _exec(conn, f"REVOKE ALL ON {tables} FROM {ALL}")
    _exec(conn, f"GRANT SELECT ON {tables} TO {ALL}")
    _exec(conn, f"GRANT ALL ON {', '.join(t for t in names if not t.startswith('journal'))} TO crm_manager")
    _exec(conn, f"GRANT INSERT, UPDATE, DELETE ON {', '.join(REP_WRITES)} TO crm_rep")
    _exec(conn, "GRANT INSERT ON change_log, journal, journal_change TO crm_rep, crm_manager")
    _exec(conn, "GRANT UPDATE (undone) ON journal TO crm_rep, crm_manager")
    _exec(conn, "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO crm_rep, crm_manager")
    for table in (*OWN, "journal", "journal_change"):
        _exec(conn, f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for old in conn.exec_driver_sql(
            "SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = %s "
            "AND policyname LIKE 'crm\\_%%'",
            (table,),
        ).scalars():
            _exec(conn, f"DROP POLICY {_quote(conn, old)} ON {table}")
        if table in _DEAL_READS:  # reps: their own, and the others' when the team's policy says so
            _exec(conn, f"CREATE POLICY crm_read ON {table} FOR SELECT TO crm_manager, crm_viewer USING (true)")
            _exec(
                conn, f"CREATE POLICY crm_rep_read ON {table} FOR SELECT TO crm_rep USING ({OWN[table]} OR {_SEES_ALL})"
            )
        else:
            _exec(conn, f"CREATE POLICY crm_read ON {table} FOR SELECT TO {ALL} USING (true)")
    for table, own in OWN.items():
        _exec(conn, f"CREATE POLICY crm_rep_add ON {table} FOR INSERT TO crm_rep WITH CHECK ({own})")
        _exec(conn, f"CREATE POLICY crm_rep_change ON {table} FOR UPDATE TO crm_rep USING ({own}) WITH CHECK ({own})")
        _exec(conn, f"CREATE POLICY crm_rep_remove ON {table} FOR DELETE TO crm_rep USING ({own})")
        _exec(conn, f"CREATE POLICY crm_manager_all ON {table} FOR ALL TO crm_manager USING (true) WITH CHECK (true)")
    # the journal: written as oneself, and only its undone mark ever changes
    _exec(conn, f"CREATE POLICY crm_add ON journal FOR INSERT TO crm_rep, crm_manager WITH CHECK (who = {ME})")
    _exec(
        conn,
        "CREATE POLICY crm_undo ON journal FOR UPDATE TO crm_rep, crm_manager "
        f"USING (who = {ME}) WITH CHECK (who = {ME})",
    )
    _exec(
        conn,
        "CREATE POLICY crm_add ON journal_change FOR INSERT TO crm_rep, crm_manager WITH CHECK "
        f"(EXISTS (SELECT 1 FROM journal j WHERE j.id = entry_id AND j.who = {ME}))",
    )


def set_reps_see(conn: Any, choice: str) -> str:
    """The team's policy on other reps' deals ("all" or "own"); returns the one it replaces.
    A manager's (or the owner's) action: crm_meta is theirs to write."""
    if choice not in SEE_CHOICES:
        raise ValidationError(f"reps see 'all' deals or their 'own', not {choice!r}")
    old = conn.exec_driver_sql("SELECT value FROM crm_meta WHERE key = %s", (SEE_KEY,)).scalar() or "all"
    conn.exec_driver_sql("DELETE FROM crm_meta WHERE key = %s", (SEE_KEY,))
    conn.exec_driver_sql("INSERT INTO crm_meta (key, value) VALUES (%s, %s)", (SEE_KEY, choice))
    return str(old)


@dataclass(frozen=True)
class Member:
    login: str
    role: str
    can_login: bool


def members(conn: Any) -> list[Member]:
    """Every login in a team role, by name."""
    rows = conn.exec_driver_sql(
        "SELECT u.rolname, g.rolname, u.rolcanlogin FROM pg_auth_members m "
        "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
        "WHERE g.rolname = ANY(%s) ORDER BY u.rolname, g.rolname",
        (list(GROUPS),),
    ).all()
    by_group = {group: role for role, group in ROLES.items()}
    return [Member(str(login), by_group[str(group)], bool(can)) for login, group, can in rows]


def new_password() -> str:
    return secrets.token_urlsafe(18)


def add_login(conn: Any, name: str, role: str, password: str) -> None:
    """A new login ``name`` in ``role``'s group, with ``password``."""
    name, role = check_name(name), check_role(role)
    if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).first() is not None:
        raise ValidationError(f"the login {name} already exists; use `crm-tui team set-role {name} ROLE`")
    literal = conn.exec_driver_sql("SELECT quote_literal(%s)", (password,)).scalar()
    _exec(conn, f"CREATE ROLE {_quote(conn, name)} LOGIN PASSWORD {literal} IN ROLE {ROLES[role]}")


def set_role(conn: Any, name: str, role: str) -> str | None:
    """Move the login ``name`` into ``role``'s group (out of the others); → its old role."""
    role = check_role(role)
    current = {m.login: m.role for m in members(conn)}
    if name not in current:
        raise ValidationError(f"{name} is not in the team; add it with `crm-tui team add-rep {name}`")
    quoted = _quote(conn, name)
    for other, group in ROLES.items():
        if other != role:
            _exec(conn, f"REVOKE {group} FROM {quoted}")
    _exec(conn, f"GRANT {ROLES[role]} TO {quoted}")
    return current[name]
