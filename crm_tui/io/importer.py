"""``import_file``: read, map, validate and write one file in one transaction.

Flow: read every cell as text → decide each column's field → parse and check
each field column-wise (pandas) → stage every good row outside the live tables,
then merge them in ONE short ``db.write`` transaction (all good rows commit
together, or none; ``crm_tui.io.staging``), journaled in that transaction as one action
that the rep can undo →
write rejected rows with a reason to ``<file>.rejected.csv`` (0600, cells that a spreadsheet
would run as formulas start with a quote).
A dry run does the same work and rolls the merge back.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crm_tui.errors import ValidationError
from crm_tui.io import parse as P
from crm_tui.io.mapping import FIELDS, KINDS, resolve_columns

Progress = Callable[[int, int], None]
CHUNK = 5000
UTC = dt.UTC


@dataclass
class ImportResult:
    kind: str
    path: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    dry_run: bool = False
    encoding: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # field → column
    unmapped_columns: list[str] = field(default_factory=list)
    unmapped_into_notes: bool = False
    errors_path: str | None = None
    also_created: dict[str, int] = field(default_factory=dict)  # e.g. {"customers": 3, "stages": 1}
    first_errors: list[str] = field(default_factory=list)
    merge_seconds: float = 0.0  # how long the final write transaction (the write lock) was held
    profile: str = ""  # the CRM the headers look like ("Zoho"), '' when not sure
    notes: list[str] = field(default_factory=list)  # how the file was read (date order, …)
    warnings: dict[str, int] = field(default_factory=dict)  # kept rows worth a look, by what

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        text = (
            f"{verb} {self.kind} from {Path(self.path).name}: {self.created} created, "
            f"{self.updated} updated, {self.rejected} rejected"
        )
        extra = [counted(n, what) for what, n in self.also_created.items() if n]
        if extra:
            text += "; also created " + ", ".join(extra)
        if self.profile:
            article = "an" if self.profile[:1].lower() in "aeiou" else "a"
            text += f" (looks like {article} {self.profile} export)"
        return text

    def detail_lines(self) -> list[str]:
        """What the rep should know beyond the counts: how dates were read, rows kept with a doubt."""
        lines = list(self.notes)
        lines += [f"warning: {what}: {n:,} (kept)" for what, n in self.warnings.items() if n]
        return lines

    @property
    def exit_status(self) -> int:
        """0: every row in; 3: some rows rejected; 2: nothing imported."""
        if not (self.created or self.updated):
            return 2
        return 3 if self.rejected else 0


class Ctx:
    """One file being imported: the frame, its column choices and per-row reasons."""

    def __init__(
        self,
        df,
        columns,
        unmapped,
        *,
        alternates=None,
        kind,
        dayfirst,
        ignore_unmapped,
        now,
        progress,
        profile=None,
        source="",
    ):
        import pandas as pd

        self.df = df
        self.kind = kind
        self.columns = columns
        self.alternates = alternates or {}
        self.unmapped = unmapped
        self.dayfirst = dayfirst
        self.ignore_unmapped = ignore_unmapped
        self.now = now
        self.progress = progress
        self.n = len(df)
        self.reasons = pd.Series("", index=df.index, dtype=object)
        self.also_created: dict[str, int] = {}
        self.stage = None  # where writers put the rows (crm_tui.io.staging.Staging)
        self.profile = profile  # crm_tui.io.profiles.Profile or None
        self.source = source  # the file's name (row fingerprints)
        self.notes: list[str] = []
        self.warnings: dict[str, int] = {}
        self.fingerprinted = None  # rows given an id from their content (resolve.with_fingerprints)

    # -- columns ----------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.columns

    def raw(self, name: str):
        """The column's cells; blanks filled from alternate columns naming the same field."""
        s = self.df[self.columns[name]]
        for other in self.alternates.get(name, ()):
            s = s.where(s.str.strip() != "", self.df[other])
        return s

    def text(self, name: str, *, max_len: int = 200, multiline: bool = False, label: str | None = None):
        """The stripped text of a field ('' when the column is absent); bad cells rejected."""
        import pandas as pd

        if name not in self.columns:
            return pd.Series("", index=self.df.index, dtype=object)
        s = P.stripped(self.raw(name))
        bad = P.check_text(s, max_len=max_len, multiline=multiline)
        if bad.any():
            lab = label or name
            self.reject(bad, s[bad].map(lambda v: P.text_reason(v, lab, max_len)))
        return s.where(~bad, "").astype(object)

    def dates(self, name: str):
        import pandas as pd

        if name not in self.columns:
            return pd.Series(pd.NaT, index=self.df.index, dtype="datetime64[us, UTC]")
        raw = self.raw(name)
        text = P.stripped(raw)
        order = P.date_order(text[~P.missing(text)], dayfirst=self.dayfirst)
        note = order.note(self.columns[name])
        if note and note not in self.notes:
            self.notes.append(note)
        values, bad = P.parse_dates(raw, dayfirst=self.dayfirst, order=order)
        if bad.any():
            self.reject(bad, raw[bad].map(lambda v: P.date_reason(v, name, self.dayfirst)))
        return values

    def money(self, name: str):
        import pandas as pd

        if name not in self.columns:
            return pd.Series(pd.NA, index=self.df.index, dtype="Int64")
        raw = self.raw(name)
        values, bad = P.parse_money(raw)
        if bad.any():
            self.reject(bad, raw[bad].map(lambda v: P.money_reason(v, name)))
        return values

    def integers(self, name: str, *, low=0, high=10**9, hint="a whole number"):
        import pandas as pd

        if name not in self.columns:
            return pd.Series(pd.NA, index=self.df.index, dtype="Int64")
        raw = self.raw(name)
        values, bad = P.parse_int(raw, low=low, high=high)
        if bad.any():
            self.reject(bad, raw[bad].map(lambda v: f"{name} must be {hint}, got {v.strip()!r}"))
        return values

    def percent(self, name: str):
        import pandas as pd

        if name not in self.columns:
            return pd.Series(pd.NA, index=self.df.index, dtype="Int64")
        raw = self.raw(name)
        values, bad = P.parse_percent(raw)
        if bad.any():
            self.reject(bad, raw[bad].map(lambda v: f"{name} must be a percentage 0–100, got {v.strip()!r}"))
        return values

    def choice(self, name: str, table: dict[str, str], default: str, allowed: tuple[str, ...]):
        import pandas as pd

        if name not in self.columns:
            return pd.Series(default, index=self.df.index, dtype=object)
        raw = P.stripped(self.raw(name))
        values, bad = P.choice(raw, table, default)
        if bad.any():
            self.reject(bad, raw[bad].map(lambda v: f"{name} must be one of {', '.join(allowed)}; got {v!r}"))
        return values.where(~bad, default)

    def email(self, name: str = "email"):
        s = self.text(name)
        bad = P.bad_email(s)
        if bad.any():
            self.reject(bad, s[bad].map(lambda v: f"{name} must look like name@example.com, got {v!r}"))
        return s.where(~bad, "")

    def extras(self, base=None):
        """Unmapped cells as 'column: value; ...' text for a note (unless ignored)."""
        import numpy as np
        import pandas as pd

        body = base.copy() if base is not None else pd.Series("", index=self.df.index, dtype=object)
        if self.ignore_unmapped:
            return body
        for col in self.unmapped:
            val = P.stripped(self.df[col]).str.replace(P._CONTROL, "", regex=True)
            sep = np.where(body.to_numpy() != "", "; " if base is None else "\n", "")
            piece = sep + (str(col) + ": ") + val.to_numpy(dtype=object)
            body = pd.Series(
                np.where(val.to_numpy() != "", body.to_numpy() + piece, body.to_numpy()), index=body.index, dtype=object
            )
            base = None
        return body

    def warn(self, mask, what: str) -> None:
        """Count kept rows worth a look ("deals closed before they were created")."""
        n = int((mask & self.ok).sum())
        if n:
            self.warnings[what] = self.warnings.get(what, 0) + n

    # -- rejects ----------------------------------------------------------------

    def reject(self, mask, reason) -> None:
        """Add ``reason`` (text or per-row Series) to every row in ``mask``."""
        import numpy as np

        if not mask.any():
            return
        cur = self.reasons[mask]
        add = reason if isinstance(reason, str) else reason[mask]
        self.reasons[mask] = np.where(cur == "", add, cur + "; " + add)

    @property
    def ok(self):
        return self.reasons == ""

    def tick(self, done: int) -> None:
        if self.progress is not None:
            self.progress(min(done, self.n), self.n)


