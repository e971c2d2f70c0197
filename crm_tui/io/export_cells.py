"""Formatting an export's cells, a chunk of columns at a time, for CSV, JSON and XLSX.

Money is in major units ("1234.50" in CSV, numbers in JSON/XLSX, exact: from integer cents, no
float in CSV); times are UTC (ISO 8601 with "+00:00" in CSV/JSON — SQLite's stored text turned
into it directly by ``_iso_text`` —, naive UTC datetimes in XLSX). No CSV cell runs as a
spreadsheet formula (``crm_tui.csv_cells``), nor does an XLSX cell; import restores the text.
"""

from __future__ import annotations

import datetime as dt

MONEY = {"amount", "unit_price", "line_total"}


def _columns_of(names: list[str]) -> tuple[set[int], set[int]]:
    money = {i for i, c in enumerate(names) if c in MONEY}
    times = {i for i, c in enumerate(names) if c.endswith("_at") or c == "expected_close"}
    return money, times


def _money_text(c) -> str:
    """Cents as major units, exactly: 123456 → "1234.56", -5 → "-0.05"; text (a deal's several
    lines, already formatted) as it is; nothing → ""."""
    if c is None or c != c:
        return ""
    if isinstance(c, str):
        return c
    c = int(c)
    units, cents = divmod(abs(c), 100)
    return f"{'-' if c < 0 else ''}{units}.{cents:02d}"


def _iso_text(text: str) -> str:
    """SQLite's stored text of a UTC time or a date in ISO 8601 (as the exporter writes them):
    "2025-06-28 06:40:00.000000" → "2025-06-28T06:40:00+00:00", "…:00.250000" → "…:00.250000+00:00",
    "2025-06-28" as it is; any other form through ``datetime`` as ``UTCDateTime`` reads it."""
    if len(text) == 26 and text[10] == " " and text[19] == ".":
        if text.endswith("000000"):
            return f"{text[:10]}T{text[11:19]}+00:00"
        return f"{text[:10]}T{text[11:]}+00:00"
    if len(text) == 10:
        return dt.date.fromisoformat(text).isoformat()
    value = dt.datetime.fromisoformat(text)
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value.isoformat()


#: first characters of a cell that ``csv_cells.neutralise`` may have to quote (a quote: it may
#: come before a formula character); any other cell is written as it is without looking further
_MAYBE_FORMULA = frozenset("=+-@\t\r'")


def _csv_chunk(cols: list[list], money: set[int], times: set[int]) -> list[list]:
    from crm_tui.csv_cells import neutralise

    # The usual cells inline, the rest through a function (a call per cell is what costs here): a
    # time as SQLite stores it with no fraction of a second, cents not below zero (which never
    # start with a formula character).
    out = []
    for i, col in enumerate(cols):
        if i in times:
            out.append(
                [
                    f"{v[:10]}T{v[11:19]}+00:00"
                    if v.__class__ is str and len(v) == 26 and v.endswith(".000000")
                    else _time_cell(v)
                    for v in col
                ]
            )
        elif i in money:
            out.append([f"{v // 100}.{v % 100:02d}" if v.__class__ is int and v >= 0 else _money_cell(v) for v in col])
        else:  # no cell runs as a spreadsheet formula; import restores the text
            out.append([neutralise(v) if v.__class__ is str and v[:1] in _MAYBE_FORMULA else v for v in col])
    return out


def _time_cell(v) -> str:
    return "" if v is None else _iso_text(v) if isinstance(v, str) else v.isoformat()


def _money_cell(v) -> str:
    from crm_tui.csv_cells import neutralise

    return neutralise(_money_text(v))


def _json_records(cols: list[list], names: list[str], money: set[int], times: set[int]) -> list[dict]:
    from crm_tui.textnorm import cents_to_major

    for i in money:
        cols[i] = [None if v is None or v != v else v if isinstance(v, str) else cents_to_major(v) for v in cols[i]]
    for i in times:
        cols[i] = [_iso_text(v) if v.__class__ is str else None if v is None else v.isoformat() for v in cols[i]]
    return [dict(zip(names, row)) for row in zip(*cols)]


def _xlsx_rows(cols: list[list], money: set[int], times: set[int]):
    from crm_tui.textnorm import cents_to_major

    for rec in zip(*cols):
        row = []
        for i, v in enumerate(rec):
            if v is None or (not isinstance(v, str) and v != v):
                row.append(None)
            elif i in money:
                row.append(v if isinstance(v, str) else cents_to_major(v))
            elif i in times and getattr(v, "tzinfo", None) is not None:
                row.append(v.replace(tzinfo=None))
            elif isinstance(v, str) and v.startswith("="):
                row.append(" " + v)  # a cell never becomes a formula; import strips the space
            else:
                row.append(v)
        yield row
