"""The customer list, driven with real keys against a real temp database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm_tui.models import Customer

NAMES = ["Acme Corp", "Beta Labs", "Gamma GmbH", "Delta Foods", "Epsilon Bank"]


@pytest.fixture
def fifty(services):
    ids = {}
    for i in range(50):
        name = f"{NAMES[i % 5]} {i:02d}"
        c = services.create_customer(
            name=name,
            email=f"c{i:02d}@example.com",
            owner=("ann", "bob")[i % 2],
            status="lead",
            tags="vip" if i % 7 == 0 else "",
        )
        ids[name] = c.id
    return ids


def shown(app) -> list[str]:
    """The table's visible lines as text (header first)."""
    table = app.screen.query_one("#customers-table")
    return [table.render_line(y).text for y in range(table.size.height)]


def live_count(db) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Customer).where(Customer.deleted_at.is_(None))).scalar()


async def test_first_rows_and_search_narrows_then_escape_clears(make_app, settle, until, fifty):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        lines = shown(app)
        assert "Name ▲" in lines[0]
        assert lines[1].startswith("Acme Corp 00")
        assert app.screen.table.row_count == 50
        await pilot.press("slash", *"gamma")
        await until(pilot, lambda: app.screen.table.row_count == 10, what="the ten Gamma customers")
        assert all("Gamma GmbH" in line for line in shown(app)[1:11])
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen.table.row_count == 50
        assert app.screen.query_one("#customers-search").value == ""


async def test_filters_and_sort_header(make_app, settle, fifty):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#filter-owner").value = "bob"
        await settle(app, pilot)
        assert screen.table.row_count == 25
        screen.query_one("#filter-tag").value = "vip"
        await settle(app, pilot)
        assert screen.table.row_count == 4  # i = 7, 21, 35, 49: multiples of 7 owned by bob
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.table.row_count == 50
        await pilot.press("s")  # name → status
        await settle(app, pilot)
        assert "Status ▲" in shown(app)[0]
        await pilot.press("S")
        await settle(app, pilot)
        assert "Status ▼" in shown(app)[0]


async def test_new_customer_saved_and_listed(make_app, settle, opened, fifty, db):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "CustomerForm")
        await pilot.press(*"Zeta Partners")
        app.screen.query_one("#field-email").focus()
        await pilot.press(*"hi@zeta.example")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen.__class__.__name__ == "CustomersScreen"
        with db.read() as s:
            row = s.execute(select(Customer).where(Customer.name == "Zeta Partners")).scalar_one()
        assert row.email == "hi@zeta.example" and row.owner == "ann"
        assert live_count(db) == 51
        # the cursor lands on the new customer
        assert any(line.startswith("Zeta Partners") for line in shown(app))
        assert app.screen.current_id() == row.id


async def test_bad_email_shows_inline_error_and_keeps_typing(make_app, settle, opened, fifty, db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "CustomerForm")
        await pilot.press(*"Omega Ltd")
        app.screen.query_one("#field-email").focus()
        await pilot.press(*"not-an-email", "ctrl+s")
        await settle(app, pilot)
        form = app.screen
        assert form.__class__.__name__ == "CustomerForm"
        error = form.query_one("#error-email")
        assert error.has_class("-shown") and "email must look like" in str(error.render())
        assert form.query_one("#field-name").value == "Omega Ltd"
        assert form.query_one("#field-email").value == "not-an-email"
        assert live_count(db) == 50
        form.query_one("#field-email").value = "ok@omega.example"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert live_count(db) == 51


async def test_edit_changes_database(make_app, settle, opened, fifty, db, services):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down")  # Acme Corp 05
        await pilot.press("e")
        await opened(pilot, "CustomerForm")
        app.screen.query_one("#field-industry").value = "Aerospace"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert services.get(Customer, fifty["Acme Corp 05"]).industry == "Aerospace"
        assert any("Aerospace" in line for line in shown(app))


