"""The export dialog never writes over the open database, even when the rep confirms (issue 17, finding 1)."""

from __future__ import annotations

import sqlite3


async def open_export(pilot, app, settle) -> None:
    """ctrl+p, "Export customers", enter on the first hit (the palette searches in batches)."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Export customers")
    for _ in range(60):
        await pilot.pause(0.05)
        options = app.screen.query("CommandList")
        if options and options.first().option_count and options.first().highlighted == 0:
            break
    await pilot.press("enter")
    await settle(app, pilot)


async def test_export_to_the_open_database_is_refused_and_it_stays_whole(
    make_app, settle, db, db_path, services, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    services.create_customer(name="Acme")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await open_export(pilot, app, settle)
        assert app.screen.__class__.__name__ == "ExportScreen"
        box = app.screen.query_one("#transfer-path")
        for typed in (str(db_path), f"{db_path}-wal", db_path.name):
            box.value = typed
            for _ in range(2):  # a second Export is how the rep confirms replacing a file
                await pilot.press("ctrl+s")
                await settle(app, pilot)
            assert "is the open database" in str(app.screen.query_one("#error-path").render()), typed
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("select name from customer").fetchall() == [("Acme",)]
    finally:
        con.close()
