"""Text from the database, made safe to draw: shown exactly as typed, never obeyed.

Markup such as ``[red]`` is never parsed (callers build ``Text``/``Content`` from
these strings, not markup), and control characters — terminal escapes, BEL,
line and paragraph separators — are replaced so nothing from the data reaches
the terminal as a command. This is the one place that rule lives.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BLANKS = "\n\t\r"


def safe(value: object) -> str:
    """One line of text: tabs and newlines become spaces, other controls '�'."""
    s = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: " " if m.group() in _BLANKS else "\ufffd", s)


def literal(value: object, *, wrap: bool = False) -> Text:
    """``safe`` text as a Rich ``Text``; with ``wrap`` newlines are kept as line breaks."""
    if isinstance(value, Text):
        return value
    text = "" if value is None else str(value)
    if wrap:
        return Text("\n".join(safe(line) for line in text.split("\n")))
    return Text(safe(text), no_wrap=True)
