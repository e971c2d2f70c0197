"""What an import would do, before it writes: ``preview_import``.

For a file, a kind and the rep's column choices (``mapping``: column → field or "ignore",
as ``crm-tui import --map``), it runs the import as a dry run — the importer's own reading,
mapping, parsing and staging, rolled back — and keeps what the rep needs to decide:

- the CRM the headers look like ("looks like a Zoho export"), or none;
- the mapping in force: each of the kind's fields → the file's column (or unmapped), the
  columns read where the first is blank, and the columns left unused;
- the first rows as they will be read: each mapped field's parsed value as text, a cell the
  import rejects flagged with the reason, and the row's own reason when it is rejected;
- the dry run's counts (would create / update / reject), how dates were read and the
  warnings (deals closed before they were created, …).

Nothing is written: no record, no journal entry, no rejected-rows file. When the mapping
leaves the kind without a column it needs, the preview still names the mapping (so the rep
can choose the missing column) and says what is missing; a file that cannot be read at all
raises ``ValidationError`` as the import would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from crm_tui.errors import ValidationError
from crm_tui.io.importer import (
    _REQUIRED,
    AnotherKindsExport,
    Ctx,
    ImportResult,
    _require_columns,
    counted,
    import_file,
)
from crm_tui.io.mapping import FIELDS, KINDS, resolve_columns

#: how many of the file's first rows a preview shows
PREVIEW_ROWS = 10
#: the mapping's word for a column that feeds no field
IGNORE = "ignore"


@dataclass(frozen=True)
class PreviewCell:
    """One field of one row as the import reads it; ``problem`` when the import rejects the cell."""

    text: str
    problem: str = ""


@dataclass(frozen=True)
class PreviewRow:
    line: int  # the file's line number (the header row is line 1)
    cells: dict[str, PreviewCell]
    problem: str = ""  # why the row would be rejected; '' when it would be imported


@dataclass
class ImportPreview:
    kind: str
    path: str
    headers: list[str]
    columns: dict[str, str]  # field → the column it is read from
    also_read: dict[str, list[str]]  # field → later columns read where the first is blank
    unused: list[str]  # columns feeding no field (chosen "not imported" too), in file order
    into_notes: list[str]  # the unused columns whose cells are kept in the record's notes
    mapping: dict[str, str]  # the choices in force (column → field or "ignore")
    profile: str = ""  # "Zoho", '' when the headers look like no one CRM's export
    rows: list[PreviewRow] = field(default_factory=list)
    total_rows: int = 0
    result: ImportResult | None = None  # the dry run; None when the mapping cannot be imported
    problem: str = ""  # why nothing can be imported as mapped ('' when it can)
    suggested_kind: str = ""  # another kind the headers fit better, if any

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS[self.kind]

    @property
    def shown_fields(self) -> list[str]:
        """The fields the rows show: the mapped ones, in the kind's order."""
        return [f for f in self.fields if f in self.columns]

    def profile_line(self) -> str:
        if self.profile:
            article = "an" if self.profile[:1].lower() in "aeiou" else "a"
            line = f"Looks like {article} {self.profile} export"
        else:
            line = "The headers look like no one CRM's export; columns matched by name"
        if self.suggested_kind:
            line += f" · these columns fit {self.suggested_kind} better than {self.kind}"
        return line

    def counts_line(self) -> str:
        r = self.result
        if r is None:
            return f"Nothing can be imported as mapped ({self.total_rows:,} rows read)"
        text = f"Would create {r.created:,}, update {r.updated:,}, reject {r.rejected:,} of {r.rows:,} rows"
        extra = [counted(n, what) for what, n in r.also_created.items() if n]
        if extra:
            text += "; also create " + ", ".join(extra)
        return text

    def detail_lines(self) -> list[str]:
        """How dates were read, kept rows worth a look and the first rejected rows."""
        if self.result is None:
            return []
        return self.result.detail_lines() + list(self.result.first_errors[:3])

    def choose(self, fld: str, column: str | None) -> dict[str, str]:
        """The mapping with ``fld`` read from ``column`` (None: not imported)."""
        if fld not in self.fields:
            raise ValidationError(f"{self.kind} have no field {fld!r}")
        if column is not None and column not in self.headers:
            raise ValidationError(f"the file has no column {column!r}")
        out = dict(self.mapping)
        old = self.columns.get(fld)
        if old is not None and old != column:
            out[old] = IGNORE  # else the column's own header would map it back by name
        for other in self.also_read.get(fld, ()):
            out[other] = IGNORE
        if column is not None:
            out[column] = fld
        return out