async def test_edit_conflict_from_another_session_keeps_both_visible(
    make_app, settle, opened, until, fifty, db_path, clock
):
    from crm_tui.db import Database
    from crm_tui.services import Services

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        form = await opened(pilot, "CustomerForm")
        other_db = Database.open(str(db_path))
        other = Services(other_db, user="bob", clock=clock)
        other.update_customer(fifty["Acme Corp 00"], phone="+1 999")
        app.screen.query_one("#field-phone").value = "+44 111"
        await pilot.press("ctrl+s")
        said = lambda: str(form.query_one("#form-error").render())  # noqa: E731
        await until(pilot, lambda: "changed in another session" in said(), what="the conflict said in the form")
        assert app.screen is form
        message = said()
        assert "changed in another session" in message and "+1 999" in message
        assert other.get(Customer, fifty["Acme Corp 00"]).phone == "+1 999"  # not overwritten
        assert form.query_one("#field-phone").value == "+44 111"  # what was typed is kept
        await pilot.press("ctrl+s")  # saving again replaces knowingly
        await until(pilot, lambda: app.screen is not form, what="the form to close")
        assert other.get(Customer, fifty["Acme Corp 00"]).phone == "+44 111"
        other_db.close()


async def test_delete_confirm_then_undo(make_app, settle, opened, fifty, db, services):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        target = fifty["Acme Corp 00"]
        await pilot.press("d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("y")
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Customer, target).deleted_at is not None
        assert not any(line.startswith("Acme Corp 00") for line in shown(app))
        assert app.screen.table.row_count == 49
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Customer, target).deleted_at is None
        assert shown(app)[1].startswith("Acme Corp 00")


