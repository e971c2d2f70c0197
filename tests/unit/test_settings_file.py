"""settings.json (issue 17, finding 8): a broken file is reported with its line and column and
never written over; settings are saved atomically."""

from __future__ import annotations

import json
import os
import stat

import pytest

from crm_tui import config


def test_a_syntax_error_names_line_and_column_and_the_file_is_kept(monkeypatch):
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    broken = '{\n  "user": "ann",\n  "keymap": {"pipeline.win": "W",}\n}\n'
    path.write_text(broken)
    with pytest.raises(config.SettingsError) as caught:
        config.load_settings()
    message = caught.value.message
    assert str(path) in message and "line 3, column 34" in message and "does not overwrite" in message
    with pytest.raises(config.SettingsError):
        config.save_settings({"theme": "nord"})
    assert path.read_text() == broken
    monkeypatch.delenv(config.USER_ENV)
    assert config.current_user()  # the rep can still work: the login name


@pytest.mark.parametrize("body", ['["theme", "nord"]', '"nord"', b"\xff\xfe{"])
def test_other_unusable_files_are_reported_too(body):
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    with pytest.raises(config.SettingsError, match=str(path)):
        config.load_settings()


def test_settings_are_saved_atomically_and_privately():
    config.save_settings({"theme": "nord", "user": "ann"})
    config.save_settings({"theme": "dracula", "user": "ann"})
    path = config.settings_path()
    assert json.loads(path.read_text()) == {"theme": "dracula", "user": "ann"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]  # no temporary file left


def test_a_failed_save_leaves_the_old_file(monkeypatch):
    config.save_settings({"theme": "nord"})

    def boom(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        config.save_settings({"theme": "dracula"})
    path = config.settings_path()
    assert json.loads(path.read_text()) == {"theme": "nord"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]
