"""An Input for file paths: suggests the rest of a name from the folder, tab accepts it.

``~`` is expanded and relative paths are read against the working folder.
The folder is listed in a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from textual import on
from textual.binding import Binding
from textual.suggester import Suggester, SuggestionReady
from textual.widgets import Input

#: folders with more entries than this are not completed (a slow network share, /usr/lib...)
MAX_ENTRIES = 5000


def resolve_path(text: str, cwd: Path | None = None) -> Path:
    """What the rep typed → an absolute path (``~`` expanded, relative to ``cwd``)."""
    path = Path(os.path.expanduser(text.strip()))
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def complete_path(value: str, suffixes: tuple[str, ...] = ()) -> str | None:
    """``value`` completed to the first matching entry of its folder, or None.

    Files whose suffix is in ``suffixes`` (all files when empty) come before
    folders; a folder is completed with a trailing ``/``; hidden entries only
    when the typed name starts with a dot.
    """
    if not value:
        return None
    head, tail = os.path.split(os.path.expanduser(value))
    folder = resolve_path(head or ".") if head else Path.cwd()
    try:
        with os.scandir(folder) as it:
            entries = []
            for entry in it:
                entries.append(entry)
                if len(entries) > MAX_ENTRIES:
                    return None
    except OSError:
        return None
    candidates = []
    for entry in entries:
        name = entry.name
        if not name.startswith(tail) or (name.startswith(".") and not tail.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if not is_dir and (name == tail or (suffixes and Path(name).suffix.lower() not in suffixes)):
            continue
        candidates.append((is_dir, name))
    if not candidates:
        return None
    is_dir, name = min(candidates)
    return value + name[len(tail) :] + ("/" if is_dir else "")


class PathSuggester(Suggester):
    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = tuple(s.lower() for s in suffixes)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value, self.suffixes)


class PathInput(Input):
    """Tab accepts the suggested completion (then moves on when there is none)."""

    BINDINGS = [
        Binding(
            "tab",
            "complete",
            "Complete",
            id="path.complete",
            show=False,
            tooltip="Complete the file or folder name; next field when there is nothing to complete",
        ),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.completion = ""

    @on(SuggestionReady)
    def _suggested(self, event: SuggestionReady) -> None:
        if event.value == self.value:
            self.completion = event.suggestion

    def action_complete(self) -> None:
        if self.cursor_at_end and len(self.completion) > len(self.value) and self.completion.startswith(self.value):
            self.value = self.completion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
