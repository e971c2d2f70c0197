"""The customer list's first page straight from a SQLite file, before SQLAlchemy is loaded.

Opening the database the full way imports SQLAlchemy and SQLModel, most of start-up's CPU.
The first screen needs only the first page in name order and the number of live
customers, so this module reads them with the standard library's ``sqlite3``, read
only (it never creates or changes a file), while the full database layer loads. It
returns exactly what ``queries.customers.fetch_page(db)`` / ``count_customers(db)``
return for the default list (a test holds them equal), or None whenever anything is
unusual (no file, a URL, an older or foreign schema, a lock): the normal path
then shows the rows a moment later.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from crm_tui.queries.customer_types import CustomerRow

if TYPE_CHECKING:
    from concurrent.futures import Future

_PAGE_SQL = """
WITH page AS (
    SELECT id, name, status, owner, email, phone, industry, tags, updated_at, name_key
    FROM customer WHERE deleted_at IS NULL ORDER BY name_key, id LIMIT ?
)
SELECT page.id, page.name, page.status, page.owner, page.email, page.phone, page.industry, page.tags,
       page.updated_at, page.name_key,
       (SELECT coalesce(sum(deal.amount_cents), 0) FROM deal JOIN stage ON stage.id = deal.stage_id
        WHERE deal.customer_id = page.id AND deal.deleted_at IS NULL AND stage.outcome = 'open'
          AND deal.currency = coalesce((SELECT value FROM crm_meta WHERE key = 'home_currency'), 'USD'))
FROM page ORDER BY page.name_key, page.id
"""


def sqlite_file(spec: object) -> Path | None:
    """The file a ``--db`` value names when it is a plain path to an existing file, else None (also
    for anything but a string, such as an open ``Database``).

    No ``--db`` (None) means what ``crm_tui.db.resolve_db`` picks: ``$CRM_TUI_DB``, else the
    per-user default file (a test holds the two equal).
    """
    if spec is None:
        import os

        spec = os.environ.get("CRM_TUI_DB")
        if not spec:
            from platformdirs import user_data_dir

            spec = str(Path(user_data_dir("crm-tui", appauthor=False)) / "crm.sqlite3")
    if not isinstance(spec, str) or not spec or "://" in spec or spec.startswith("file:"):
        return None
    path = Path(spec).expanduser()
    return path if path.is_file() else None


#: (live customers, the first page of them by name)
FirstPage = tuple[int, list[CustomerRow]]


def read_ahead(spec: object, limit: int) -> Future[FirstPage | None] | None:
    """Start ``quick_first_page`` on a thread of its own now, or None when ``spec`` is no plain file.

    Called as the app is built, so the count and the page are read while Textual parses the
    stylesheets and composes the first screen (SQLite lets go of the GIL while it counts);
    the screen takes the result when it mounts.
    """
    path = sqlite_file(spec)
    if path is None:
        return None
    from crm_tui.ahead import read_ahead as start

    return start(lambda: quick_first_page(path, limit), "crm-tui first page")


def quick_first_page(path: Path, limit: int) -> FirstPage | None:
    """(live customers, the first ``limit`` of them by name) or None if it cannot be read simply."""
    try:
        con = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error:
        return None
    try:
        version = con.execute("SELECT value FROM crm_meta WHERE key = 'schema_version'").fetchone()
        if version is None or int(version[0]) < 1:
            return None
        con.execute("BEGIN")  # one snapshot for the count and the page
        if con.execute("SELECT 1 FROM currency_rate LIMIT 1").fetchone() is not None:
            return None  # deals in other currencies to convert: the full path does it
        total = con.execute("SELECT count(*) FROM customer WHERE deleted_at IS NULL").fetchone()[0]
        rows = con.execute(_PAGE_SQL, (int(limit),)).fetchall()
    except (sqlite3.Error, ValueError):
        return None
    finally:
        con.close()
    out = []
    for cid, name, status, owner, email, phone, industry, tags, updated, key, open_value in rows:
        when = dt.datetime.fromisoformat(updated) if isinstance(updated, str) else updated
        if not isinstance(when, dt.datetime):
            return None
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
        out.append(CustomerRow(cid, name, status, owner, email, phone, industry, tags, int(open_value or 0), when, key))
    return int(total), out
