"""Keeping Python's full garbage collections out of the moments a person waits for.

A full (generation 2) collection walks every object the collector tracks. Right after
start-up that is everything the imports, the database layer and the first screen made:
a 60–80 ms pause at 100k customers, landing in the middle of start-up or of the first
keys. So while start-up (or the warm-up's imports) makes long-lived objects, full
collections are held off — young collections still run and still free short-lived
cycles — and when the last hold is released, what exists is frozen out of the
collector's view (``gc.freeze``) and the usual thresholds come back.
"""

from __future__ import annotations

import gc
import threading

#: a generation-2 threshold no session reaches: full collections wait for the release
_NEVER = 1_000_000_000


class FullCollections:
    """Counted holds on full collections, safe to take and release from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds = 0
        self._saved: tuple[int, int, int] | None = None

    @property
    def held(self) -> bool:
        return self._holds > 0

    def hold(self) -> None:
        with self._lock:
            if self._holds == 0:
                self._saved = gc.get_threshold()
                gc.set_threshold(self._saved[0], self._saved[1], _NEVER)
            self._holds += 1

    def release(self, *, freeze: bool = True) -> None:
        """Drop one hold; the last one freezes what exists now (unless ``freeze=False``: an
        app shutting down has nothing long-lived to keep) and restores the thresholds."""
        with self._lock:
            if self._holds == 0:
                return
            self._holds -= 1
            if self._holds == 0:
                if freeze:
                    gc.freeze()
                if self._saved is not None:
                    gc.set_threshold(*self._saved)
                self._saved = None


FULL_COLLECTIONS = FullCollections()
