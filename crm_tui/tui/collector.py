"""Keeping Python's garbage collector out of the moments a person waits for.

Two settings, both taken and given back through this module (from any thread), and set only by
the command line's interactive session (``crm_tui.cli.interactive_settings``) — never by
importing the app:

- **Full collections wait for start-up.** A full (generation 2) collection walks every
  object the collector tracks. Right after start-up that is everything the imports, the
  database layer and the first screen made, so one would land in the middle of start-up or
  of the first keys. While start-up (or the warm-up's imports) makes long-lived objects, full
  collections are held off — young collections still run and still free short-lived cycles —
  and when the last hold is released, what exists is frozen out of the collector's view
  (``gc.freeze``).
- **A wide young generation while an app runs.** Drawing a frame makes thousands of objects
  (Textual's strips, each with several small caches) that live until the frame is written and
  are then freed by reference counting. At Python's default (a young collection per 700 new
  objects) the collector runs several times in every frame, walks those objects and promotes
  them, and the promoted ones bring full collections every few seconds of scrolling. With
  ``YOUNG`` objects between young collections, a frame's objects are gone before the
  collector looks. The price: up to ``YOUNG`` objects of cyclic garbage wait to be freed, and
  when many new objects survive — a screen shown for the first time, a report computed — that
  one young collection is as long as the full collections it replaces. And a freeze keeps for
  good the garbage the young generation holds at that moment; collecting it first, or
  freezing at the next young collection, would put a pause in the first keys instead.

The figures behind these choices are in benchmarks/RESULTS.md ("Keystrokes without garbage
collections"). When nothing holds either setting, the thresholds are the ones found before.
(Python 3.14's incremental collector schedules collections differently; these settings are
tuned for 3.11–3.13.)
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

#: a generation-2 threshold no session reaches: full collections wait for the release
_NEVER = 1_000_000_000
#: new objects between young collections while an app runs (Python's default: 700)
YOUNG = 50_000


class Collector:
    """Counted holds on full collections and counted running apps (each widens the young
    generation), safe to take and release from any thread."""

    def __init__(self, *, freezer: Callable[[], None] = gc.freeze) -> None:
        self._freezer = freezer  # tests pass one that only counts
        self._lock = threading.Lock()
        self._holds = 0
        self._apps = 0
        self._saved: tuple[int, int, int] | None = None  # the thresholds found before

    @property
    def held(self) -> bool:
        return self._holds > 0

    def _apply(self) -> None:
        """Set the thresholds for the holds and apps counted now (under the lock)."""
        if self._holds == 0 and self._apps == 0:
            if self._saved is not None:
                gc.set_threshold(*self._saved)
            self._saved = None
            return
        if self._saved is None:
            self._saved = gc.get_threshold()
        young, middle, full = self._saved
        gc.set_threshold(max(young, YOUNG) if self._apps else young, middle, _NEVER if self._holds else full)

    def hold(self) -> None:
        """Hold off full collections until the matching ``release``."""
        with self._lock:
            self._holds += 1
            self._apply()

    def release(self, *, freeze: bool = True) -> None:
        """Drop one hold; the last one freezes what exists now (unless ``freeze=False``: an
        app shutting down has nothing long-lived to keep) and lets full collections run."""
        with self._lock:
            if self._holds == 0:
                return
            self._holds -= 1
            if self._holds == 0 and freeze:
                self._freezer()
            self._apply()

    def freeze(self) -> None:
        """Move what exists now out of the collector's view (long-lived: a main screen, first shown)."""
        self._freezer()

    def app_started(self) -> None:
        """An app runs: young collections wait for ``YOUNG`` new objects."""
        with self._lock:
            self._apps += 1
            self._apply()

    def app_stopped(self) -> None:
        with self._lock:
            if self._apps == 0:
                return
            self._apps -= 1
            self._apply()


COLLECTOR = Collector()