def import_file(
    db,
    kind: str,
    path,
    *,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    encoding: str | None = None,
    dayfirst: bool = False,
    ignore_unmapped: bool = False,
    errors_path=None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    force: bool = False,
    user: str | None = None,
    write_rejected: bool = True,
    ctx_type: Callable[..., Ctx] | None = None,
) -> ImportResult:
    """Import ``path`` as ``kind`` records; see the module docstring. ``force`` lets the
    rejected rows replace a SQLite file (never the open database). The import is journaled as
    one action of ``user`` (default: ``config.current_user()``, as the app's own actions), which
    that rep can undo like any other. ``write_rejected=False``: the rejected rows are not written
    to a file (``first_errors`` still names the first ones; ``crm-tui import --dry-run``).
    ``ctx_type``: makes the per-attempt context instead of ``Ctx`` (``crm_tui.io.preview`` notes
    what the first rows read as)."""
    from crm_tui import safety
    from crm_tui.io.readers import read_table

    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    # Checked before anything is imported: a refusal after the commit would leave the rep
    # unsure what happened.
    errors_path = Path(errors_path) if errors_path else default_errors_path(path)
    safety.check_output(errors_path, database=db.path, what="rejected rows", force=force)
    now = now or dt.datetime.now(UTC)
    from crm_tui.io import profiles

    df, used = read_table(path, encoding)
    profile = profiles.detect(list(df.columns))
    columns, unmapped, alternates = resolve_columns(kind, list(df.columns), mapping)
    _refuse_another_export(kind, path, [str(h) for h in df.columns], mapping)
    _require_columns(kind, columns, list(df.columns))

    def make_ctx() -> Ctx:
        # a fresh copy for each attempt: writers normalise cells in place
        return (ctx_type or Ctx)(
            df.copy(),
            columns,
            unmapped,
            alternates=alternates,
            kind=kind,
            dayfirst=dayfirst,
            ignore_unmapped=ignore_unmapped,
            now=now,
            progress=progress,
            profile=profile,
            source=Path(path).name,
        )

    from crm_tui.config import acting_user

    user = acting_user(db, user)

    def action(ctx: Ctx, created: int, updated: int):
        from crm_tui import journal as jr

        return jr.Action("import", import_label(kind, Path(path).name, created + updated, ctx.also_created), user, now)

    ctx, created, updated, merge_s = _stage_and_merge(db, kind, make_ctx, action, dry_run=dry_run)
    ctx.tick(ctx.n)
    result = ImportResult(
        kind=kind,
        path=str(path),
        rows=ctx.n,
        created=created,
        updated=updated,
        rejected=int((~ctx.ok).sum()),
        dry_run=dry_run,
        encoding=used,
        columns=dict(columns),
        unmapped_columns=list(unmapped),
        unmapped_into_notes=bool(unmapped) and not ignore_unmapped and kind in ("customers", "deals", "tasks"),
        also_created=dict(ctx.also_created),
        merge_seconds=merge_s,
        profile=profile.label if profile is not None else "",
        notes=list(ctx.notes),
        warnings=dict(ctx.warnings),
    )
    if result.rejected:
        if write_rejected:
            result.errors_path = str(write_rejects(ctx, path, errors_path))
        bad = ctx.reasons[~ctx.ok]
        result.first_errors = [f"row {int(i) + 2}: {r}" for i, r in bad.head(5).items()]
    return result


