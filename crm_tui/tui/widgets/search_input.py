"""A search box that starts the search the moment its text changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class SearchInput(Input):
    """An ``Input`` that hands every new value to ``on_value`` as it is typed.

    The call happens inside the key press, before Textual repaints the box; an
    ``Input.Changed`` handler runs only after that frame, so the query would start a
    frame later on every keystroke. And a keystroke repaints the box only: an
    ``Input`` re-lays out the whole screen on each one (its text width is a layout
    value), which a fixed-width box never needs.
    """

    virtual_size = Reactive(Size(0, 0), layout=False)

    def __init__(self, on_value: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_value = on_value

    def watch_value(self, value: str) -> None:
        self._on_value(value)
