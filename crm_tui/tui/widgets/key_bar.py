"""The key bar at the bottom of every screen: the keys that work here, one line.

Textual's ``Footer`` builds one widget per key and rebuilds them all whenever
the bindings change (every focus change); styling those widgets was most of
the time it took to open a screen. This is one widget that draws the same
keys as one line of text, redrawn (not rebuilt) when the bindings change.
A click on a key presses it; hovering a key shows its tooltip.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.widget import Widget


class KeyBar(Widget):
    """The active, shown bindings of the screen: ``key description`` pairs, one per action."""

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .key-bar--description { color: $footer-description-foreground; }
    KeyBar > .key-bar--disabled { color: $text-disabled; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._spans: list[tuple[int, int, str, str, bool]] = []  # (start, end, key, tooltip, enabled)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def keys(self) -> list[tuple[str, str, str, bool, str]]:
        """(key, key as shown, description, enabled, tooltip) of each shown action, in order."""
        return [entry for entry, _id in self._shown()]

    def _shown(self) -> list[tuple[tuple[str, str, str, bool, str], str | None]]:
        seen: set[str] = set()
        out = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            tooltip = active.tooltip or binding.tooltip or binding.description
            entry = (binding.key, self.app.get_key_display(binding), binding.description, active.enabled, tooltip)
            out.append((entry, binding.id))
        return out

    #: the binding that lists every key (whatever key it is mapped to): kept in view when the
    #: bar is too narrow for all of them
    HELP_BINDING = "app.help"

    def render(self) -> Content:
        key_style = self.get_visual_style("key-bar--key")
        text_style = self.get_visual_style("key-bar--description")
        off_style = self.get_visual_style("key-bar--disabled")
        items = []
        for (key, shown, description, enabled, tooltip), binding_id in self._shown():
            part = Content.assemble(
                (f" {shown}", key_style if enabled else off_style),
                (f" {description} " if description else " ", text_style if enabled else off_style),
            )
            items.append((part, key, tooltip, enabled, binding_id == self.HELP_BINDING))
        width = self.size.width
        if width and sum(item[0].cell_length for item in items) > width:
            # Too narrow for every key: the first ones that fit, then "…" and the key that lists
            # them all (never cut off mid-key, never the help key lost off the edge).
            help_items = [item for item in items if item[4]]
            room = width - sum(item[0].cell_length for item in help_items) - 2
            kept, used = [], 0
            for item in (item for item in items if not item[4]):
                if used + item[0].cell_length > room:
                    break
                kept.append(item)
                used += item[0].cell_length
            items = [*kept, (Content.assemble((" …", text_style)), "", "", False, False), *help_items]
        parts: list[Content] = []
        spans: list[tuple[int, int, str, str, bool]] = []
        x = 0
        for part, key, tooltip, enabled, _help in items:
            if key:
                spans.append((x, x + part.cell_length, key, tooltip, enabled))
            x += part.cell_length
            parts.append(part)
        self._spans = spans
        return Content("").join(parts)

    def _span_at(self, x: int) -> tuple[int, int, str, str, bool] | None:
        for span in self._spans:
            if span[0] <= x < span[1]:
                return span
        return None

    def on_click(self, event: events.Click) -> None:
        span = self._span_at(event.x)
        if span is not None:
            event.stop()
            if span[4]:
                self.app.simulate_key(span[2])
            else:
                self.app.bell()  # a key that does nothing here, as Textual's Footer does

    def on_mouse_move(self, event: events.MouseMove) -> None:
        span = self._span_at(event.x)
        self.tooltip = span[3] if span else None