async def test_cancelled_delete_changes_nothing(make_app, settle, opened, fifty, db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("n")
        await opened(pilot, "CustomersScreen")
        await settle(app, pilot)
        assert live_count(db) == 50 and app.screen.table.row_count == 50


async def test_markup_in_names_is_shown_literally(make_app, settle, services):
    services.create_customer(name="[red]ACME[/red]", email="x@acme.example", industry="[b]bold[/b]")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "[red]ACME[/red]" in shown(app)[1]
        assert "[b]bold[/b]" in shown(app)[1]
        await pilot.press("enter")
        await settle(app, pilot)
        title = app.screen.query_one("#detail-title").render()
        assert "[red]ACME[/red]" in str(title)


async def test_change_from_another_session_appears_after_poll(make_app, settle, fifty, db_path, clock):
    from crm_tui.db import Database
    from crm_tui.services import Services

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        other_db = Database.open(str(db_path))
        Services(other_db, user="bob", clock=clock).create_customer(name="Aardvark Remote")
        other_db.close()
        assert app.screen.table.row_count == 50
        app.db.poll_changes()
        await settle(app, pilot)
        assert app.screen.table.row_count == 51
        assert shown(app)[1].startswith("Aardvark Remote")
        # the cursor stayed on the customer it was on
        assert app.screen.current_id() == fifty["Acme Corp 00"]


async def test_change_from_another_session_appears_with_polling(db, clock, settle, until, fifty, db_path):
    from crm_tui.db import Database
    from crm_tui.services import Services
    from crm_tui.tui.app import create_app

    app = create_app(db=db, clock=clock, user="ann", poll=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        other_db = Database.open(str(db_path))
        Services(other_db, user="bob", clock=clock).create_customer(name="Aardvark Polled")
        other_db.close()
        await until(pilot, lambda: app.screen.table.row_count == 51, what="the other session's customer listed")
        await settle(app, pilot)
        assert shown(app)[1].startswith("Aardvark Polled")


async def test_pages_load_as_you_scroll_and_cache_is_bounded(make_app, settle, services):
    from crm_tui.tui.screens import customers

    for i in range(450):
        services.create_customer(name=f"Bulk {i:04d}")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert set(screen._pages) <= {0, 1}  # never every row
        await pilot.press("end")
        await settle(app, pilot)
        lines = shown(app)
        assert lines[-1].startswith("Bulk 0449")
        assert "…" not in "".join(lines)
        assert screen.table.cursor_row == 449
        assert len(screen._pages) <= customers.MAX_PAGES
        await pilot.press("pageup", "k", "j", "home")
        await settle(app, pilot)
        assert shown(app)[1].startswith("Bulk 0000")


async def test_a_search_shows_a_screenful_first_then_every_match_in_order(make_app, settle, until, services):
    """A new search reads the rows on screen first (FIRST_ROWS); scrolling completes that page
    and reads the next ones: every match once, in order, no gaps."""
    from crm_tui.tui.screens import customers

    for i in range(260):
        services.create_customer(name=f"Match {i:04d}")
        if i % 4 == 0:
            services.create_customer(name=f"Other {i:04d}")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"match", "enter")
        await settle(app, pilot)
        screen = app.screen
        assert "260 matching" in str(screen.query_one("#customers-summary").render()) and 260 > customers.FIRST_ROWS
        seen = []
        for _ in range(40):
            await until(pilot, lambda: "…" not in "".join(shown(app)), what="every row on screen read")
            seen += [found.group() for line in shown(app)[1:] if (found := re.match(r"Match \d{4}", line))]
            if screen.table.cursor_row >= 259:
                break
            await pilot.press("pagedown")
        assert sorted(set(seen)) == [f"Match {i:04d}" for i in range(260)]
        assert "…" not in "".join(shown(app))


@pytest.mark.keys_only  # keys and forms: the same on every engine
async def test_enter_opens_detail_and_keys_add_note_contact_task(make_app, settle, opened, until, fifty, services, db):
    from textual.geometry import Region

    from crm_tui.models import Contact, Note, Task

    acme = fifty["Acme Corp 00"]
    services.create_contact(acme, name="Jane Roe", title="CTO")
    services.create_deal("Rollout", customer_id=acme, amount="48000")
    services.add_note("Kick-off call went well", customer_id=acme)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert screen.__class__.__name__ == "CustomerDetailScreen"

        def text(wid: str) -> str:
            widget = screen.query_one(wid)
            return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.size)))

        # the page's lists arrive from its worker: wait on them, not on a clock (a busy machine is slower)
        await until(pilot, lambda: "Jane Roe" in text("#detail-contact-table"), what="the contacts")
        assert "Rollout" in text("#detail-deals") and "48,000.00" in text("#detail-deals")
        assert "Kick-off call went well" in text("#detail-timeline")
        await pilot.press("n")
        await opened(pilot, "NoteForm")
        await pilot.press(*"Sent the quote", "ctrl+s")
        await until(pilot, lambda: "Sent the quote" in text("#detail-timeline"), what="the new note on the page")
        assert text("#detail-timeline").index("Sent the quote") < text("#detail-timeline").index("Kick-off")
        await pilot.press("c")
        await opened(pilot, "ContactForm")
        await pilot.press(*"Raj Patel", "ctrl+s")
        await opened(pilot, "CustomerDetailScreen")
        await pilot.press("t")
        form = await opened(pilot, "TaskFormScreen")
        await pilot.press(*"Call Raj")
        form.query_one("#field-due").value = "someday"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: form.query_one("#error-due").has_class("-shown"), what="the due date refused")
        assert "due: 'someday' is not a date" in str(form.query_one("#error-due").render())
        form.query_one("#field-due").value = "2026-03-20 09:00"
        await pilot.press("ctrl+s")
        await opened(pilot, "CustomerDetailScreen")
        await until(pilot, lambda: "Call Raj" in text("#detail-tasks"), what="the new task on the page")
        assert "Call Raj" in text("#detail-tasks") and "Raj Patel" in text("#detail-contact-table")
        with db.read() as s:
            assert (
                s.execute(select(Note.body).where(Note.customer_id == acme).order_by(Note.id.desc())).first()[0]
                == "Sent the quote"
            )
            assert s.execute(select(func.count()).select_from(Contact).where(Contact.customer_id == acme)).scalar() == 2
            task = s.execute(select(Task).where(Task.subject == "Call Raj")).scalar_one()
            assert task.customer_id == acme and task.kind == "todo"  # the one task form's default
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "CustomersScreen"


async def test_a_search_typed_quickly_reads_the_rest_of_its_page_once_typing_pauses(
    make_app, settle, until, services, monkeypatch
):
    """Each keystroke reads only the rows on screen; the rest of the page is read once, when
    typing pauses, not once per keystroke (those reads competed with the next keystroke)."""
    import crm_tui.queries.customers as queries
    from crm_tui.tui.screens import customers

    for i in range(300):
        services.create_customer(name=f"Match {i:04d}")
    # the pause that counts as "typing paused": far longer than a keystroke and its settling take
    monkeypatch.setattr(customers, "COMPLETE_AFTER", 5.0)  # a loaded 2-core machine may take 2 s a key
    completions = []
    original = queries.fetch_page

    def counted(db, filt, sort, at, limit):
        if limit == customers.PAGE - customers.FIRST_ROWS:
            completions.append(filt.text)
        return original(db, filt, sort, at, limit)

    monkeypatch.setattr(queries, "fetch_page", counted)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        for key in "match":
            await pilot.press(key)
            await settle(app, pilot)
        screen = app.screen
        assert screen._total == 300 and len(screen._pages[0]) == customers.FIRST_ROWS
        assert completions == []
        await until(pilot, lambda: completions, what="the rest of the page, once typing paused for COMPLETE_AFTER")
        await until(pilot, lambda: screen._row_at(199) is not None, what="the rest of the page on screen")
        assert completions == ["match"]
        assert [screen._row_at(i)[0] for i in (63, 64, 199)] == ["Match 0063", "Match 0064", "Match 0199"]


