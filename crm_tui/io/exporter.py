"""``export_kind``: every live record of a kind to CSV, XLSX or JSON.

Headers are our field names (mapping.FIELDS), which ``import`` maps back with no
flags. Money is in major units ("1234.50" in CSV, numbers in JSON/XLSX); times
are UTC (ISO 8601 with "+00:00" in CSV/JSON, naive UTC datetimes in XLSX).
CSV cells that a spreadsheet would run as formulas start with a quote (``crm_tui.csv_cells``),
which import removes again. Deals carry their product lines (product, quantity, unit_price; a
deal with several lists them all: "A; B", "2; 1", "10.00; 5.00"); notes and stage history are not
exported. A record without an external id is exported with one of ours: "crm-<id>" for a deal,
"crm-c<id>" a customer, "crm-p<id>" a contact, "crm-t<id>" a task, "crm-r<id>" a product
(``resolve.OWN_REF``); pipelines are named by their names (one row per stage task template);
contacts, deals, tasks and orders name their customer by it too (``customer_external_id``), so
that customers sharing a name keep their own records, and the export imports back into the same
database as updates (0 created). Files are created 0600 (they hold customer data).

The export streams: rows are read from a streaming cursor ``CHUNK_ROWS`` at a time, formatted
column by column and written before the next chunk is read (``_Chunks``), so its memory is that of
a chunk whatever the size of the book, and the file is the same whatever the chunk size. No
pandas: money goes from integer cents to text exactly, the csv module writes the cells.

The pieces: ``export_queries`` (what is read of each kind), ``export_chunks`` (the streaming
read, ``_Chunks``), ``export_cells`` (each format's cells); this module checks the request and
writes the file (``_WRITERS``, ``_Output``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from crm_tui import engines
from crm_tui.errors import ValidationError
from crm_tui.io.export_cells import _columns_of, _csv_chunk, _json_records, _xlsx_rows
from crm_tui.io.export_cells import _iso_text as _iso_text
from crm_tui.io.export_cells import _money_text as _money_text
from crm_tui.io.export_chunks import CHUNK_ROWS, _Chunks
from crm_tui.io.export_queries import QUERIES as QUERIES
from crm_tui.io.mapping import KINDS

FORMATS = ("csv", "xlsx", "json")


def export_kind(
    db, kind: str, path_or_stream, fmt: str = "csv", *, force: bool = False, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Write every live ``kind`` record; returns the number of rows written.

    The rows are read from the database ``chunk_rows`` at a time and each chunk is written before
    the next is read, so memory stays that of a chunk, whatever the number of rows (XLSX: openpyxl
    keeps the sheet in a temporary file until the workbook is zipped).

    Never over the open database or its side files, nor (unless ``force``) any other SQLite file."""
    from crm_tui import safety

    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; use csv, xlsx or json")
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    to_file = isinstance(path_or_stream, (str, Path))
    if to_file:
        safety.check_output(Path(path_or_stream), database=db.path, what="export", force=force)
    else:
        if fmt == "xlsx":
            raise ValidationError("xlsx export needs a file: pass -o FILE.xlsx")
        try:
            fileno = path_or_stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            fileno = None
        if fileno is not None:
            safety.check_output_stream(fileno, database=db.path, what="export")
    with db.read() as session:
        conn = session.connection()
        if not engines.is_sqlite(conn.dialect):
            # the transaction waits on the file between chunks (a pipe into a pager may wait long)
            conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
        chunks = _Chunks(conn, kind, chunk_rows, text_times=fmt != "xlsx")
        try:
            with _Output(path_or_stream) as out:
                return _WRITERS[fmt](chunks, out)
        finally:
            chunks.close()


def _write_csv(chunks: _Chunks, out: _Output) -> int:
    import csv

    money, times = _columns_of(chunks.columns)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(chunks.columns)
    n = 0
    for cols in chunks:
        writer.writerows(zip(*_csv_chunk(cols, money, times)))
        n += len(cols[0])
        out.write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    out.write(buf.getvalue())
    return n


def _write_json(chunks: _Chunks, out: _Output) -> int:
    """The same text as ``json.dumps(records, ensure_ascii=False, indent=1)``, one chunk at a time."""
    money, times = _columns_of(chunks.columns)
    n = 0
    for cols in chunks:
        text = ",\n".join(
            " " + json.dumps(rec, ensure_ascii=False, indent=1).replace("\n", "\n ")
            for rec in _json_records(cols, chunks.columns, money, times)
        )
        out.write(("[\n" if n == 0 else ",\n") + text)
        n += len(cols[0])
    out.write("\n]\n" if n else "[]\n")
    return n


def _write_xlsx(chunks: _Chunks, out: _Output) -> int:
    from openpyxl import Workbook

    money, times = _columns_of(chunks.columns)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(chunks.kind)
    ws.append(list(chunks.columns))
    n = 0
    for cols in chunks:
        for row in _xlsx_rows(cols, money, times):
            ws.append(row)
        n += len(cols[0])
    wb.save(out.binary())
    return n


_WRITERS = {"csv": _write_csv, "json": _write_json, "xlsx": _write_xlsx}


class _Output:
    """Where an export goes: a file created 0600 (removed again when the export fails half way),
    or an open stream (UTF-8 bytes to a console's buffer, text to a ``StringIO``)."""

    def __init__(self, target) -> None:
        self.target = target
        self.path = Path(target) if isinstance(target, (str, Path)) else None
        self._file = None

    def __enter__(self) -> _Output:
        import os

        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise ValidationError(f"cannot write {self.path}: {exc.strerror or exc}; choose another path") from None
            try:
                os.fchmod(fd, 0o600)
                self._file = os.fdopen(fd, "wb")
            except BaseException:
                os.close(fd)
                raise
        return self

    def binary(self):
        return self._file

    def write(self, text: str) -> None:
        if not text:
            return
        if self._file is not None:
            self._file.write(text.encode("utf-8"))
        elif hasattr(self.target, "buffer") and not isinstance(self.target, io.StringIO):
            self.target.buffer.write(text.encode("utf-8"))
        else:
            self.target.write(text)

    def __exit__(self, exc_type, exc, tb) -> None:
        import os
        import stat

        if self._file is None:
            if hasattr(self.target, "flush"):
                self.target.flush()
            return
        regular = stat.S_ISREG(os.fstat(self._file.fileno()).st_mode)
        self._file.close()
        if exc_type is not None and regular and self.path is not None:
            self.path.unlink(missing_ok=True)  # no half export that looks whole
