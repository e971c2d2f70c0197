"""Import and export from the command palette, with real keys against a temp database."""

from __future__ import annotations

import csv
import stat

import pytest
from sqlalchemy import func, select

from crm_tui.models import Customer
from crm_tui.tui.widgets.path_input import complete_path

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

CSV_TEXT = (
    "Company name,Email,Favourite colour\n"
    "Zenith Tools,hello@zenith.example,blue\n"
    "Yarrow & Sons,not-an-email,green\n"
    "Xylo Ltd,xylo@example.com,\n"
)


def shown(app) -> str:
    table = app.screen.query_one("#customers-table")
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def names(db) -> set[str]:
    with db.read() as s:
        return set(s.execute(select(Customer.name).where(Customer.deleted_at.is_(None))).scalars())


async def run_command(pilot, palette, settle, command: str) -> None:
    """ctrl+p, type the command, enter on the first hit once the palette offers it."""
    await palette(pilot, command)
    await pilot.press("enter")
    await settle(pilot.app, pilot)


async def previewed(pilot, until):
    """Wait for the import's preview step (after enter on the file); → that screen."""
    app = pilot.app
    await until(
        pilot,
        lambda: type(app.screen).__name__ == "ImportPreviewScreen" and not app.screen.checking,
        what=lambda: f"the preview (on top: {app.screen!r})",
    )
    return app.screen


async def import_previewed(pilot, until, settle) -> None:
    """enter on the file, enter on its preview: the import runs; wait for its summary."""
    await pilot.press("enter")
    await previewed(pilot, until)
    await pilot.press("enter")
    await until(pilot, lambda: "mported" in text_of(pilot.app, "#transfer-summary"), what="the summary")
    await settle(pilot.app, pilot)


