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


def by_unique(fn, s, *args, **kwargs):
    """``fn(s, ...)`` computed over the distinct cells of ``s`` and spread back onto its rows.

    For a parser that reads each cell on its own (all of this module's): a column of 100,000
    cells usually holds a few hundred distinct ones (owners, stages, dates), and the pandas
    string operations cost per cell. A column of mostly distinct cells is read as it is.
    ``fn`` returns a Series or a tuple of Series aligned with its input."""
    import pandas as pd

    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    if 2 * len(uniques) > len(s):
        return fn(s, *args, **kwargs)
    out = fn(pd.Series(uniques, dtype=s.dtype, name=s.name), *args, **kwargs)

    def spread(r):
        return pd.Series(r.array.take(codes), index=s.index, name=r.name)

    return tuple(spread(r) for r in out) if isinstance(out, tuple) else spread(out)


def stripped(s):
    return by_unique(_stripped, s)


def _stripped(s):
    s = s.astype(str)
    if len(s) > 1000 and not s.isna().any():  # a column of distinct cells: plain Python is faster
        return pd_series([v.strip() for v in s.tolist()], s)
    return s.str.strip()


def pd_series(values, like):
    """``values`` as a Series with the index, name and dtype of ``like``."""
    import pandas as pd

    return pd.Series(values, index=like.index, name=like.name, dtype=like.dtype)


def missing(s):
    """Blank or a null placeholder (for number/date columns)."""
    return by_unique(_missing, s)


def _missing(s):
    return s.str.upper().isin(NULL_TOKENS)


_DAY_MONTH = r"^\s*(\d{1,2})[/-](\d{1,2})[/-](\d{2,4})(?:\D|$)"
_DAY_MONTH_RE = re.compile(_DAY_MONTH)
_FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2[012]\d\d)(?!\d)")


class DateOrder:
    """How a column's D/M/Y dates were read: ``dayfirst``, and why (for the import summary)."""

    def __init__(self, dayfirst: bool, ambiguous: int, evidence: str, guessed: bool) -> None:
        self.dayfirst = dayfirst
        self.ambiguous = ambiguous  # distinct values that read either way (3/4/2024)
        self.evidence = evidence  # a value only one reading allows (25/3/2024), or ''
        self.guessed = guessed  # no value decided it: month first (or --dayfirst)

    def note(self, column: str) -> str:
        """A line for the summary when the choice mattered (some value read either way)."""
        if not self.ambiguous:
            return ""
        order = "day first (D/M/YYYY)" if self.dayfirst else "month first (M/D/YYYY)"
        if self.guessed:
            hint = "" if self.dayfirst else "; pass --dayfirst if the file writes the day first"
            return f"dates in {column!r} could be day or month first: read {order}{hint}"
        return f"dates in {column!r} read {order}, as {self.evidence!r} shows"


def date_order(s, *, dayfirst: bool = False) -> DateOrder:
    """Decide for one column whether 3/4/2024 is 3 April or March 4, from its distinct values:
    a value with a first number over 12 (25/3/2024) means day first, one with a second number
    over 12 (3/25/2024) month first; the majority wins when both occur; when no value decides,
    ``dayfirst`` (the --dayfirst flag) does."""
    import pandas as pd

    uniq = pd.Series(pd.unique(s), dtype=object).astype(str)
    parts = uniq.str.extract(_DAY_MONTH)
    a = pd.to_numeric(parts[0], errors="coerce")
    b = pd.to_numeric(parts[1], errors="coerce")
    day_big = a.gt(12) & b.le(12)
    month_big = b.gt(12) & a.le(12)
    ambiguous = int((a.le(12) & b.le(12) & a.ne(b)).sum())
    n_day, n_month = int(day_big.sum()), int(month_big.sum())
    if n_day or n_month:
        first = n_day > n_month
        example = uniq[day_big if first else month_big].iloc[0]
        return DateOrder(first, ambiguous, str(example), False)
    return DateOrder(dayfirst, ambiguous, "", True)


def parse_dates(s, *, dayfirst: bool = False, order: DateOrder | None = None):
    """Text → UTC timestamps (NaT when missing) and the mask of bad cells; see ``_parse_dates``."""
    if order is None:
        text = stripped(s)
        order = date_order(text[~missing(text)], dayfirst=dayfirst)
    return by_unique(_parse_dates, s, dayfirst=dayfirst, order=order)


def _parse_dates(s, *, dayfirst: bool = False, order: DateOrder | None = None):
    """Text → UTC timestamps (NaT when missing). Naive times are taken as UTC.

    The fast explicit formats first (ISO 8601, then D/M or M/D as ``date_order`` decided for the
    column, then the written-out ones), then python-dateutil for what is left ("15 Apr, 2021
    00:02:00", "Tue, 2 Jan 2024 10:00 +0100"), called once per distinct value and only for values
    with a four-digit year (dateutil reads "5" as the 5th of this month)."""
    import pandas as pd

    s = stripped(s)
    blank = missing(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us, UTC]")
    todo = ~blank
    if order is None:
        order = date_order(s[todo], dayfirst=dayfirst)
    formats = _ISO + (_DMY if order.dayfirst else _MDY) + _ANY
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
    if todo.any():
        found = _dateutil_values(pd.unique(s[todo]), order.dayfirst)
        if found:
            got = s[todo].map(found)
            ok = got.notna()
            if ok.any():
                idx = ok.index[ok.to_numpy()]
                out.loc[idx] = pd.to_datetime(got[ok], utc=True).astype("datetime64[us, UTC]")
                todo.loc[idx] = False
    years = out.dt.year
    out_of_range = out.notna() & ((years < MIN_YEAR) | (years > MAX_YEAR))
    out[out_of_range] = pd.NaT
    bad = todo | out_of_range
    return out, bad


