"""Vectorised cell parsers: a column of text → typed values plus a mask of bad cells.

Each parser takes a pandas Series of ``str`` and returns ``(values, bad)`` where
``bad`` is a boolean Series; ``reason(...)`` builds the per-row message only for
the (few) bad rows. Blank cells — and the placeholders "NA", "N/A", "null",
"-" in a *number or date* column — are missing values, never errors. In a
text column "NA" stays the text "NA".
"""

from __future__ import annotations

import re

NULL_TOKENS = ("", "NA", "N/A", "#N/A", "NULL", "NONE", "NAN", "-", "--", "NAT")
MIN_YEAR, MAX_YEAR = 1900, 2200

_ISO = ("ISO8601",)
_MDY = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%m/%d/%y %H:%M",
    "%m-%d-%Y",
)
_DMY = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d/%m/%y %H:%M",
    "%d-%m-%Y",
)
_ANY = (
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y %H:%M",
    "%d %b %Y %H:%M",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")


def stripped(s):
    return s.astype(str).str.strip()


def missing(s):
    """Blank or a null placeholder (for number/date columns)."""
    return s.str.upper().isin(NULL_TOKENS)


def parse_dates(s, *, dayfirst: bool = False):
    """Text → UTC timestamps (NaT when missing). Naive times are taken as UTC."""
    import pandas as pd

    s = stripped(s)
    blank = missing(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us, UTC]")
    todo = ~blank
    formats = _ISO + (_DMY + _MDY if dayfirst else _MDY + _DMY) + _ANY
    if not dayfirst:
        formats = _ISO + _MDY + _ANY  # D/M only with --dayfirst: 3/4/2017 must not guess
    for fmt in formats:
        if not todo.any():
            break
        sub = s[todo]
        parsed = pd.to_datetime(sub, format=fmt, errors="coerce", utc=True)
        ok = parsed.notna()
        if ok.any():
            idx = ok.index[ok.to_numpy()]
            out.loc[idx] = parsed[ok].astype("datetime64[us, UTC]")
            todo.loc[idx] = False
    years = out.dt.year
    out_of_range = out.notna() & ((years < MIN_YEAR) | (years > MAX_YEAR))
    out[out_of_range] = pd.NaT
    bad = todo | out_of_range
    return out, bad


def date_reason(value: str, field: str, dayfirst: bool) -> str:
    import pandas as pd

    if not dayfirst:
        for fmt in _DMY:
            if pd.notna(pd.to_datetime(value.strip(), format=fmt, errors="coerce")):
                return f"{field} {value!r} is not a month-first date; if the file writes day first, pass --dayfirst"
    return f"{field} {value!r} is not a date; use YYYY-MM-DD, M/D/YYYY or M/D/YYYY H:MM (D/M/YYYY with --dayfirst)"


_CURRENCY = re.compile(r"(?i)[\s\u00a0\u202f'$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|cad|aud|inr|cny)\b")


def parse_money(s):
    """Text in major units → integer cents (pandas Int64, NA when missing), exactly.

    Accepts currency symbols or codes, thousands separators ("1,234.50",
    "1 234,50", "1.234,50") and blanks. Negative numbers are errors.
    """
    import numpy as np
    import pandas as pd

    s = stripped(s)
    blank = missing(s)
    c = s.str.replace(_CURRENCY, "", regex=True)
    negative = c.str.startswith("-") | c.str.match(r"^\(.*\)$")
    euro = c.str.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}") | c.str.fullmatch(r"\d+,\d{1,2}")
    c = c.where(~euro, c.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    c = c.where(euro, c.str.replace(",", "", regex=False))
    valid = c.str.fullmatch(r"\d+(?:\.\d*)?|\.\d+") & ~negative
    parts = c.where(valid, "0").str.partition(".")
    whole = parts[0].where(parts[0] != "", "0")
    frac = parts[2].str.rstrip("0")
    too_precise = valid & (frac.str.len() > 2)
    too_big = valid & (whole.str.lstrip("0").str.len() > 13)
    good = valid & ~too_precise & ~too_big & ~blank
    whole_i = pd.to_numeric(whole.where(good, "0"), errors="coerce").fillna(0).astype("int64")
    frac_i = pd.to_numeric(frac.where(good, "").str.ljust(2, "0").str[:2], errors="coerce").fillna(0)
    cents = whole_i * 100 + frac_i.astype("int64")
    out = pd.Series(np.where(good, cents, 0), index=s.index).astype("Int64")
    out[~good] = pd.NA
    bad = ~blank & ~good
    return out, bad


def money_reason(value: str, field: str) -> str:
    v = value.strip()
    if v.startswith("-") or (v.startswith("(") and v.endswith(")")):
        return f"{field} must be a number ≥ 0, got {v!r}"
    if re.search(r"\.\d{3,}$", v.rstrip("0")) and re.fullmatch(r"[\d.,\s$€£¥]+", v):
        return f"{field} has more than two decimals: {v!r}"
    return f"{field} must be an amount such as 1234.50 or $1,234.50, got {v!r}"


def parse_int(s, *, low: int = 0, high: int = 10**9):
    """Whole numbers ('3', '3.0', '1,000') → Int64 (NA when missing)."""
    import pandas as pd

    s = stripped(s)
    blank = missing(s)
    c = s.str.replace(",", "", regex=False).str.replace(r"\.0+$", "", regex=True)
    ok = c.str.fullmatch(r"\d{1,12}")
    vals = pd.to_numeric(c.where(ok, "0"), errors="coerce").fillna(0).astype("int64")
    ok = ok & (vals >= low) & (vals <= high)
    out = vals.astype("Int64")
    out[~ok | blank] = pd.NA
    return out, ~blank & ~ok


def parse_percent(s):
    """'75', '75%', '75.0 %' → 75; a fraction '0.75' → 75. 0..100, Int64."""
    import pandas as pd

    s = stripped(s)
    blank = missing(s)
    has_pct = s.str.contains("%", regex=False)
    c = s.str.replace("%", "", regex=False).str.strip().str.replace(",", ".", regex=False)
    num = pd.to_numeric(c.where(~blank, ""), errors="coerce")
    fraction = ~has_pct & c.str.contains(".", regex=False) & (num <= 1)
    num = num.where(~fraction, num * 100)
    ok = num.notna() & (num >= 0) & (num <= 100)
    out = num.round().where(ok).astype("Int64")
    return out, ~blank & ~ok


def check_text(s, *, max_len: int = 200, multiline: bool = False):
    """Mask of cells with control characters or over the length limit."""
    pattern = _CONTROL if multiline else _CONTROL_LINE
    return s.str.contains(pattern, regex=True) | (s.str.len() > max_len)


def text_reason(value: str, field: str, max_len: int) -> str:
    if len(value) > max_len:
        return f"{field} is too long ({len(value):,} characters; at most {max_len:,})"
    bad = _CONTROL_LINE.search(value)
    code = f"U+{ord(bad.group()):04X}" if bad else "?"
    return f"{field} contains a control character ({code}); remove it"


_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def bad_email(s):
    return (s != "") & ~s.str.fullmatch(_EMAIL)


def choice(s, table: dict[str, str], default: str):
    """Map words to allowed values case-insensitively; → (values, bad mask)."""
    key = s.str.strip().str.casefold().str.replace(r"[\s_\-]+", " ", regex=True)
    out = key.map(table)
    blank = key.eq("")
    out = out.where(~blank, default)
    return out, out.isna()
