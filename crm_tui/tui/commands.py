"""Command palette providers: every key's action by name, and any customer or deal by name.

``binding_commands`` turns the bindings active on a screen (its own, its focused widget's and
the app's) into palette commands, so nothing exists only behind a key: the palette and the key
bar are built from the same declarations. ``JumpProvider`` finds customers and deals.

Text from the database reaches the palette only as Rich ``Text`` (never markup): a customer
called ``[link=…]`` or ``[@click=app.quit]`` is shown literally and does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import SystemCommand
from textual.command import Hit, Hits, Provider
from textual.markup import escape

from crm_tui.tui.literal import safe

if TYPE_CHECKING:
    from textual.app import App
    from textual.binding import Binding
    from textual.fuzzy import Matcher
    from textual.screen import Screen

    from crm_tui.tui.app import CrmApp


def binding_commands(
    app: App[Any], screen: Screen[Any], *, skip: frozenset[str] | set[str] = frozenset()
) -> Iterator[SystemCommand]:
    """One palette command per action bound on ``screen`` (shown in the key bar or not)."""
    seen: set[tuple[int, str]] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.id or (id(active.node), binding.action) in seen:
            continue
        seen.add((id(active.node), binding.action))
        title = command_title(binding)
        if not title or title in skip or binding.description in skip:
            continue
        shown = app.get_key_display(binding) if key else ""
        help_text = f"{binding.description} · key {shown}" if shown else binding.description
        help_text += f" · keymap id {binding.id}"  # what settings.json's keymap names it by
        yield SystemCommand(escape(title), escape(help_text), partial(app.run_action, binding.action, active.node))


def design_commands(app: CrmApp, screen: Screen[Any]) -> Iterator[SystemCommand]:
    """The design screens (stages, products, currencies) by name from wherever the rep is."""
    # the board, Orders and Reports offer their own keys for them: those are listed as such
    bound = {active.binding.action for active in screen.active_bindings.values()}
    if "design" not in bound:
        yield SystemCommand(
            "Edit stages",
            "Funnel design: stages, win %, rot days, stage tasks, pipelines (S on the board)",
            app.open_funnel,
        )
    if "products" not in bound:
        yield SystemCommand("Products", "The product catalogue: add, edit, retire (P on Orders)", app.open_products)
    if "currencies" not in bound:
        yield SystemCommand(
            "Currencies",
            "The home currency and exchange rates: add, edit, remove ($ on Reports)",
            app.open_currencies,
        )


def command_title(binding: Binding) -> str:
    """What the palette calls a binding's action: its tooltip, led by the key bar's name for it
    when the tooltip does not say it ("Win: Mark the highlighted deal won"), so the word the rep
    reads beside the key finds the action too (the palette matches titles only)."""
    tooltip, name = binding.tooltip, binding.description.strip("◀▶ ")
    if not tooltip:
        return name
    if not name or name.lower() in tooltip.lower():
        return tooltip
    return f"{name}: {tooltip}"


class JumpProvider(Provider):
    """Customers and deals whose name contains what was typed, best matches first."""

    async def search(self, query: str) -> Hits:
        app: Any = self.app
        if app.db is None or len(query.strip()) < 2:
            return
        from crm_tui.queries.search import search_records

        hits = await asyncio.to_thread(search_records, app.db, query, limit=15)
        matcher = self.matcher(query)
        for hit in hits:
            score, label = literal_highlight(matcher, hit.label)
            if hit.detail:
                label.append("\n")
                label.append(safe(hit.detail), style="dim")
            opener = app.open_customer if hit.kind == "customer" else app.open_deal
            yield Hit(max(score, 0.1), label, partial(opener, hit.id), text=safe(hit.label))

    async def discover(self) -> Hits:
        return
        yield  # pragma: no cover - an async generator with no discovery hits


def literal_highlight(matcher: Matcher, label: str) -> tuple[float, Text]:
    """Score and highlight ``label`` like ``Matcher.highlight`` does, as plain ``Text``: a
    customer called ``[red]ACME[/red]`` keeps its brackets and no markup of it is ever run."""
    label = safe(label)
    text = Text(label)
    score, offsets = matcher.fuzzy_search.match(matcher.query, label)
    for offset in offsets if score else ():
        if not label[offset].isspace():
            text.stylize(matcher.match_style.rich_style, offset, offset + 1)
    return score, text
