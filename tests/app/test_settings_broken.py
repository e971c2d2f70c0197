"""A broken settings.json is said once in the app and never written over (issue 17, finding 8)."""

from __future__ import annotations

from crm_tui import config


async def test_the_app_says_what_is_wrong_once_and_keeps_the_file(make_app, settle):
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    broken = '{"user": "ann", "theme": }'
    path.write_text(broken)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
        assert len([m for m in said if "line 1, column 26" in m]) == 1, said
        app.theme = "nord" if app.theme != "nord" else "dracula"
        await settle(app, pilot)
        assert path.read_text() == broken
        assert len([n for n in app._notifications if "line 1" in n.message]) == 1