@pytest.mark.keys_only  # the import itself runs on both engines in tests/unit
async def test_import_customers_from_palette_shows_summary_and_list(make_app, settle, palette, until, db, tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text(CSV_TEXT, encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Import customers")
        assert app.screen.__class__.__name__ == "ImportScreen"
        await pilot.press(*str(source))
        await import_previewed(pilot, until, settle)
        summary = text_of(app, "#transfer-summary")
        assert "Imported customers from leads.csv: 2 created, 0 updated, 1 rejected" in summary
        assert "'Favourite colour'" in summary and "kept in notes" in summary
        rejects = tmp_path / "leads.csv.rejected.csv"
        assert str(rejects) in summary and "email must look like" in summary
        assert rejects.exists() and "Yarrow & Sons" in rejects.read_text()
        assert names(db) == {"Zenith Tools", "Xylo Ltd"}
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen.__class__.__name__ == "CustomersScreen"
        listed = shown(app)
        assert "Zenith Tools" in listed and "Xylo Ltd" in listed and "Yarrow" not in listed


@pytest.mark.keys_only  # the import itself runs on both engines in tests/unit
async def test_ctrl_z_takes_back_an_import_from_the_dialog_as_one_action(
    make_app, settle, palette, until, notifications, db, services, tmp_path
):
    services.create_customer(name="Kept Co")  # an older action of the rep: untouched by the undo
    source = tmp_path / "leads.csv"
    source.write_text(CSV_TEXT, encoding="utf-8")
    app = make_app()
    seen = notifications(app)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Import customers")
        await pilot.press(*str(source))
        await import_previewed(pilot, until, settle)
        assert names(db) == {"Kept Co", "Zenith Tools", "Xylo Ltd"}
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("ctrl+z")
        await until(pilot, lambda: seen.said("Undo: import 2 customers from leads.csv"), what="the undo's message")
        assert names(db) == {"Kept Co"}
        await until(pilot, lambda: "Zenith" not in shown(app), what="the list without the imported rows")
        await pilot.press("ctrl+y")
        await until(pilot, lambda: seen.said("Redo: import 2 customers from leads.csv"), what="the redo's message")
        assert names(db) == {"Kept Co", "Zenith Tools", "Xylo Ltd"}


async def test_preview_then_a_changed_mapping_is_imported_and_escape_writes_nothing(
    make_app, settle, palette, until, db, tmp_path
):
    source = tmp_path / "leads.csv"
    source.write_text(CSV_TEXT.replace("Favourite colour", "[bold]Favourite colour"), encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Import customers")
        await pilot.press(*str(source), "enter")
        screen = await previewed(pilot, until)
        assert "Would create 2, update 0, reject 1 of 3 rows" in text_of(app, "#preview-counts")
        # the header is shown as typed, never as markup
        assert "Kept in the notes (no field): [bold]Favourite colour" in text_of(app, "#preview-unused")
        table = screen.query_one("#preview-rows")
        assert [str(c.label) for c in table.columns.values()] == ["line", "name", "email", "problem"]
        assert str(table.get_row_at(1)[2]) == "✗ not-an-email"
        await pilot.press("down", "right", "right")  # the cursor on it: the reason in full
        assert "line 3 · email ← Email: not-an-email\nrejected: email must look like" in text_of(app, "#preview-cell")
        # escape backs out: nothing written
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ImportScreen" and "Nothing was written" in text_of(app, "#transfer-status")
        assert names(db) == set()
        # again; m goes to the mapping: industry (the 7th field) ← the colour column
        await pilot.press("enter")
        screen = await previewed(pilot, until)
        await pilot.press("m", *["tab"] * 6)
        assert app.focused.name == "industry" and app.focused.value == "\x00not-imported"
        await pilot.press("enter", "down", "down", "down", "enter")
        await until(pilot, lambda: "industry" in screen.preview.columns and not screen.checking, what="the new preview")
        table = screen.query_one("#preview-rows")
        assert [str(c.label) for c in table.columns.values()] == ["line", "name", "email", "industry", "problem"]
        assert str(table.get_row_at(0)[3]) == "blue"
        assert "Not imported" not in text_of(app, "#preview-unused")
        # a click on the highlighted cell (a "select" to the table) never writes
        await pilot.click("#preview-rows", offset=(1, 1))
        await settle(app, pilot)
        assert app.screen is screen and names(db) == set()
        await pilot.press("r", "enter")
        await until(pilot, lambda: "mported" in text_of(app, "#transfer-summary"), what="the summary")
    with db.read() as s:
        got = dict(s.execute(select(Customer.name, Customer.industry)).all())
    assert got == {"Zenith Tools": "blue", "Xylo Ltd": ""}


async def test_missing_file_and_bad_encoding_shown_inline_and_typing_kept(
    make_app, settle, palette, until, db, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "no-names.csv").write_text("Colour\nblue\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Import customers")
        await pilot.press(*"nope.csv", "enter")
        await settle(app, pilot)
        assert app.screen.__class__.__name__ == "ImportScreen"
        assert f"{tmp_path / 'nope.csv'}: no such file" in text_of(app, "#error-path")
        assert app.screen.query_one("#transfer-path").value == "nope.csv"
        # an unknown encoding is named beside its field
        app.screen.query_one("#transfer-path").value = "no-names.csv"
        app.screen.query_one("#transfer-encoding").value = "klingon"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "unknown encoding 'klingon'" in text_of(app, "#error-encoding")
        assert not app.screen.query_one("#error-path").has_class("-shown")
        # no name column: the preview says so and imports nothing; back at the file, typing kept
        app.screen.query_one("#transfer-encoding").value = ""
        await pilot.press("ctrl+s")
        await previewed(pilot, until)
        assert "no column is read as name" in text_of(app, "#preview-problem")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "Nothing to import: no column is read as name" in text_of(app, "#preview-status")
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen.query_one("#transfer-path").value == "no-names.csv"
        assert names(db) == set()
        # a file that is not CSV: one message beside the form, no preview
        (tmp_path / "blob.csv").write_bytes(b"\x00\x01\x02binary\x00")
        app.screen.query_one("#transfer-path").value = "blob.csv"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ImportScreen" and "not CSV" in text_of(app, "#error-form")
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "CustomersScreen"


async def test_export_deals_to_csv_writes_private_file_with_every_live_deal(
    make_app, settle, palette, db, services, clock, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    acme = services.create_customer(name="Acme")
    for i in range(3):
        services.create_deal(f"Deal {i}", customer_id=acme.id, amount="1000")
    gone = services.create_deal("Deleted deal", customer_id=acme.id)
    services.delete_deal(gone.id)
    app = make_app("pipeline")
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Export deals")
        assert app.screen.__class__.__name__ == "ExportScreen"
        default = f"deals-{clock().astimezone():%Y%m%d}.csv"
        assert app.screen.query_one("#transfer-path").value == default
        await pilot.press("enter")
        await settle(app, pilot)
        out = tmp_path / default
        assert out.exists() and stat.S_IMODE(out.stat().st_mode) == 0o600
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert sorted(r["title"] for r in rows) == ["Deal 0", "Deal 1", "Deal 2"]
        summary = text_of(app, "#transfer-summary")
        assert "Exported 3 deals as csv" in summary and str(out) in summary
        # a second export to the same file asks before replacing it
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "exists; press Export again" in text_of(app, "#error-path")
        # choosing json renames the default file to match
        app.screen.query_one("#transfer-format").value = "json"
        await pilot.pause()
        assert app.screen.query_one("#transfer-path").value == default[:-3] + "json"


async def test_tab_completes_the_file_name(make_app, settle, palette, until, db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customers-2026.csv").write_text("Name\nAcme\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_command(pilot, palette, settle, "Import customers")
        await pilot.press(*"cus")
        await settle(app, pilot)
        await pilot.press("tab")
        assert app.screen.query_one("#transfer-path").value == "customers-2026.csv"
        await import_previewed(pilot, until, settle)
        assert "1 created" in text_of(app, "#transfer-summary")
        with db.read() as s:
            assert s.execute(select(func.count()).select_from(Customer)).scalar() == 1


def test_complete_path_prefers_matching_files_then_folders(tmp_path):
    (tmp_path / "deals.csv").write_text("")
    (tmp_path / "deals.pdf").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / ".hidden.csv").write_text("")
    base = str(tmp_path) + "/"
    assert complete_path(base + "de", (".csv",)) == base + "deals.csv"
    assert complete_path(base + "da", (".csv",)) == base + "data/"
    assert complete_path(base + "deals.p", (".csv",)) is None  # wrong suffix
    assert complete_path(base + ".h", (".csv",)) == base + ".hidden.csv"
    assert complete_path(base, (".csv",)) == base + "deals.csv"  # hidden entries only when asked
    assert complete_path(base + "zzz", ()) is None
