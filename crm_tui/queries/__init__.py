"""Read-side queries the screens run in thread workers (no textual here).

Each function takes a ``Database`` and returns plain rows (dataclasses or
tuples) ready to show; none returns ORM objects bound to a session.
"""