async def test_rows_asked_for_before_a_new_search_lands_never_mix_in_the_old_search(make_app, settle, until, services):
    """Between a keystroke and its first rows the table may ask for more rows; the rows held
    then are the previous search's, and nothing may be read to extend them (it would land
    under the new search's rows)."""
    from dataclasses import replace

    from crm_tui.tui.screens import customers
    from crm_tui.tui.widgets.virtual_table import VirtualTable

    for i in range(300):
        services.create_customer(name=f"Match {i:04d}")
    app = make_app()
    async with app.run_test(size=(100, 80)) as pilot:  # taller than a first screenful (64 rows)
        await settle(app, pilot)
        await pilot.press("slash", *"mat")
        await settle(app, pilot)
        screen = app.screen
        await until(pilot, lambda: screen._row_at(customers.PAGE - 1) is not None, what="the rest of the first page")
        reads = []
        screen._fetch_page = lambda *args: reads.append(args)  # what would be read now
        screen.customer_filter = replace(screen.customer_filter, text="matc")  # "c" typed: its rows are coming
        screen._pages[0] = screen._pages[0][:64]  # as a first page cut short would be held
        screen._rows_needed(VirtualTable.RowsNeeded(screen.table, 0, 130))
        assert reads == []
        del screen._fetch_page
        await until(pilot, lambda: screen._row_at(130) is not None, what="the rows of 'matc' down to row 130")
        assert [screen._row_at(i)[0] for i in (0, 64, 130)] == ["Match 0000", "Match 0064", "Match 0130"]


@pytest.mark.keys_only
async def test_y_copies_the_highlighted_email_and_shift_y_says_when_there_is_no_phone(
    make_app, settle, notifications, fifty, db, services
):
    services.update_customer(fifty["Beta Labs 01"], phone="+1 512-555-0101")
    app = make_app()
    seen = notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "y")  # the second row: Acme Corp 05 (sorted by name)
        assert app.clipboard == "c05@example.com"
        assert seen[-1][0] == "Copied email of 'Acme Corp 05': c05@example.com"
        await pilot.press("Y")
        assert app.clipboard == "c05@example.com"  # nothing to copy: the clipboard keeps what it had
        assert seen[-1][0] == "'Acme Corp 05' has no phone number on file; e edits the customer"
        await pilot.press("slash", *"beta labs 01", "enter")
        await settle(app, pilot)
        await pilot.press("Y")
        assert app.clipboard == "+1 512-555-0101"
    assert live_count(db) == 50  # copying changes nothing


@pytest.mark.keys_only  # keys and screens: the same on every engine
async def test_every_contact_shows_on_a_narrow_page_above_the_lists_scrollbar(make_app, settle, until, fifty, services):
    """At 80 columns the contacts' columns are wider than the page: the list keeps a line for its
    scrollbar, so the last contact is not hidden under it (nor the list left at no height)."""
    from textual.geometry import Region

    acme = fifty["Acme Corp 00"]
    names = ["Jane Roe", "Raj Patel", "Olga Chen"]
    for name in names:
        services.create_contact(
            acme,
            name=name,
            title="Head of Procurement",
            email=f"{name.split()[0].lower()}@procurement.a-very-long-company-domain-name.example",
        )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        table = app.screen.query_one("#detail-contact-table")

        def shown() -> str:
            return "\n".join(strip.text for strip in table.render_lines(Region(0, 0, *table.size)))

        await until(pilot, lambda: all(n in shown() for n in names), what=lambda: f"every contact, got {shown()!r}")
        assert table.size.height == 1 + len(names) + 1  # the header, the contacts, the scrollbar
