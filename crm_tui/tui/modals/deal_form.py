"""The deal form (board side) and the customer-name suggester the board forms share.

Both are built on ``FormScreen`` (crm_tui.tui.modals.form): save runs in a
thread worker, a ``CrmError`` shows under the field it names with what was
typed kept, and an edit that meets a newer stored version shows it.

A customer name several live customers share is no dead end: saving offers a pick list of them
(each with its email, owner and industry), then saves with the one picked — never a guess.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.suggester import Suggester

from crm_tui import validate as v
from crm_tui.dates import DAY_HINT, local_today
from crm_tui.errors import ValidationError
from crm_tui.textnorm import money_text
from crm_tui.tui.modals.form import Field, FormScreen, app_now
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.validate import Check

if TYPE_CHECKING:
    from crm_tui.queries.pipeline import CustomerMatch


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


def _currency(value: object) -> str:
    """A deal's currency as typed: 3 letters (upper-cased), or blank for the home currency."""
    from crm_tui.money import currency_code

    text = str(value or "").strip()
    if not text:
        return ""
    code = currency_code(text)
    if code is None:
        raise ValidationError(f"a currency is 3 letters such as EUR or GBP, not {text!r}", field="currency")
    return code


class DealFormScreen(FormScreen):
    CSS_PATH = "deal_form.tcss"
    FIELDS = (
        Field("title", "Title", placeholder="what is being sold"),
        Field("customer", "Customer", placeholder="start typing a name; → accepts the suggestion"),
        Field("amount", "Amount", placeholder="e.g. 12000 or 12,000.50"),
        Field("currency", "Currency", placeholder="3 letters, e.g. EUR; blank: the home currency"),
        Field("owner", "Owner", placeholder="who works the deal"),
        Field("expected_close", "Expected close", placeholder=DAY_HINT),
        Field("probability", "Probability %", placeholder="blank: the stage's default"),
    )
    ERROR_FIELDS = {"expected close date": "expected_close", "customer_id": "customer"}

    def __init__(self, *args: Any, customer_id: int | None = None, **kwargs: Any) -> None:
        """``customer_id``: the customer the form's filled-in customer name stands for (an edit's own)."""
        super().__init__(*args, **kwargs)
        named = str(self.initial.get("customer") or "")
        #: (id, name): the customer the typed name stands for — the deal's own, or the one picked
        self.chosen: tuple[int, str] | None = (customer_id, named) if customer_id is not None and named else None
        #: the customers a save found sharing the typed name (set in the save worker, read after it)
        self._several: list[CustomerMatch] = []

    def checks(self) -> Mapping[str, Check]:
        """The deal service's validators (the customer is resolved when saving)."""
        return {
            "title": partial(v.text, field="title", required=True),
            "amount": partial(v.money, field="amount"),
            "currency": _currency,
            "owner": partial(v.text, field="owner"),
            "expected_close": partial(
                v.natural_date, field="expected close date", today=local_today(app_now(self.app))
            ),
            "probability": v.percent,
        }

    def _chosen_for(self, typed: object) -> int | None:
        """The id of the customer chosen for this name, while the name typed is still its name."""
        chosen = self.chosen
        if chosen is not None and str(typed or "").strip().casefold() == chosen[1].strip().casefold():
            return chosen[0]
        return None

    def lookups(self) -> Mapping[str, Check]:
        """The customer's name must name a live customer; when several share it, the save stops
        to let the rep pick one (``_refused``)."""
        from crm_tui.queries.pipeline import customer_matches, resolve_customer

        db = getattr(self.app, "db", None)
        if db is None:
            return {}
        chosen = self._chosen_for  # read the choice on the event loop, before the worker starts
        known = chosen(self.values().get("customer"))

        def check(value: object) -> object:
            self._several = []
            name = str(value or "").strip()
            if known is not None or not name:
                return known
            matches = customer_matches(db, name)
            if len(matches) > 1:
                self._several = matches
                raise ValidationError(
                    f"{len(matches)} customers are called '{name}'; save again to pick one", field="customer"
                )
            return resolve_customer(db, name)

        return {"customer": check}

    def _refused(self, errors: Mapping[str, str]) -> None:
        """Only the customer's name is in doubt (several share it): offer them, then save again."""
        several, self._several = self._several, []
        if several and set(errors) == {"customer"}:
            self.saving = False
            choices = [(m.label(), m) for m in several]
            typed = several[0].name
            self.app.push_screen(PickScreen(f"Which '{typed}'? ({len(several)} customers)", choices), self._picked)
            return
        super()._refused(errors)

    def _picked(self, match: CustomerMatch | None) -> None:
        if match is None:
            self.show_errors({"customer": "several customers have this name; save again to pick one"})
            return
        self.chosen = (match.id, str(self.values().get("customer") or match.name))
        self.action_save()

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """A natural expected-close date (``+2w``) as the ISO date it was checked to be, and the id
        of the customer picked (or the deal's own) while the name typed is still theirs."""
        close = cleaned.get("expected_close")
        out = {**values, "expected_close": close.isoformat() if isinstance(close, dt.date) else ""}
        chosen = self._chosen_for(values.get("customer"))
        if chosen is not None:
            out["customer_id"] = chosen
        return out

    def shown_current(self, current: dict[str, Any]) -> dict[str, Any]:
        shown = dict(current)
        if current.get("amount_cents") is not None:
            shown["amount"] = money_text(current["amount_cents"]).replace(",", "")
        close: Any = current.get("expected_close")
        shown["expected_close"] = close.isoformat() if hasattr(close, "isoformat") else (close or "")
        if current.get("probability") is None:
            shown["probability"] = ""
        return shown
