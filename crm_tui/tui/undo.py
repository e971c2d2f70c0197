"""The undo stack: each destructive action pushes how to take it back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class UndoEntry:
    label: str  # shown to the user: "Undo: move 'Big deal' to Won"
    undo: Callable[[], object]  # runs in a thread worker (it writes the database)


class UndoStack:
    def __init__(self, limit: int = 50) -> None:
        self._entries: list[UndoEntry] = []
        self._limit = limit

    def push(self, entry: UndoEntry) -> None:
        self._entries.append(entry)
        del self._entries[: -self._limit]

    def pop(self) -> UndoEntry | None:
        return self._entries.pop() if self._entries else None

    def __len__(self) -> int:
        return len(self._entries)
