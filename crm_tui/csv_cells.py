"""CSV cells a spreadsheet never runs as formulas, and import reads back exactly (stdlib only).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken by
Excel, LibreOffice and Google Sheets as a formula: ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0``
typed into a customer name would run on the machine of whoever opens the export. OWASP's
remedy is to start such a cell with a single quote, which spreadsheets show as text.

Two rules keep the round trip exact:

- a plain number (``-5``, ``-12.50``) is left alone: it cannot run anything, and a spreadsheet
  keeps it a number;
- a cell that already begins with quotes followed by a formula character gets one more quote, so
  that ``restore`` (used by import) removes exactly the one ``neutralise`` added.
"""

from __future__ import annotations

import re
from typing import Any

#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
TRIGGERS = frozenset("=+-@\t\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
#: a regular expression for ``Series.str.match``: cells that need a quote (before the number test)
_CANDIDATE = r"'*[=+\-@\t\r]"


def needs_quote(text: str) -> bool:
    """Whether ``text`` must be written with a leading quote (see the module docstring)."""
    bare = text.lstrip("'")
    return bare[:1] in TRIGGERS and PLAIN_NUMBER.fullmatch(bare) is None


def neutralise(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates."""
    return "'" + text if needs_quote(text) else text


def restore(text: str) -> str:
    """The text ``neutralise`` was given (a cell without our quote comes back unchanged)."""
    return text[1:] if text[:1] == "'" and needs_quote(text[1:]) else text


def neutralise_cell(value: Any) -> Any:
    """``neutralise`` for text; numbers, dates and None are written as they are."""
    return neutralise(value) if isinstance(value, str) else value


def neutralise_column(series: Any) -> Any:
    """``neutralise`` over a pandas column; only cells that may need it are looked at."""
    maybe = series.astype(str).str.match(_CANDIDATE)
    if not maybe.any():
        return series
    out = series.copy()
    out[maybe] = series[maybe].map(neutralise_cell)
    return out


def restore_column(series: Any) -> Any:
    """``restore`` over a pandas column of text."""
    maybe = series.str.startswith("'")
    if not maybe.any():
        return series
    out = series.copy()
    out[maybe] = series[maybe].map(restore)
    return out
