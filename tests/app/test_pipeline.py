"""The Pipeline board driven with real keys; every assertion checks the DB too."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.models import Deal, Stage, StageChange
from crm_tui.tui.widgets.kanban import KanbanBoard


def stage_of(db, deal_id):
    with db.read() as s:
        deal = s.get(Deal, deal_id)
        return s.get(Stage, deal.stage_id), deal


def changes(db, deal_id):
    with db.read() as s:
        return s.execute(select(func.count()).select_from(StageChange).where(StageChange.deal_id == deal_id)).scalar()


def header(app, stage_name):
    board = app.screen.board
    [stage] = [s for s in board.stages if s.name == stage_name]
    return board.headers[stage.id]


def widget_text(widget):
    from textual.geometry import Region

    return "\n".join(line.text for line in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def board_text(app):
    widget = app.screen.query_one("#board")
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


@pytest.fixture
def deal(services):
    acme = services.create_customer(name="[red]ACME[/red]")
    return services.create_deal("[b]Big[/b] deal", customer_id=acme.id, amount="1000")


@pytest.mark.keys_only
async def test_cards_show_literal_text_and_headers(make_app, settle, deal):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        text = board_text(app)
        assert "[b]Big[/b] deal" in text
        assert "[red]ACME[/red]" in text
        assert "Σ1,000 w100" in text  # total and weighted (10% Lead)
        assert "last 30d" in text  # the won/lost columns say they are recent only
        bar = str(app.screen.query_one("#pipeline-bar").render())
        assert "1 open deal · totals in" in bar  # one deal, not "1 open deals"


@pytest.mark.keys_only
async def test_shift_right_moves_the_card_and_ctrl_z_undoes(make_app, settle, db, deal):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert (header(app, "Lead").count, header(app, "Qualified").count) == (1, 0)
        await pilot.press("shift+right")
        await settle(app, pilot)
        stage, _ = stage_of(db, deal.id)
        assert stage.name == "Qualified"
        assert changes(db, deal.id) == 2
        assert (header(app, "Lead").count, header(app, "Qualified").count) == (0, 1)
        widget = app.screen.query_one("#board")
        assert widget.cursor_card.id == deal.id and widget.col == 1  # the cursor followed the card
        await pilot.press("L")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].name == "Proposal"
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].name == "Qualified"
        assert changes(db, deal.id) == 2
        assert header(app, "Proposal").count == 0


@pytest.mark.keys_only
async def test_after_ctrl_z_the_cursor_is_on_the_card_it_brought_back(make_app, settle, db, services):
    """Undo puts a moved card back in its column: the cursor goes with it, so enter opens that deal,
    not the neighbour left where the card was."""
    first = services.create_deal("First", amount="10")
    services.create_deal("Second", amount="20")
    services.move_deal_step(services.create_deal("Waiting", amount="30").id, 1)  # into Qualified
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        widget = app.screen.query_one("#board")
        while widget.cursor_card.id != first.id:
            await pilot.press("down")
        await pilot.press("shift+right")  # First into Qualified (the cursor with it) ...
        await settle(app, pilot)
        for key in ("down", "up"):  # ... then onto Waiting, above or below it
            if widget.cursor_card.title != "Waiting":
                await pilot.press(key)
        assert widget.cursor_card.title == "Waiting" and stage_of(db, first.id)[0].name == "Qualified"
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert stage_of(db, first.id)[0].name == "Lead"
        assert widget.cursor_card.id == first.id and widget.col == 0


@pytest.mark.keys_only
async def test_H_on_first_stage_explains_and_changes_nothing(make_app, settle, db, deal, notifications):
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("H")
        await settle(app, pilot)
        assert seen.said("Lead is the first stage"), seen.texts()
        assert stage_of(db, deal.id)[0].name == "Lead"
        assert changes(db, deal.id) == 1


async def test_win_then_reports_show_new_won_totals(make_app, settle, db, deal):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        stage, stored = stage_of(db, deal.id)
        assert stage.outcome == "won" and stored.closed_at is not None
        assert header(app, "Won").count == 1
        await pilot.press("4")
        await settle(app, pilot, rounds=5)
        won = app.screen.query_one("#kpi-won")
        assert won.value == "1,000.00"
        assert won.hint.startswith("1 won")
        assert app.screen.query_one("#kpi-R").value == "1,000.00"


@pytest.mark.keys_only
async def test_lose_on_a_won_deal_says_it_is_won_and_escape_keeps_it_won(make_app, settle, opened, db, deal, services):
    """``x`` on a card in Won would take the win back: the dialog says so before anything happens."""
    services.win_deal(deal.id)
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press(*["right"] * 4)  # Lead, Qualified, Proposal, Negotiation: then Won
        await settle(app, pilot)
        assert app.screen.query_one(KanbanBoard).cursor_card.id == deal.id
        await pilot.press("x")
        await opened(pilot, "LoseReasonScreen")
        warning = str(app.screen.query_one("#lose-won").render())
        assert "This deal is won" in warning
        assert "keep it won" in "".join(str(label.render()) for label in app.screen.query("Label"))
        await pilot.press("escape")
        await opened(pilot, "PipelineScreen")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].outcome == "won"


@pytest.mark.keys_only
async def test_lose_asks_a_reason_and_escape_changes_nothing(make_app, settle, opened, db, deal):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await opened(pilot, "LoseReasonScreen")
        assert not app.screen.query("#lose-won")  # an open deal: no warning about a win
        await pilot.press("escape")
        await opened(pilot, "PipelineScreen")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].name == "Lead"
        await pilot.press("x")
        await opened(pilot, "LoseReasonScreen")
        await pilot.press("enter")  # empty reason: refused in the modal
        await pilot.pause()
        assert "reason is required" in str(app.screen.query_one("#lose-error").render())
        await pilot.press(*"too pricey", "enter")
        await settle(app, pilot)
        stage, stored = stage_of(db, deal.id)
        assert stage.outcome == "lost" and stored.lost_reason == "too pricey"
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].name == "Lead"


@pytest.mark.keys_only
async def test_new_deal_form_with_customer_by_name(make_app, settle, opened, db, services):
    services.create_customer(name="Globex")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "DealFormScreen")
        await pilot.press(*"Renewal", "tab", *"nobody")
        await pilot.click("#form-save")
        await settle(app, pilot)
        assert "no customer is called 'nobody'" in str(app.screen.query_one("#error-customer").render())
        app.screen.query_one("#field-customer").value = "globex"
        app.screen.query_one("#field-amount").value = "abc"
        await pilot.click("#form-save")
        await settle(app, pilot)
        assert "amount" in str(app.screen.query_one("#error-amount").render())
        app.screen.query_one("#field-amount").value = "2500"
        await pilot.click("#form-save")
        await settle(app, pilot)
        with db.read() as s:
            deal = s.execute(select(Deal).where(Deal.title == "Renewal")).scalar_one()
        assert deal.amount_cents == 250000 and deal.owner == "ann"
        assert "Renewal" in board_text(app)


@pytest.mark.keys_only
async def test_filter_and_my_deals(make_app, settle, services, until):
    services.create_deal("alpha", owner="ann")
    services.create_deal("beta", owner="bob")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"bet")
        await until(pilot, lambda: "alpha" not in board_text(app), what="the board filtered by 'bet'")
        assert "beta" in board_text(app) and "alpha" not in board_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        assert "alpha" in board_text(app) and "beta" not in board_text(app)


@pytest.mark.keys_only
async def test_enter_opens_deal_detail_with_history(make_app, settle, until, deal):
    from crm_tui.tui.screens.deal_detail import DealDetailScreen

    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)
        head = widget_text(app.screen.query_one("#deal-head"))
        assert "[b]Big[/b] deal" in head
        page = app.screen
        await pilot.press("n", *"called", "ctrl+s")  # typed with the key that opens the note form
        await until(
            pilot, lambda: "called" in widget_text(page.query_one("#deal-timeline")), what="the note on the page"
        )
        assert app.screen is page


@pytest.mark.keys_only
async def test_change_from_another_session_appears_after_poll(make_app, settle, until, db_path, clock):
    from crm_tui.db import Database
    from crm_tui.services import Services

    app = make_app("pipeline", poll=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        other = Database.open(str(db_path))
        try:
            Services(other, user="bob", clock=clock).create_deal("from elsewhere")
        finally:
            other.close()
        await until(pilot, lambda: "from elsewhere" in board_text(app), what="the other session's deal on the board")
        assert header(app, "Lead").count == 1


@pytest.mark.keys_only
async def test_thousands_of_cards_render_without_a_widget_per_card(make_app, settle, db, clock):
    """A guard, not a timing (speed lives in benchmarks/): the board draws cards as lines,
    so the widget count stays flat however many deals there are."""
    from crm_tui.demo import generate

    generate(db, size=1500, seed=3, now=clock.now)
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        board = app.screen.board
        assert sum(len(v) for v in board.cards.values()) > 500
        widget = app.screen.query_one("#board")
        assert len(list(app.screen.query("*"))) < 60
        for _ in range(50):
            widget.action_cursor(0, 1)
            for y in range(widget.size.height):
                widget.render_line(y)
        first = board.stages[0].id
        assert widget.rows[first] == min(50, len(board.cards[first]) - 1)
        await pilot.press("j")
        await settle(app, pilot)
        assert widget.rows[first] == min(51, len(board.cards[first]) - 1)


@pytest.mark.keys_only
async def test_scrolling_down_a_long_column_loads_more_cards(make_app, settle, db, clock):
    from sqlmodel import select

    from crm_tui.models import Deal, Stage

    with db.write({"deal"}) as s:
        lead = s.exec(select(Stage).where(Stage.name == "Lead")).one()
        for i in range(1, 451):
            s.add(
                Deal(
                    title=f"Deal {i:04d}",
                    pipeline_id=lead.pipeline_id,
                    stage_id=lead.id,
                    amount_cents=i * 100,
                    created_at=clock.now,
                    updated_at=clock.now,
                    stage_entered_at=clock.now,
                )
            )
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        board = app.screen.board
        assert len(board.cards[lead.id]) == 200 and board.headers[lead.id].count == 450
        for _ in range(3):
            await pilot.press("G")  # to the end of the loaded column: the next window arrives
            await settle(app, pilot)
        assert len(app.screen.board.cards[lead.id]) == 450
        assert app.screen.query_one("#board").cursor_card.title == "Deal 0001"  # the smallest, last


@pytest.mark.keys_only
async def test_a_move_shows_at_once_and_the_quiet_reload_brings_its_new_task(make_app, settle, until, db, deal):
    """L moves the card and both headers as soon as the move commits; the board re-reads once
    the keys stop, which brings the task the new stage created onto the card."""
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        board = screen.query_one("#board")
        await pilot.press("L")
        await until(pilot, lambda: header(app, "Qualified").count == 1, what="the card in Qualified")
        assert (header(app, "Lead").count, header(app, "Qualified").count) == (0, 1)
        assert (header(app, "Lead").value_cents, header(app, "Qualified").weighted_cents) == (0, 25000)
        assert board.cursor_card.stage_id == stage_of(db, deal.id)[0].id
        # the quiet reload (RELOAD_AFTER_MOVE after the last move) brings the new stage's task
        await until(
            pilot,
            lambda: (board.cursor_card.next_task or "").startswith("Discovery call"),
            what=lambda: f"the new stage's task on the card (it shows {board.cursor_card.next_task!r})",
        )


@pytest.mark.keys_only
async def test_rapid_moves_reload_the_board_once(make_app, settle, until, db, deal, monkeypatch):
    import crm_tui.tui.screens.pipeline as pipeline_screen

    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        loads = []
        real = pipeline_screen.load_board
        monkeypatch.setattr(pipeline_screen, "load_board", lambda *a, **k: loads.append(1) or real(*a, **k))
        moves = (("L", "Qualified"), ("L", "Proposal"), ("H", "Qualified"), ("L", "Proposal"))
        # Rapid: each move comes before the quiet period that follows the previous one ends,
        # however slow this machine is (it is stretched until the last move, then the usual one).
        screen.RELOAD_AFTER_MOVE = 60.0
        for n, (key, stage) in enumerate(moves, 1):
            if n == len(moves):
                del screen.RELOAD_AFTER_MOVE
            await pilot.press(key)
            await until(pilot, lambda stage=stage: header(app, stage).count == 1, what=f"the card moved to {stage}")
        assert stage_of(db, deal.id)[0].name == "Proposal"
        assert header(app, "Proposal").count == 1
        await until(pilot, lambda: loads, what="the reload once the moves stopped")
        await pilot.pause(type(screen).RELOAD_AFTER_MOVE)  # deliberately: a second reload would have come by now
        await settle(app, pilot)
        assert len(loads) == 1
        assert header(app, "Proposal").count == 1 and header(app, "Lead").count == 0


@pytest.mark.keys_only
async def test_the_board_read_ahead_is_shown_on_the_first_switch_unless_stale(
    make_app, settle, until, services, monkeypatch
):
    import crm_tui.tui.app as app_module
    import crm_tui.tui.screens.pipeline as pipeline_screen

    services.create_deal("Read ahead", amount="10")
    monkeypatch.setattr(app_module, "WARM_UP_AFTER", 0.01)
    for stale in (False, True):
        app = make_app("customers")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            # the warm-up (WARM_UP_AFTER after the database opened) has read the board ahead
            await until(pilot, lambda: "pipeline" in app._prefetched, what="the board read ahead")  # noqa: SLF001
            if stale:
                services.create_deal("Added after the read-ahead", amount="20")
                await settle(app, pilot)
            loads = []
            real = pipeline_screen.load_board
            monkeypatch.setattr(pipeline_screen, "load_board", lambda *a, **k: loads.append(1) or real(*a, **k))
            await pilot.press("2")
            await settle(app, pilot)
            titles = {c.title for cards in app.screen.board.cards.values() for c in cards}
            assert "Read ahead" in titles
            assert len(loads) == (1 if stale else 0)
            assert ("Added after the read-ahead" in titles) == stale
            monkeypatch.setattr(pipeline_screen, "load_board", real)


@pytest.mark.keys_only
async def test_a_move_that_crashes_never_stops_the_board_from_reloading(
    make_app, settle, until, db, deal, services, monkeypatch, notifications
):
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        real = app.services.move_deal_step

        def crash_once(*args, **kwargs):
            monkeypatch.setattr(app.services, "move_deal_step", real)
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(app.services, "move_deal_step", crash_once)
        await pilot.press("L")
        await until(pilot, lambda: seen.said("disk on fire"), what=lambda: f"the failure said; said {seen.texts()}")
        assert stage_of(db, deal.id)[0].name == "Lead"
        services.create_deal("Arrived later", amount="5")  # as if from another session
        await app.workers.wait_for_complete()
        app.data_changed.publish(frozenset({"deal"}))
        await settle(app, pilot)
        assert "Arrived later" in {c.title for cards in app.screen.board.cards.values() for c in cards}
        await pilot.press("L")  # and moves work again
        await settle(app, pilot)
        assert stage_of(db, deal.id)[0].name == "Qualified"
        assert header(app, "Qualified").count == 1


@pytest.mark.keys_only
async def test_F_puts_the_deal_in_a_forecast_category_on_card_and_database(make_app, settle, db, deal):
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert " best" not in board_text(app) and " commit" not in board_text(app)  # Lead 10%: pipeline
        await pilot.press("F")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[1].forecast_category == "best_case"
        assert "[red]ACME" in board_text(app) and " best" in board_text(app)  # the tag beside the customer
        # typed in one burst (over SSH): both presses arrive before the board re-reads the deal, and
        # each takes the next step, none is refused as a stale edit
        app.screen.action_forecast_category()
        app.screen.action_forecast_category()
        await settle(app, pilot)
        assert stage_of(db, deal.id)[1].forecast_category == "pipeline"  # best → commit → pipeline: both applied
        await pilot.press("F", "F")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[1].forecast_category == "commit" and " commit" in board_text(app)
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert stage_of(db, deal.id)[1].forecast_category == "best_case" and " best" in board_text(app)


@pytest.mark.keys_only
async def test_on_a_team_server_another_reps_card_says_whose_it_is(make_app, settle, services):
    acme = services.create_customer(name="Acme")
    services.create_deal("Mine", customer_id=acme.id, amount="10", owner="zed")
    services.create_deal("Hers", customer_id=acme.id, amount="20", owner="ann")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "@ann" not in board_text(app)  # SQLite: one user, no marks
        app.db.login = "zed"  # what a team's PostgreSQL server says the login is
        app.screen.reload()
        await settle(app, pilot)
        text = board_text(app)
        assert "@ann" in text and "@zed" not in text
