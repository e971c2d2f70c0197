"""Command palette providers: jump to any customer or deal by fuzzy name."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import Hit, Hits, Provider
from textual.content import Content

from crm_tui.tui.literal import safe


class JumpProvider(Provider):
    """Customers and deals whose name contains what was typed, best matches first."""

    async def search(self, query: str) -> Hits:
        app = self.app
        if app.db is None or len(query.strip()) < 2:
            return
        from crm_tui.queries.search import search_records

        hits = await asyncio.to_thread(search_records, app.db, query, limit=15)
        matcher = self.matcher(query)
        for hit in hits:
            score, label = literal_highlight(matcher, hit.label)
            opener = app.open_customer if hit.kind == "customer" else app.open_deal
            yield Hit(max(score, 0.1), label, partial(opener, hit.id), text=hit.label, help=hit.detail)

    async def discover(self) -> Hits:
        return
        yield  # pragma: no cover - an async generator with no discovery hits


def literal_highlight(matcher, label: str) -> tuple[float, Content]:
    """Score and highlight ``label`` like ``Matcher.highlight`` does, but without reading the
    label as markup: a customer called ``[red]ACME[/red]`` keeps its brackets."""
    label = safe(label)
    content = Content(label)
    score, offsets = matcher.fuzzy_search.match(matcher.query, label)
    for offset in offsets if score else ():
        if not label[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return score, content
