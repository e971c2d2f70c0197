"""Text from the database is never read as markup, wherever the app shows it: the palette's
titles and highlights, toasts, dialog titles, pickers, pages and the History. Each Rich/Textual
markup form is fed through each of them; nothing crashes, no action runs, the text shows as typed.
On a shared PostgreSQL one rep could otherwise plant ``[@click=…]`` for every colleague."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

#: every markup form a rep (or an import) could put in a name
HOSTILE = (
    "[link=file:///etc/passwd]L[/link]",
    "[@click=app.quit]Q[/]",
    "[@click=app.screenshot('/tmp')]S",
    "[/]",
    "[b",
    "]][[",
    "[red]R[/red]",
    "\\[esc]",
)
NAME = "Acme " + " ".join(HOSTILE)


def text_of(widget) -> str:
    """What a widget draws, line by line, as plain text."""
    from textual.geometry import Region

    return "\n".join(line.text for line in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def shown_toasts(app) -> str:
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


@pytest.fixture
def book(services, clock):
    import datetime as dt

    owner = "[@click=app.quit]ann[/]"
    acme = services.create_customer(name=NAME, owner=owner)
    deal = services.create_deal(NAME + " deal", customer_id=acme.id, amount="100", owner=owner)
    services.add_task(NAME + " task", customer_id=acme.id, due_at=clock.now + dt.timedelta(hours=1), owner=owner)
    return {"customer": acme, "deal": deal}


@pytest.mark.keys_only
async def test_the_palette_shows_every_markup_form_literally_and_runs_none(make_app, settle, until, book):
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p", *"Acme")

        def hits() -> list[str]:
            options = app.screen.query(OptionList)
            if not options:
                return []
            found = options.first()
            return [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]

        await until(pilot, lambda: any("Acme" in h for h in hits()), what="the palette's hits")
        assert any(all(form in h for form in HOSTILE[:3]) for h in hits()), hits()
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.is_running


@pytest.mark.keys_only
async def test_toasts_dialogs_pickers_and_pages_show_names_as_typed(make_app, settle, until, db, book, notifications):
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:  # toasts drawn, as in a terminal
        await settle(app, pilot)
        await pilot.press("x")  # the lose dialog's title names the deal
        await until(pilot, lambda: type(app.screen).__name__ == "LoseReasonScreen", what="the lose dialog")
        assert HOSTILE[1] in str(app.screen.query_one("#lose-title").render())
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("w")  # a toast with the deal's title
        await until(pilot, lambda: seen.said("Won"), what="the win's toast")
        await settle(app, pilot)
        assert HOSTILE[1] in shown_toasts(app) and HOSTILE[0] in shown_toasts(app)
        await pilot.press("ctrl+z")  # the undo's toast names the action, title and all
        await until(pilot, lambda: seen.said("Undo: win"), what="the undo's toast")
        await pilot.press("o")  # the owner picker lists the planted owner
        await until(pilot, lambda: type(app.screen).__name__ == "PickScreen", what="the owner picker")
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("[@click=app.quit]ann[/]" in label for label in labels), labels
        await pilot.press("escape")
        await settle(app, pilot)
        app.open_deal(book["deal"].id)  # the page and its History
        await settle(app, pilot)
        head = text_of(app.screen.query_one("#deal-head"))
        history = text_of(app.screen.query_one("#deal-changes"))
        assert "Acme [link=file:///etc/passwd]L[/link]" in head
        assert "win 'Acme [link=file:///etc/passwd]L[/link]" in history
        await pilot.press("c")  # the customer page: title, sections
        await settle(app, pilot)
        assert HOSTILE[0] in text_of(app.screen.query_one("#detail-title"))
        assert app.is_running  # no planted action ran
