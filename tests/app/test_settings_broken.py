"""A broken settings.json is said once in the app and never written over (issue 17, finding 8)."""

from __future__ import annotations

import pytest

from crm_tui import config

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


async def test_the_app_says_what_is_wrong_once_and_keeps_the_file(make_app, settle, until, notifications):
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    broken = '{"user": "ann", "theme": }'
    path.write_text(broken)
    app = make_app()
    seen = notifications(app)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: seen.said("line 1, column 26"), what="the settings message")
        assert seen.titled("Settings") == [m for m in seen.texts() if "line 1, column 26" in m]
        app.theme = "nord" if app.theme != "nord" else "dracula"  # a change the app would save
        await settle(app, pilot)
        assert path.read_text() == broken
        assert len([m for m in seen.texts() if "line 1" in m]) == 1, seen.texts()
