"""A sentence holding every single-letter binding of the app, typed in one burst into every text
box a rep can open with a key, is text in that box and nothing else: no record changes, no
binding fires, the rep stays where they were. Then the box is closed without saving."""

from __future__ import annotations

import datetime as dt

import pytest
from pilotkit import burst
from sqlalchemy import func, select
from sqlmodel import SQLModel
from textual.widgets import Input, TextArea

from crm_tui.models import JournalEntry

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

#: every letter (the lower-case bindings), H L S G Y P K J R A D N (upper-case ones), 1–5 (sections),
#: space (done), ? / [ ] (keys, search, periods)
SENTENCE = (
    "Hello Lisa, Sam & Gus: the quick brown fox jumps over the lazy dog? [1/2/3/4/5] ok, Yes, "
    "Pat, Kim, Jo, Rae, Al, Dan, Nia, Fay"
)
KEYS = set(SENTENCE)


def test_the_sentence_holds_every_single_key_binding_of_the_app():
    """If a screen gains a single-key binding, the sentence must hold it too."""
    import importlib

    from crm_tui.tui.app import SECTIONS, CrmApp

    classes = [CrmApp]
    for section in SECTIONS:
        classes.append(getattr(importlib.import_module(section.module), section.screen))
    from crm_tui.tui.screens.customer_detail import CustomerDetailScreen
    from crm_tui.tui.screens.deal_detail import DealDetailScreen
    from crm_tui.tui.screens.funnel import FunnelScreen
    from crm_tui.tui.screens.order_detail import OrderDetailScreen
    from crm_tui.tui.screens.products import ProductsScreen
    from crm_tui.tui.screens.tasks import TaskList
    from crm_tui.tui.widgets.kanban import KanbanBoard
    from crm_tui.tui.widgets.virtual_table import VirtualTable

    classes += [CustomerDetailScreen, DealDetailScreen, OrderDetailScreen, TaskList, KanbanBoard, VirtualTable]
    classes += [FunnelScreen, ProductsScreen]
    named = {"slash": "/", "question_mark": "?", "space": " ", "left_square_bracket": "[",
             "right_square_bracket": "]"}  # fmt: skip
    singles = set()
    for cls in classes:
        for binding in cls.BINDINGS:
            for key in binding.key.split(","):
                key = named.get(key.strip(), key.strip())
                if len(key) == 1:
                    singles.add(key)
    assert singles and singles <= KEYS, sorted(singles - KEYS)


def state(db) -> dict[str, list[tuple]]:
    out = {}
    with db.read() as s:
        conn = s.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in ("change_log", "crm_meta"):
                out[table.name] = sorted(conn.execute(select(table)).all(), key=repr)
    return out


def value(box) -> str:
    return box.text if isinstance(box, TextArea) else box.value


@pytest.fixture
def book(services, clock):
    acme = services.create_customer(name="Acme Corp", email="buyer@acme.example")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    services.add_task("Call Acme", customer_id=acme.id, deal_id=deal.id, due_at=clock.now + dt.timedelta(hours=2))
    return {"customer": acme, "deal": deal}


# (the screen it starts on, the keys that open the box(es), where the rep is)
BOXES = [
    ("customers", ("slash",), "the customer search"),
    ("customers", ("n",), "the new customer form"),
    ("customers", ("e",), "the customer edit form"),
    ("customers", ("enter", "c"), "the contact form"),
    ("customers", ("enter", "n"), "the customer note form"),
    ("customers", ("enter", "t"), "the customer page's task form"),
    ("customers", ("enter", "o"), "the order form"),
    ("pipeline", ("slash",), "the board filter"),
    ("pipeline", ("n",), "the new deal form"),
    ("pipeline", ("x",), "the lost reason"),
    ("pipeline", ("enter", "e"), "the deal edit form"),
    ("pipeline", ("enter", "n"), "the deal note form"),
    ("pipeline", ("enter", "t"), "the deal page's task form"),
    ("tasks", ("n",), "the new task form"),
    ("tasks", ("s", "end", "enter"), "the snooze date"),
    ("reports", ("ctrl+p",), "the command palette"),
]


@pytest.mark.keys_only
@pytest.mark.parametrize("size", [(80, 24)])
@pytest.mark.parametrize("mode, keys, where", BOXES, ids=[b[2] for b in BOXES])
async def test_every_binding_typed_into_a_text_box_is_text_and_changes_nothing(
    make_app, settle, until, db, book, mode, keys, where, size
):
    before = state(db)
    app = make_app(mode)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        base = app.screen
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        await until(
            pilot,
            lambda: isinstance(app.focused, (Input, TextArea)) and getattr(app.screen, "caught_up", True),
            what=f"a text box in {where}",
        )
        screen = app.screen
        boxes = [w for w in screen.query("Input, TextArea") if w.display and w.focusable]
        assert boxes, where
        for box in boxes:
            screen.set_focus(box)
            start = value(box)
            burst(app, *SENTENCE)
            await until(pilot, lambda: SENTENCE in value(box), what=f"the sentence in {box.id or box} of {where}")
            await settle(app, pilot)
            assert app.screen is screen, f"a key in {where} left it for {type(app.screen).__name__}"
            # the sentence after what was there, or in its place (a box selects its text on focus)
            assert value(box) in (start + SENTENCE, SENTENCE)
        # close without saving: escape, and "discard" when a changed form asks
        for _ in range(4):
            if app.screen is base:
                break
            await pilot.press("escape")
            await settle(app, pilot)
            if type(app.screen).__name__ == "ConfirmScreen":
                await pilot.press("y")
                await settle(app, pilot)
        if app.screen is not base and where != "the customer search" and where != "the board filter":
            pytest.fail(f"could not close {where}: on {type(app.screen).__name__}")
    assert state(db) == before, f"typing into {where} changed the database"
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(JournalEntry)).scalar() == 3  # the book's own three