def _dateutil_values(values, dayfirst: bool) -> dict:
    """Distinct texts → UTC datetimes, as python-dateutil reads them (None when it cannot)."""
    import datetime as dt
    import warnings

    from dateutil import parser

    default = dt.datetime(2000, 1, 1)
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown zone name ("PST") is read as no zone
        for value in values:
            text = str(value)
            if len(text) > 64 or not _FOUR_DIGIT_YEAR.search(text) or _DAY_MONTH_RE.match(text):
                continue  # D/M/Y and M/D/Y were the explicit formats' to read, in the column's order
            try:
                when = parser.parse(text, dayfirst=dayfirst, default=default)
            except (ValueError, OverflowError, TypeError):
                continue
            when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
            found[value] = when
    return found


def date_reason(value: str, field: str, dayfirst: bool) -> str:
    return f"{field} {value!r} is not a date; use YYYY-MM-DD, M/D/YYYY or a date such as '15 Apr 2024'"


_CURRENCY = re.compile(r"(?i)[\s\u00a0\u202f'$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|cad|aud|inr|cny)\b")


def parse_money(s):
    """Text in major units → integer cents (pandas Int64, NA when missing) and the mask of bad
    cells; see ``_parse_money``."""
    return by_unique(_parse_money, s)


#: an amount in the plainest form ("1234", "1234.5", "1234.50"): read without the general rules
_PLAIN_MONEY = re.compile(r"([0-9]{1,13})(?:\.([0-9]{0,2}))?")


def _plain_cents(text: str) -> int | None:
    m = _PLAIN_MONEY.fullmatch(text)
    if m is None:
        return None
    whole, frac = m.groups()
    return int(whole) * 100 + int((frac or "").ljust(2, "0"))


def _parse_money(s):
    """Text in major units → integer cents (pandas Int64, NA when missing), exactly.

    Accepts currency symbols or codes, thousands separators ("1,234.50",
    "1 234,50", "1.234,50") and blanks. Negative numbers are errors. Plain amounts
    ("1234.50", most cells of most files) are read in one pass of plain Python; the
    others by the general rules (``_parse_money_general``), which read plain ones the same.
    """
    import pandas as pd

    s = _stripped(s)
    cents = [_plain_cents(v) for v in s.tolist()]
    out = pd.Series(cents, index=s.index, dtype="Int64")
    bad = pd.Series(False, index=s.index, dtype=bool)
    rest = out.isna().to_numpy()
    if rest.any():
        values, wrong = _parse_money_general(s[rest])
        out[rest] = values
        bad[rest] = wrong
    return out, bad


def _parse_money_general(s):
    import numpy as np
    import pandas as pd

    blank = _missing(s)
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
    return by_unique(_parse_int, s, low=low, high=high)


def _parse_int(s, *, low: int = 0, high: int = 10**9):
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
    return by_unique(_parse_percent, s)


def _parse_percent(s):
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
    return by_unique(_check_text, s, max_len=max_len, multiline=multiline)


def _check_text(s, *, max_len: int = 200, multiline: bool = False):
    import pandas as pd

    pattern = _CONTROL if multiline else _CONTROL_LINE
    if len(s) > 1000 and not s.isna().any():  # a column of distinct cells: plain Python is faster
        search = pattern.search
        return pd.Series(
            [len(v) > max_len or search(v) is not None for v in s.tolist()], index=s.index, name=s.name, dtype=bool
        )
    return s.str.contains(pattern, regex=True) | (s.str.len() > max_len)


def text_reason(value: str, field: str, max_len: int) -> str:
    if len(value) > max_len:
        return f"{field} is too long ({len(value):,} characters; at most {max_len:,})"
    bad = _CONTROL_LINE.search(value)
    code = f"U+{ord(bad.group()):04X}" if bad else "?"
    return f"{field} contains a control character ({code}); remove it"


_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def bad_email(s):
    return by_unique(_bad_email, s)


def _bad_email(s):
    return (s != "") & ~s.str.fullmatch(_EMAIL)


def choice(s, table: dict[str, str], default: str):
    """Map words to allowed values case-insensitively; → (values, bad mask)."""
    return by_unique(_choice, s, table, default)


def _choice(s, table: dict[str, str], default: str):
    key = s.str.strip().str.casefold().str.replace(r"[\s_\-]+", " ", regex=True)
    out = key.map(table)
    blank = key.eq("")
    out = out.where(~blank, default)
    return out, out.isna()
