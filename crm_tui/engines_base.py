"""Which engine a connection, an engine or a dialect belongs to: the one test that
``crm_tui.engines`` and its sibling modules (``engines_pg``, ``engines_search``) share.

It lives apart so that those modules need not import ``crm_tui.engines``, which re-exports them.
"""

from __future__ import annotations


def is_sqlite(engine_or_dialect) -> bool:
    dialect = getattr(engine_or_dialect, "dialect", engine_or_dialect)
    return dialect.name == "sqlite"
