"""Who the user is and their settings (theme, ...), stored as JSON in the
platformdirs config folder. No textual import: the core and CLI share it."""

from __future__ import annotations

import datetime
import getpass
import json
import os
import tempfile
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
    """The settings file cannot be used as it is; crm-tui runs on its defaults meanwhile and
    never writes over the file (the rep's name and key map are in it)."""


def load_settings() -> dict[str, Any]:
    """The saved settings, or {} when there is no settings file.

    A file that cannot be read, is not valid JSON or is not a JSON object raises
    ``SettingsError`` naming the line and column to fix."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"cannot read the settings file {path} ({detail}); {_MEANWHILE}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"the settings file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
            f"fix it there ({_MEANWHILE})"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(
            f'the settings file {path} must hold a JSON object such as {{"theme": "nord"}}, not a '
            f"{type(data).__name__}; fix it there ({_MEANWHILE})"
        )
    return data


_MEANWHILE = "crm-tui uses its defaults until then and does not overwrite the file"


def save_settings(settings: dict[str, Any]) -> None:
    """Write settings atomically: a crash leaves the old file or the new one, never a mix.

    A settings file that cannot be read is left alone (``SettingsError``): writing over it
    would lose whatever the rep had put there."""
    load_settings()
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(settings, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (the folder's entry is what changed)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_user() -> str:
    """The rep's name: $CRM_TUI_USER, else settings "user", else the OS login."""
    try:
        saved = load_settings().get("user")
    except SettingsError:  # a broken file must not stop the rep working; the app says what is wrong
        saved = None
    name = os.environ.get(USER_ENV) or saved
    if name:
        return str(name)
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still usable
        return "me"


def acting_user(db: object, asked: str | None = None) -> str:
    """Who acts on ``db``: on PostgreSQL with a team, the session's login (``Database.login``),
    whatever the settings or ``asked`` say (a rep cannot act as another by editing a file);
    elsewhere ``asked``, else ``current_user()``."""
    login = getattr(db, "login", None)
    if login:
        return str(login)
    return asked if asked is not None else current_user()


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