class _PeekCtx(Ctx):
    """The importer's context, noting what each field reads as in the first rows."""

    def __init__(self, *args: Any, peek: _Peek, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._peek = peek
        self._depth = 0
        peek.begin(self)

    def _seen(self, name: str, show: Callable[[Any], str], call: Callable[[], Any]) -> Any:
        peek = self._peek
        if self._depth or name in peek.values or name not in self.columns:
            return call()
        head = self.df.index[: peek.n]
        raw = self.raw(name).loc[head].astype(str).str.strip()
        before = self.reasons.loc[head].copy()
        self._depth += 1
        try:
            out = call()
        finally:
            self._depth -= 1
        after = self.reasons.loc[head]
        cells: list[PreviewCell] = []
        for i in head:
            added = str(after[i])[len(str(before[i])) :].lstrip("; ")
            if added:
                cells.append(PreviewCell(str(raw[i]), added))
            else:
                cells.append(PreviewCell(show(out[i])))
        peek.values[name] = cells
        return out

    def text(self, name: str, **kwargs: Any) -> Any:
        return self._seen(name, _plain, lambda: Ctx.text(self, name, **kwargs))

    def dates(self, name: str) -> Any:
        return self._seen(name, partial(_moment, tz=self._peek.tz), lambda: Ctx.dates(self, name))

    def money(self, name: str) -> Any:
        return self._seen(name, _cents, lambda: Ctx.money(self, name))

    def integers(self, name: str, **kwargs: Any) -> Any:
        return self._seen(name, _plain, lambda: Ctx.integers(self, name, **kwargs))

    def percent(self, name: str) -> Any:
        return self._seen(name, _percent, lambda: Ctx.percent(self, name))

    def choice(self, name: str, *args: Any) -> Any:
        return self._seen(name, _plain, lambda: Ctx.choice(self, name, *args))

    def email(self, name: str = "email") -> Any:
        return self._seen(name, _plain, lambda: Ctx.email(self, name))


class _Peek:
    """What the last staging attempt read (a stale attempt is staged again from the start)."""

    def __init__(self, n: int, tz: dt.tzinfo | None) -> None:
        self.n = n
        self.tz = tz
        self.ctx: Ctx | None = None
        self.values: dict[str, list[PreviewCell]] = {}

    def begin(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.values = {}


def _missing(value: Any) -> bool:
    import pandas as pd  # type: ignore[import-untyped]

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> str:
    return "" if value is None or _missing(value) else str(value)


def _percent(value: Any) -> str:
    return "" if _missing(value) else f"{int(value)}%"


def _cents(value: Any) -> str:
    if _missing(value):
        return ""
    cents = int(value)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


def _moment(value: Any, tz: dt.tzinfo | None = None) -> str:
    """A date as the file gave it (midnight UTC: a day), else the moment in local time."""
    if _missing(value):
        return ""
    when: dt.datetime = value.to_pydatetime()
    if (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0):
        return when.date().isoformat()
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def guess_kind(headers: list[str]) -> str:
    """The kind whose fields the most columns name (ties: '' — no guess)."""
    scores: dict[str, int] = {}
    for kind in KINDS:
        columns, _unmapped, alternates = resolve_columns(kind, headers)
        try:
            _require_columns(kind, columns, headers)
        except ValidationError:
            continue
        scores[kind] = len(columns) + sum(len(v) for v in alternates.values())
    if not scores:
        return ""
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else ""


def preview_import(
    db: Any,
    kind: str,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    dayfirst: bool = False,
    rows: int = PREVIEW_ROWS,
    now: dt.datetime | None = None,
    user: str | None = None,
    tz: dt.tzinfo | None = None,
) -> ImportPreview:
    """What importing ``path`` as ``kind`` with ``mapping`` would do; writes nothing (see the module
    docstring). ``tz``: the zone moments are shown in (default: local)."""
    from crm_tui.io import profiles
    from crm_tui.io.readers import read_table

    mapping = dict(mapping or {})
    peek = _Peek(rows, tz)
    try:
        result = import_file(
            db,
            kind,
            path,
            mapping=mapping,
            dry_run=True,
            encoding=encoding,
            dayfirst=dayfirst,
            now=now,
            user=user or "preview",
            write_rejected=False,
            ctx_type=partial(_PeekCtx, peek=peek),
        )
    except ValidationError as refused:
        # Shown, not raised: crm-tui's export of another kind (read as asked, it would overwrite
        # records with that kind's cells; ``k`` reads it as what it is), and a mapping that misses
        # a needed column (the rep can choose that column). A file the import cannot read raises.
        df, _used = read_table(path, encoding)
        headers = [str(h) for h in df.columns]
        columns, _unmapped, alternates = resolve_columns(kind, headers, mapping)
        profile = profiles.detect(headers)
        if isinstance(refused, AnotherKindsExport):
            guess = refused.kind
            problem = f"This is a crm-tui export of {guess}, not {kind}: press k to import it as {guess}, "
            problem += "or m to name its columns"
        else:
            try:
                _require_columns(kind, columns, headers)
            except ValidationError:
                guess = guess_kind(headers)
                problem = _missing_text(kind, guess)
            else:
                raise refused from None
        return ImportPreview(
            kind=kind,
            path=str(path),
            headers=headers,
            columns=dict(columns),
            also_read={k: list(v) for k, v in alternates.items()},
            unused=_unused(headers, columns, alternates),
            into_notes=[],
            mapping=mapping,
            profile=profile.label if profile is not None else "",
            total_rows=len(df),
            problem=problem,
            suggested_kind=guess if guess != kind else "",
        )
    ctx = peek.ctx
    assert ctx is not None
    headers = [str(h) for h in ctx.df.columns]
    head = ctx.df.index[:rows]
    shown = [f for f in FIELDS[kind] if f in result.columns]
    preview_rows = [
        PreviewRow(
            line=int(i) + 2,
            cells={f: peek.values[f][pos] if f in peek.values else PreviewCell("") for f in shown},
            problem=str(ctx.reasons[i]),
        )
        for pos, i in enumerate(head)
    ]
    guess = guess_kind(headers)
    return ImportPreview(
        kind=kind,
        path=str(path),
        headers=headers,
        columns=dict(result.columns),
        also_read={k: list(v) for k, v in ctx.alternates.items()},
        unused=_unused(headers, result.columns, ctx.alternates),
        into_notes=list(result.unmapped_columns) if result.unmapped_into_notes else [],
        mapping=mapping,
        profile=result.profile,
        rows=preview_rows,
        total_rows=result.rows,
        result=result,
        suggested_kind=guess if guess not in ("", kind) and result.rejected == result.rows else "",
    )


def _unused(headers: list[str], columns: dict[str, str], alternates: dict[str, list[str]]) -> list[str]:
    read = set(columns.values()) | {c for cs in alternates.values() for c in cs}
    return [h for h in headers if h not in read and h.strip()]


def _missing_text(kind: str, guess: str) -> str:
    needed, what = _REQUIRED[kind]
    if kind == "deals":
        text = "no column is read as title, customer, external_id or amount; choose one below"
    else:
        text = f"no column is read as {' or '.join(needed)}: the file needs {what}; choose it below"
    if guess and guess != kind:
        text += f" (these columns look like {guess}: import them as {guess})"
    return text
