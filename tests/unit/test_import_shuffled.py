"""Property: any file our export writes, with any subset of its rows and its columns in any order,
imports back into the same database as the same records (nothing created, nothing rejected, the
same report)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.metrics import Filters, report

NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=dt.UTC)
KINDS = ("customers", "contacts", "deals", "tasks", "orders")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from crm_tui import demo

    path = tmp_path_factory.mktemp("shuffled")
    db = Database.open(str(path / "crm.sqlite3"))
    demo.generate(db, size=25, seed=3, now=NOW)
    files = {}
    for kind in KINDS:
        buf = io.StringIO()
        export_kind(db, kind, buf, "csv")
        files[kind] = buf.getvalue()
    yield db, path, files, report(db, Filters(), now=NOW)
    db.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_shuffled_subset_imports_to_the_same_records(seeded, kind, data):
    import pandas as pd

    db, folder, files, before = seeded
    df = pd.read_csv(io.StringIO(files[kind]), dtype=str, keep_default_na=False)
    if kind == "orders":  # an order's lines go together (the lines of a number are the order)
        numbers = sorted(set(df.number))
        keep = data.draw(st.lists(st.sampled_from(numbers), min_size=1, unique=True))
        rows = df[df.number.isin(keep)]
    else:
        picked = data.draw(st.lists(st.integers(0, len(df) - 1), min_size=1, max_size=len(df), unique=True))
        rows = df.iloc[picked]
    columns = data.draw(st.permutations(list(df.columns)))
    path = folder / f"{kind}.csv"
    rows[list(columns)].to_csv(path, index=False)
    r = import_file(db, kind, path, now=NOW)
    assert (r.created, r.rejected, r.also_created) == (0, 0, {}), (kind, r.first_errors)
    assert r.updated == (rows.number.nunique() if kind == "orders" else len(rows))
    assert report(db, Filters(), now=NOW) == before
