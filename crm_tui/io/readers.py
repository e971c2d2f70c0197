"""Reading a CSV or XLSX file into a frame of text cells.

Every cell comes back as text exactly as written ("NA" stays "NA", blanks are
""); typing happens later, per field. CSV text is UTF-8 (with or without a
BOM) or, when it does not decode as UTF-8, a legacy single-byte code page
(cp1252, else latin-1); ``encoding`` forces one. A CSV cell that starts with a quote
protecting a formula character (``'=SUM(A1)``, see ``crm_tui.csv_cells``) is read without it.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
from pathlib import Path

from crm_tui.errors import ValidationError

XLSX_SUFFIXES = (".xlsx", ".xlsm")
#: A CRM export has tens or a few hundred columns; each column costs a frame of its own, so a
#: file of a million columns took gigabytes before any message. Refused before it is read whole.
MAX_COLUMNS = 1000
#: The longest cell read (notes hold up to 20,000 characters).
MAX_CELL_CHARS = 100_000
#: how much of a CSV file is read to count its header's columns
HEAD_BYTES = 4 * 1024 * 1024


def read_table(path, encoding: str | None = None):
    """→ (DataFrame of str cells, the encoding used or 'xlsx')."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValidationError(f"{path} is a folder; give a .csv or .xlsx file")
    if path.suffix.lower() in XLSX_SUFFIXES:
        return _read_xlsx(path), "xlsx"
    if path.suffix.lower() == ".xls":
        raise ValidationError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or .csv")
    try:
        _check_header_width(path, encoding)
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data[:4] == b"PK\x03\x04":
        raise ValidationError(f"{path} is a zip/xlsx file; rename it to .xlsx or export it as CSV")
    text, used = decode(data, encoding, path)
    return _read_csv_text(text, path), used


def decode(data: bytes, encoding: str | None, path) -> tuple[str, str]:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValidationError(f"unknown encoding {encoding!r}; use e.g. utf-8, cp1252, latin-1 or cp850") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"{path} is not valid {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "try another --encoding such as cp1252 or latin-1"
            ) from None
        return text.lstrip("\ufeff"), encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").lstrip("\ufeff"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _check_header_width(path: Path, encoding: str | None) -> None:
    """Count the header row's columns from the file's first bytes, before reading it whole."""
    import csv

    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    else:
        codec = encoding if encoding and _known(encoding) else "utf-8"
    text = head.decode(codec, errors="replace").lstrip("\ufeff")
    first, newline, _rest = text.partition("\n")
    whole = bool(newline) or len(head) < HEAD_BYTES
    try:
        width = len(next(csv.reader([first.rstrip("\r")], delimiter=_sniff_delimiter(first)), []))
    except csv.Error as exc:
        if whole:
            # the csv module refuses a field over its limit (131,072 characters): no column name is
            reason = "a column name longer than 131,072 characters" if "field larger" in str(exc) else str(exc)
            raise ValidationError(
                f"{path}: its first line, which names the columns, has {reason}; check that this is the file you meant"
            ) from None
        width = 0
    if not whole and width <= MAX_COLUMNS:
        raise ValidationError(
            f"{path}: its first line is longer than {HEAD_BYTES // (1024 * 1024)} MiB; a CSV file's first line "
            "names its columns; check that this is the file you meant"
        )
    # a first line cut at HEAD_BYTES holds at least this many columns, which is enough to refuse
    _check_width(path, width, more=not whole)


def _known(encoding: str) -> bool:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True


def _check_width(path, width: int, *, more: bool = False) -> None:
    """``more``: the file has at least ``width`` columns (only the start of its first line was read)."""
    if width > MAX_COLUMNS:
        raise ValidationError(
            f"{path} has {'at least ' if more else ''}{width:,} columns; at most {MAX_COLUMNS:,} can be imported; "
            "remove the columns you do not need, or export fewer"
        )


def _check_cells(df, path) -> None:
    """Refuse a cell longer than MAX_CELL_CHARS, naming its row and column."""
    import numpy as np

    for column in df.columns:
        values = df[column].to_numpy(dtype=object)
        if not len(values) or max(map(len, values)) <= MAX_CELL_CHARS:
            continue
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        row = int(np.argmax(lengths))
        raise ValidationError(
            f"{path}: the cell in row {row + 2}, column {column!r} is {int(lengths[row]):,} characters long; "
            f"at most {MAX_CELL_CHARS:,} can be imported; shorten it or leave that column out"
        )


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv_text(text: str, path):
    import pandas as pd

    if not text.strip():
        raise ValidationError(f"{path} is empty; it needs a header row and at least one data row")
    if "\x00" in text[:4096]:
        raise ValidationError(f"{path} looks like a binary file, not CSV; export it as CSV (UTF-8)")
    sep = _sniff_delimiter(text)
    raw = text.encode("utf-8")
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, sep=sep, engine="pyarrow")
    except Exception:  # noqa: BLE001
        # pyarrow refuses ragged rows and some quoting; the C parser reports the line.
        try:
            df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False, sep=sep, engine="c")
        except Exception as exc:  # noqa: BLE001
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ValidationError(f"{path} is not a readable CSV file: {detail}") from None
    df = _clean_frame(df, path)
    # no quote anywhere in the file: no cell to restore (most files)
    return _restore_formulas(df) if "'" in text else df


def _restore_formulas(df):
    """Cells (and headers) a CSV writer quoted so that spreadsheets would not run them as
    formulas — ours, and other tools following OWASP — are read as the text they stand for."""
    from crm_tui import csv_cells
    from crm_tui.io.parse import by_unique

    df.columns = [csv_cells.restore(c) for c in df.columns]
    for c in df.columns:
        df[c] = by_unique(csv_cells.restore_column, df[c])
    return df


def _clean_frame(df, path):
    headers = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    if not any(headers):
        raise ValidationError(f"{path} has no header row; the first row must name the columns")
    seen: dict[str, int] = {}
    unique = []
    for h in headers:
        n = seen.get(h, 0)
        seen[h] = n + 1
        unique.append(h if n == 0 else f"{h}.{n}")
    df.columns = unique
    df = df.fillna("").astype(str)
    _check_cells(df, path)
    return df


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _read_xlsx(path):
    import pandas as pd

    try:
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ValidationError(f"{path} is not a readable .xlsx workbook: {exc}") from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ValidationError(f"{path} is empty; its first sheet needs a header row")
        width = len(header)
        while width and (header[width - 1] is None or str(header[width - 1]).strip() == ""):
            width -= 1
        _check_width(path, width)
        headers = [_cell_text(h) for h in header[:width]]
        body = []
        for row in rows:
            cells = [_cell_text(v) for v in row[:width]]
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            if any(cells):
                body.append(cells)
    finally:
        wb.close()
    df = pd.DataFrame(body, columns=headers, dtype=object)
    return _clean_frame(df, path)
