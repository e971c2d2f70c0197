"""The deal form (board side) and the customer-name suggester the board forms share.

Both are built on ``FormScreen`` (crm_tui.tui.modals.form): save runs in a
thread worker, a ``CrmError`` shows under the field it names with what was
typed kept, and an edit that meets a newer stored version shows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from textual.suggester import Suggester

from crm_tui import validate as v
from crm_tui.dates import DAY_HINT, local_today
from crm_tui.textnorm import money_text
from crm_tui.tui.modals.form import Field, FormScreen, app_now, customer_lookups
from crm_tui.validate import Check


class CustomerSuggester(Suggester):
    """Completes a customer name from the database (prefix match, any case)."""

    def __init__(self, lookup: Callable[[str], list[tuple[int, str]]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._lookup = lookup

    async def get_suggestion(self, value: str) -> str | None:
        if not value.strip():
            return None
        rows = await asyncio.to_thread(self._lookup, value)
        for _id, name in rows:
            if name.casefold().startswith(value.casefold()):
                return value + name[len(value) :]
        return None


class DealFormScreen(FormScreen):
    CSS_PATH = "deal_form.tcss"
    FIELDS = (
        Field("title", "Title", placeholder="what is being sold"),
        Field("customer", "Customer", placeholder="start typing a name; → accepts the suggestion"),
        Field("amount", "Amount", placeholder="e.g. 12000 or 12,000.50"),
        Field("owner", "Owner", placeholder="who works the deal"),
        Field("expected_close", "Expected close", placeholder=DAY_HINT),
        Field("probability", "Probability %", placeholder="blank: the stage's default"),
    )
    ERROR_FIELDS = {"expected close date": "expected_close", "customer_id": "customer"}

    def checks(self) -> Mapping[str, Check]:
        """The deal service's validators (the customer is resolved when saving)."""
        return {
            "title": partial(v.text, field="title", required=True),
            "amount": partial(v.money, field="amount"),
            "owner": partial(v.text, field="owner"),
            "expected_close": partial(
                v.natural_date, field="expected close date", today=local_today(app_now(self.app))
            ),
            "probability": v.percent,
        }

    def lookups(self) -> Mapping[str, Check]:
        return customer_lookups(self.app, self.initial.get("customer"))

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """A natural expected-close date (``+2w``) as the ISO date it was checked to be."""
        close = cleaned.get("expected_close")
        return {**values, "expected_close": close.isoformat() if isinstance(close, dt.date) else ""}

    def shown_current(self, current: dict[str, Any]) -> dict[str, Any]:
        shown = dict(current)
        if current.get("amount_cents") is not None:
            shown["amount"] = money_text(current["amount_cents"]).replace(",", "")
        close: Any = current.get("expected_close")
        shown["expected_close"] = close.isoformat() if hasattr(close, "isoformat") else (close or "")
        if current.get("probability") is None:
            shown["probability"] = ""
        return shown
