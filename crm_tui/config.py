"""Who the user is and their settings (theme, ...), stored as JSON in the
platformdirs config folder. No textual import: the core and CLI share it."""

from __future__ import annotations

import datetime
import getpass
import json
import os
from pathlib import Path
from typing import Any

from crm_tui.errors import CrmError

SETTINGS_ENV = "CRM_TUI_CONFIG_DIR"
USER_ENV = "CRM_TUI_USER"


def config_dir() -> Path:
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("crm-tui", appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.json"


class SettingsError(CrmError):
    """The settings file exists but cannot be used; it is never written over."""


def load_settings() -> dict[str, Any]:
    """The saved settings, or {} when there are none. A file that is not a JSON object raises
    ``SettingsError`` saying where it is broken (the rep's name and key map are in there)."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"cannot read the settings file {path}: {exc}; defaults are used until it is fixed"
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "its text"
        raise SettingsError(
            f"the settings file {path} is not valid JSON ({where}); fix it — it is left as it is and defaults are "
            "used meanwhile"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"the settings file {path} must hold a JSON object {{...}}; defaults are used meanwhile")
    return data


def save_settings(settings: dict[str, Any]) -> None:
    """Write settings atomically (a crash leaves the old file or the new one)."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def current_user() -> str:
    """The rep's name: $CRM_TUI_USER, else settings "user", else the OS login."""
    try:
        saved = load_settings().get("user")
    except SettingsError:
        saved = None
    name = os.environ.get(USER_ENV) or saved
    if name:
        return str(name)
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still usable
        return "me"


#: the time of day a date typed without one means (a task due "fri" is due Friday at this time)
DEFAULT_DUE_TIME = datetime.time(9, 0)


def default_due_time() -> datetime.time:
    """Settings ``"default_due_time": "HH:MM"`` (local time), else 09:00; an unreadable value is ignored."""
    try:
        value = load_settings().get("default_due_time")
    except SettingsError:  # reported where the settings are loaded; a date still needs a time
        return DEFAULT_DUE_TIME
    if isinstance(value, str):
        try:
            parsed = datetime.time.fromisoformat(value.strip())
        except ValueError:
            return DEFAULT_DUE_TIME
        return parsed.replace(second=0, microsecond=0, tzinfo=None)
    return DEFAULT_DUE_TIME
