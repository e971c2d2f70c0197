"""Who the user is and their settings (theme, ...), stored as JSON in the
platformdirs config folder. No textual import: the core and CLI share it."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

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


def load_settings() -> dict[str, Any]:
    """The saved settings, or {} when there are none or the file is unreadable."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
    """The rep's name: settings "user", else $CRM_TUI_USER, else the OS login."""
    name = os.environ.get(USER_ENV) or load_settings().get("user")
    if name:
        return str(name)
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still usable
        return "me"