#: how often an import is staged again when other sessions keep changing what it relies on
ATTEMPTS = 3


def counted(n: int, things: str) -> str:
    """'3 stages', '1 stage': a count of records named in the plural (what ``also_created`` keys)."""
    return f"{n:,} {things if n != 1 else things[:-1]}"


def import_label(kind: str, name: str, count: int, also: dict[str, int]) -> str:
    """The import as the journal, History and undo name it: "import 1,234 customers from
    leads.csv (also created 3 stages)"."""
    noun = kind if count != 1 else kind[:-1]
    label = f"import {count:,} {noun} from {name}"
    extra = [counted(n, what) for what, n in also.items() if n]
    return label + (f" (also created {', '.join(extra)})" if extra else "")


def _stage_and_merge(db, kind: str, make_ctx, action, *, dry_run: bool):
    """Stage the file's rows, then merge them in one short write transaction (see
    ``crm_tui.io.staging``), journaled as the one action ``action(ctx, created, updated)``;
    stage again when another session changed what staging relied on.

    → (ctx, created, updated, seconds the merge held the write transaction). A dry run
    rehearses the merge and rolls it back."""
    import time

    from crm_tui import engines
    from crm_tui.errors import DatabaseError
    from crm_tui.io import staging

    with db.translate_errors(), db.engine.connect() as conn, engines.import_cache(conn):
        for _attempt in range(ATTEMPTS):
            ctx = make_ctx()
            with staging.staging(conn) as staged:
                ctx.stage = staged
                created, updated = _stage(conn, staged, ctx, kind)
                started = time.perf_counter()
                try:
                    with db.write(TABLES[kind], keep=not dry_run, connection=conn) as session:
                        staging.merge_staged_import(session, staged, action(ctx, created, updated))
                except staging.StaleStaging:
                    continue
                return ctx, created, updated, time.perf_counter() - started
    raise DatabaseError(
        f"other sessions kept changing the records this file imports ({ATTEMPTS} tries); nothing was "
        "imported; import the file again"
    )


