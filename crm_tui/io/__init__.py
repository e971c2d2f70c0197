"""Import and export of every kind of record (CSV, XLSX, JSON).

Public API (used by the CLI and the TUI)::

    import_file(db, kind, path, *, mapping=None, dry_run=False, encoding=None, dayfirst=False,
                ignore_unmapped=False, errors_path=None, progress=None) -> ImportResult
    export_kind(db, kind, path_or_stream, fmt="csv", *, force=False) -> int   # rows written

This package imports pandas only inside functions.
"""

from __future__ import annotations

from crm_tui.io.mapping import FIELDS, KINDS


def import_file(db, kind, path, **kwargs):
    from crm_tui.io.importer import import_file as _import

    return _import(db, kind, path, **kwargs)


def export_kind(db, kind, path_or_stream, fmt="csv", *, force=False):
    from crm_tui.io.exporter import export_kind as _export

    return _export(db, kind, path_or_stream, fmt, force=force)


def __getattr__(name):
    if name == "ImportResult":
        from crm_tui.io.importer import ImportResult

        return ImportResult
    raise AttributeError(name)


__all__ = ["FIELDS", "KINDS", "import_file", "export_kind", "ImportResult"]
