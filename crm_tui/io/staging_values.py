"""An import's staged values as the driver takes them (``crm_tui.io.staging``).

The staging writer binds rows to the driver itself (``Staging.insert_columns``,
``Staging.insert_derived``) instead of going through ``engines.bulk_insert_rows``, so it converts
each value the way that function would: ``driver_values`` for a whole pandas column (times and
dates once per distinct value), ``_driver_scalar`` for one value, and ``_sqlite_literal`` for a
value SQLite can take written into the statement rather than bound.
"""

from __future__ import annotations

from typing import Any

from crm_tui import engines


def _driver_scalar(value: Any, sqlite: bool) -> Any:
    """One value as ``engines.bulk_insert_rows`` converts it (SQLite: UTC text, ISO dates)."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
        if not sqlite:
            return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat() if sqlite else value
    return value


def _sqlite_literal(value: Any) -> str:
    """``value`` as an SQLite literal that stores exactly what binding it stores ('' when it
    has none here: it is bound)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return ""


def driver_values(series: Any, dialect: Any) -> list[Any]:
    """A pandas column → a list of values as ``engines.bulk_insert_rows`` would pass them to the
    driver: None for missing, Python ints, UTC timestamps and dates converted per engine. Times
    and dates are converted once per distinct value (a file's 100,000 rows hold a few hundred)."""
    import datetime as dt

    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = engines.bulk_timestamps(pd.Series(uniques, dtype=series.dtype), dialect)
        return [None if c < 0 else values[c] for c in codes.tolist()] if len(values) else [None] * len(codes)
    values = series.astype(object).where(series.notna(), None).to_numpy(dtype=object).tolist()
    sample = next((v for v in values if v is not None), None)
    if not isinstance(sample, dt.date):  # as bulk_insert_rows decides: by the first value
        return values
    sqlite = engines.is_sqlite(dialect)
    seen: dict[Any, Any] = {}
    return [_driver_time(v, seen, sqlite) for v in values]


def _driver_time(value: Any, seen: dict[Any, Any], sqlite: bool) -> Any:
    """A date or time among other values, converted once per distinct value."""
    import datetime as dt

    if isinstance(value, dt.date):
        out = seen.get(value)
        if out is None:
            out = seen[value] = _driver_scalar(value, sqlite)
        return out
    return value