def _stage(conn, staged, ctx: Ctx, kind: str) -> tuple[int, int]:
    """Run ``kind``'s writer in one read snapshot: its rows go to the staging tables."""
    from crm_tui import engines
    from crm_tui.io import kinds_deals, kinds_goals, kinds_orders, kinds_other, kinds_pipelines

    writer = {
        "deals": kinds_deals.import_deals,
        "customers": kinds_other.import_customers,
        "contacts": kinds_other.import_contacts,
        "products": kinds_other.import_products,
        "tasks": kinds_other.import_tasks,
        "orders": kinds_orders.import_orders,
        "pipelines": kinds_pipelines.import_pipelines,
        "goals": kinds_goals.import_goals,
    }[kind]
    ctx.tick(0)
    with conn.begin():
        engines.begin_import_snapshot(conn)
        staged.start()
        created, updated = writer(conn, ctx)
        staged.finish()
    return created, updated


TABLES = {
    "customers": {"customer", "note"},
    "contacts": {"contact", "customer"},
    "deals": {"deal", "deal_product", "stage_change", "customer", "product", "pipeline", "stage", "note"},
    "tasks": {"task", "customer"},
    "products": {"product"},
    "orders": {"sales_order", "order_line", "customer", "product"},
    "pipelines": {"pipeline", "stage", "stage_task_template"},
    "goals": {"goal"},
}

_REQUIRED = {
    "customers": (
        ("name", "first_name", "last_name"),
        "a customer name column (e.g. 'Name', 'Company name', 'Account Name'; 'First Name' for people)",
    ),
    "contacts": (("name", "first_name", "last_name", "email"), "a contact name or email column"),
    "products": (("name",), "a product name column (e.g. 'Product Name')"),
    "tasks": (("subject",), "a subject column (e.g. 'Subject')"),
    "orders": (("number",), "an order number column (e.g. 'Order Number')"),
    "deals": ((), ""),
    "pipelines": (("pipeline",), "a pipeline name column (e.g. 'Pipeline')"),
    "goals": (("metric",), "a metric column (e.g. 'metric': won_value, deals_won, ...)"),
}


def _require_columns(kind: str, columns: dict, headers: list[str]) -> None:
    needed, what = _REQUIRED[kind]
    if needed and not any(f in columns for f in needed):
        raise ValidationError(
            f"cannot import {kind}: no column maps to {' or '.join(needed)}; the file needs {what}, "
            f"or name one with --map COLUMN={needed[0]} (columns: {', '.join(repr(h) for h in headers[:20])})"
        )
    if kind == "deals" and not any(f in columns for f in ("title", "customer", "external_id", "amount")):
        raise ValidationError(
            "cannot import deals: no column maps to title, customer, external_id or amount; "
            f"use --map COLUMN=FIELD (fields: {', '.join(FIELDS['deals'])})"
        )


def _refuse_another_export(kind: str, path, headers: list[str], mapping) -> None:
    """crm-tui's own export of another kind — its header line exactly, in any order — is refused
    unless the rep names its columns: imported as ``kind``, its rows would match records by name
    and overwrite them with the other kind's cells (a deals export read as customers sets each
    customer's id, status and owner from its deals). A file written by hand is read as asked."""
    import shlex

    from crm_tui.io.export_queries import HEADERS

    if mapping:
        return
    other = next((k for k, h in HEADERS.items() if k != kind and set(h) == set(headers)), None)
    if other is None:
        return
    raise AnotherKindsExport(
        f"{Path(path).name} is a crm-tui export of {other}, not {kind}; nothing was imported. Import it as "
        f"{other} (crm-tui import {other} {shlex.quote(str(path))}), or name its columns with --map COLUMN=FIELD "
        f"to read it as {kind}",
        other,
    )


class AnotherKindsExport(ValidationError):
    """The file is crm-tui's export of ``kind``, not of the kind asked for."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def default_errors_path(path) -> Path:
    path = Path(path)
    candidate = path.with_name(path.name + ".rejected.csv")
    if os.access(candidate.parent, os.W_OK):
        return candidate
    return Path.cwd() / candidate.name


def write_rejects(ctx: Ctx, path, errors_path=None) -> Path:
    """Rejected rows, as read, with their file row number and reason; created 0600."""
    from crm_tui import csv_cells

    out = Path(errors_path) if errors_path else default_errors_path(path)
    bad = ~ctx.ok
    frame = ctx.df[bad].copy()
    frame.insert(0, "import_error", ctx.reasons[bad])
    frame.insert(0, "import_row", (frame.index.to_numpy() + 2))
    # the cells as read, but never as formulas when the file is opened in a spreadsheet
    frame = frame.apply(csv_cells.neutralise_column)
    frame.columns = [csv_cells.neutralise(str(c)) for c in frame.columns]
    write_private_text(out, frame.to_csv(index=False))
    return out


def write_private_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    write_private_bytes(path, text.encode(encoding))


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), replacing any older one."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}; choose another path") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)
