"""Text from the database, made safe to draw: shown exactly as typed, never obeyed.

Markup such as ``[red]`` is never parsed (callers build ``Text``/``Content`` from
these strings, not markup), and control characters — terminal escapes, BEL,
line and paragraph separators, bidirectional overrides — are replaced so nothing
from the data reaches the terminal as a command or reorders what is drawn.
This is the one place that rule lives.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BLANKS = "\n\t\r"
#: bidirectional controls: a right-to-left override in a name reverses the rest of the line on
#: the terminal (the columns after it move); shown as a visible escape such as <U+202E>
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _replace(found: re.Match[str]) -> str:
    ch = found.group()
    if ch in _BLANKS:
        return " "
    if ch in _BIDI:
        return f"<U+{ord(ch):04X}>"
    return "\ufffd"


def safe(value: object) -> str:
    """One line of text: tabs and newlines become spaces, bidirectional controls visible
    escapes (``<U+202E>``), other controls '�'."""
    s = "" if value is None else str(value)
    return _CONTROL.sub(_replace, s)


def literal(value: object, *, wrap: bool = False) -> Text:
    """``safe`` text as a Rich ``Text``; with ``wrap`` newlines are kept as line breaks."""
    if isinstance(value, Text):
        return value
    text = "" if value is None else str(value)
    if wrap:
        return Text("\n".join(safe(line) for line in text.split("\n")))
    return Text(safe(text), no_wrap=True)
