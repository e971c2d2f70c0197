"""Command palette providers: jump to any customer or deal by fuzzy name."""

from __future__ import annotations

import asyncio
from functools import partial

from rich.text import Text
from textual.command import Hit, Hits, Provider


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
            label = Text(hit.label)  # literal: names are never read as markup
            score = matcher.match(hit.label) or 0.1
            opener = app.open_customer if hit.kind == "customer" else app.open_deal
            yield Hit(score, matcher.highlight(label), partial(opener, hit.id), help=hit.detail)

    async def discover(self) -> Hits:
        return
        yield  # pragma: no cover - an async generator with no discovery hits
