"""Open ``mailto:`` and ``tel:`` links with the desktop's own opener, where there is a desktop.

Over SSH, or on a server with no display, nothing can open a mail client on the rep's machine:
``open_url`` says so in one line (the caller suggests the copy key instead). Where a desktop is
present the opener is started as a program with the URL as its one argument — never through a
shell — and the address is percent-encoded (``urllib.parse.quote``), so an email such as
``a@b.c;rm -rf /`` or ``--help@x`` is a harmless part of a URL that starts with ``mailto:``,
never a command or an option. Standard library only (no textual): unit tested on its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crm_tui.tui.literal import safe

#: characters a phone number is written with that a ``tel:`` link leaves out (RFC 3966 allows
#: them as visual separators; openers differ on them)
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
#: digits (a leading '+'), then pauses (',' ';') or an extension (';ext=') before more digits
_PHONE = re.compile(r"^\+?[0-9*#]+(?:(?:;ext=|[;,])[0-9*#]+)*$")


@dataclass(frozen=True)
class Opened:
    ok: bool
    reason: str = ""  # why nothing could be opened, in words (the caller adds what to do instead)


def mailto_url(email: str) -> str:
    """``mailto:`` and the address percent-encoded (only ``@`` kept as is)."""
    return "mailto:" + quote(email.strip(), safe="@")


def tel_url(phone: str) -> str | None:
    """``tel:`` and the number without its separators: '+1 (555) 010-2030' → 'tel:+15550102030';
    None when what is left is not a phone number (letters, a '+' in the middle...)."""
    number = _PHONE_SEPARATORS.sub("", phone.strip())
    if not number or not _PHONE.match(number):
        return None
    return "tel:" + quote(number, safe="+;,=")


def desktop_opener(
    *,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | str:
    """The command that opens a URL on this machine's desktop (its program and arguments,
    the URL to be added last), ``"startfile"`` on Windows, or one line saying why there is none."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"):
        return "this is an SSH session: a mail or phone app would open on the server, not on your machine"
    if platform == "win32":
        return "startfile"
    if platform == "darwin":
        program = which("open")
        return [program] if program else "macOS's 'open' command was not found"
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "no desktop here ($DISPLAY and $WAYLAND_DISPLAY are not set)"
    program = which("xdg-open")
    return [program] if program else "xdg-open was not found (install xdg-utils)"


def open_url(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    popen: Callable[..., Any] = subprocess.Popen,
    startfile: Callable[[str], None] | None = None,
) -> Opened:
    """Hand ``url`` (a ``mailto:`` or ``tel:`` link made above) to the desktop; never waits for it."""
    if not url.startswith(("mailto:", "tel:")):
        raise ValueError(f"only mailto: and tel: links are opened, not {url[:20]!r}")
    opener = desktop_opener(env=env, platform=platform, which=which)
    if isinstance(opener, str) and opener != "startfile":
        return Opened(False, opener)
    try:
        if opener == "startfile":
            start = startfile if startfile is not None else getattr(os, "startfile")  # noqa: B009 (Windows only)
            start(url)
        else:
            popen(
                [*opener, url],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # never onto the screen the app draws
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not stopped by the app's ctrl+c, not the app's child in the terminal
                close_fds=True,
                shell=False,
            )
    except OSError as exc:
        return Opened(False, f"the desktop's opener failed ({exc.strerror or exc})")
    return Opened(True)


def copied(field: str, value: str, whose: str) -> str:
    """What ``y`` / ``Y`` say once the email or phone is on the clipboard (names shown literally)."""
    label = "email" if field == "email" else "phone number"
    return f"Copied {label} of '{safe(whose)}': {safe(value)}"


def open_contact(field: str, value: str, whose: str, **opener: Any) -> Opened:
    """Email (``field`` "email") or call (``"phone"``) ``value``, someone's (``whose``) address or
    number; ``reason`` is then the one line to show either way. ``opener``: ``open_url``'s
    keyword arguments (tests)."""
    copy_key, label, app = ("y", "email", "mail") if field == "email" else ("Y", "phone number", "phone")
    url = mailto_url(value) if field == "email" else tel_url(value)
    if url is None:
        return Opened(False, f"'{safe(value)}' is not a phone number a phone app can call; {copy_key} copies it")
    opened = open_url(url, **opener)
    if opened.ok:
        return Opened(True, f"Opening your {app} app for '{safe(whose)}': {safe(value)}")
    return Opened(False, f"Cannot open a {app} app: {opened.reason}; {copy_key} copies the {label} instead")
