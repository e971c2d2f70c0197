"""The Pipeline board as the screen holds it: columns, cards and header figures.

Plain data and the arithmetic of moving a card (no SQL here): the kanban widget
draws it and ``crm_tui.queries.pipeline.load_board`` fills it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # plain data: the widgets draw it and may not reach the database's modules
    from crm_tui.money import Rates

CLOSED_DAYS = 30
CARDS_PER_COLUMN = 200  # the first window of each column; grows on demand


@dataclass(frozen=True)
class StageCol:
    id: int
    name: str
    outcome: str  # open / won / lost
    probability: int
    rot_days: int | None


@dataclass(frozen=True)
class Card:
    id: int
    title: str
    customer_id: int | None
    customer: str
    amount_cents: int
    currency: str
    owner: str
    stage_id: int
    days_in_stage: int
    rot: int  # 0 fresh, 1 rotting (past the stage's rot days), 2 rotten (past twice that)
    next_task: str
    next_due: dt.datetime | None
    closed_at: dt.datetime | None
    version: int = 1  # of the deal as read: a move from this card says which version it saw
    category: str = ""  # an open deal's forecast category (crm_tui.metrics.categories); "" when closed


@dataclass(frozen=True)
class Header:
    count: int = 0
    value_cents: int = 0
    weighted_cents: int = 0
    cent_percent: int = 0  # Σ amount × probability, exact (weighted_cents is this / 100, rounded once)


def make_header(outcome: str, count: int, value_cents: int, cent_percent: int) -> Header:
    """A column header: won deals weigh their whole value, lost ones nothing, open ones Σ amount × p."""
    if outcome == "won":
        weighted = value_cents
    elif outcome == "lost":
        weighted = 0
    else:
        weighted = int((Decimal(cent_percent) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Header(count, value_cents, weighted, cent_percent)


@dataclass
class Board:
    pipeline_id: int
    pipeline: str
    stages: list[StageCol]
    cards: dict[int, list[Card]] = field(default_factory=dict)
    headers: dict[int, Header] = field(default_factory=dict)
    closed_days: int = CLOSED_DAYS
    #: the headers' money is in ``rates.home``; ``missing``: currencies left out for want of a rate
    rates: Rates | None = None
    missing: frozenset[str] = frozenset()

    @property
    def currency(self) -> str:
        return self.rates.home if self.rates is not None else "USD"

    #: the goals line above the board ("Dec: 61% of 120,000 won · ..."; "" when there is no such
    #: goal), its state ("met", "ahead", "behind") and each stage's "advanced into" goal ("Dec 3/5")
    goal_line: str = ""
    goal_state: str = ""
    stage_goals: dict[int, str] = field(default_factory=dict)
    goals_read: bool = False  # False: the goals were not read with this board (the warm-up's)

    def has_more(self, stage_id: int) -> bool:
        """True when the column's header counts more deals than the board holds."""
        return self.headers.get(stage_id, Header()).count > len(self.cards.get(stage_id, ()))

    def apply_move(
        self,
        deal_id: int,
        to_stage_id: int,
        *,
        amount_cents: int,
        probability: int | None,
        at: dt.datetime,
        version: int | None = None,
    ) -> bool:
        """Move a deal's card and both headers' figures in place, right after its move was
        committed, so the board is current without re-reading every column (the reload that
        follows confirms it). False, changing nothing, when the board does not show the deal
        in another of its stages — e.g. a reload has already shown the move."""
        stages = {s.id: s for s in self.stages}
        found = self.find(deal_id)
        if found is None or to_stage_id not in stages:
            return False
        src = self.stages[found[0]]
        if src.id == to_stage_id:
            return False
        dst = stages[to_stage_id]
        if self.cards[src.id][found[1]].amount_cents != amount_cents:
            return False  # the board is older than an edit: the reload shows both
        card = self.cards[src.id].pop(found[1])
        # the headers are in the home currency: the card's amount converted (0 when its
        # currency has no rate: the headers left it out and say so)
        home_cents = (self.rates.to_home(amount_cents, card.currency) or 0) if self.rates is not None else amount_cents

        def weight(stage: StageCol) -> int:
            return home_cents * (probability if probability is not None else stage.probability)

        def shifted(stage: StageCol, sign: int) -> Header:
            h = self.headers.get(stage.id, Header())
            return make_header(
                stage.outcome,
                h.count + sign,
                h.value_cents + sign * home_cents,
                h.cent_percent + sign * weight(stage),
            )

        self.headers[src.id] = shifted(src, -1)
        self.headers[dst.id] = shifted(dst, +1)
        closed = at if dst.outcome != "open" else None
        moved = replace(
            card, stage_id=dst.id, days_in_stage=0, rot=0, closed_at=closed, version=version or card.version + 1
        )
        column = self.cards.setdefault(dst.id, [])

        def key(c: Card) -> tuple[float, int]:
            if dst.outcome == "open":  # biggest first, then oldest id — the order load_board reads
                return (-c.amount_cents, c.id)
            return (-(c.closed_at.timestamp() if c.closed_at else 0), -c.id)  # most recently closed first

        position = next((i for i, c in enumerate(column) if key(moved) < key(c)), len(column))
        column.insert(position, moved)
        return True

    def find(self, deal_id: int | None) -> tuple[int, int] | None:
        """(column index, row) of a deal on the board, or None."""
        for ci, stage in enumerate(self.stages):
            for ri, card in enumerate(self.cards.get(stage.id, ())):
                if card.id == deal_id:
                    return ci, ri
        return None
