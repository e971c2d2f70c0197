"""The board's one card query and its header aggregate."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm_tui.metrics import Filters, rotting_deal_ids, stage_summaries
from crm_tui.models import Stage
from crm_tui.queries.pipeline import find_customers, list_owners, list_pipelines, load_board, load_deal
from crm_tui.queries.timeline import timeline


def stages(db):
    with db.read() as s:
        return {st.name: st for st in s.execute(select(Stage)).scalars()}


def test_cards_carry_customer_days_in_stage_and_next_task(db, services, clock):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Big [red]X[/red]", customer_id=acme.id, amount="1200.50")
    services.add_task("later call", deal_id=deal.id, due_at=clock.now + dt.timedelta(days=5))
    services.add_task("first call", deal_id=deal.id, due_at=clock.now + dt.timedelta(days=1))
    services.add_task("undated", deal_id=deal.id)
    done = services.add_task("already done", deal_id=deal.id, due_at=clock.now - dt.timedelta(days=3))
    services.complete_task(done.id)
    lead = stages(db)["Lead"]

    board = load_board(db, None, now=clock.now + dt.timedelta(days=3, hours=1))
    [card] = board.cards[lead.id]
    assert card.title == "Big [red]X[/red]"
    assert card.customer == "Acme"
    assert card.amount_cents == 120050
    assert card.days_in_stage == 3
    assert card.next_task == "first call"
    assert card.rot == 0
    assert board.find(deal.id) == (0, 0)


def test_rotting_flag_matches_metrics_and_grows_to_rotten(db, services, clock):
    lead = stages(db)["Lead"]  # rots after 14 days
    fresh = services.create_deal("fresh")
    clock.advance(days=-15)
    old = services.create_deal("old")
    clock.advance(days=-20)
    ancient = services.create_deal("ancient")
    clock.advance(days=35)
    board = load_board(db, None, now=clock.now)
    rot = {c.title: c.rot for c in board.cards[lead.id]}
    assert rot == {"fresh": 0, "old": 1, "ancient": 2}
    assert rotting_deal_ids(db, lead.pipeline_id, clock.now) == {old.id, ancient.id}
    assert fresh.id not in rotting_deal_ids(db, lead.pipeline_id, clock.now)


def test_headers_count_total_and_weighted_and_agree_with_metrics(db, services, clock):
    st = stages(db)
    a = services.create_deal("a", amount="100")
    services.create_deal("b", amount="33.33", probability=15)
    c = services.create_deal("c", amount="1000")
    services.move_deal(c.id, st["Proposal"].id)
    w = services.create_deal("w", amount="500")
    services.win_deal(w.id)
    board = load_board(db, None, now=clock.now)
    h = board.headers
    assert (h[st["Lead"].id].count, h[st["Lead"].id].value_cents) == (2, 13333)
    assert h[st["Lead"].id].weighted_cents == 1000 + 500  # 100×10% + 33.33×15% (499.95 → 500)
    assert h[st["Proposal"].id].weighted_cents == 50000
    assert (h[st["Won"].id].count, h[st["Won"].id].value_cents) == (1, 50000)
    since = (clock.now - dt.timedelta(days=30)).date()
    expected = {
        s.stage_id: (s.count, s.value_cents, s.weighted_cents)
        for s in stage_summaries(db, board.pipeline_id, Filters(since=since))
    }
    assert {sid: (x.count, x.value_cents, x.weighted_cents) for sid, x in h.items()} == expected
    assert a.id in {card.id for card in board.cards[st["Lead"].id]}


def test_closed_columns_show_recent_deals_only(db, services, clock):
    st = stages(db)
    old = services.create_deal("old win")
    services.win_deal(old.id)
    clock.advance(days=31)
    recent = services.create_deal("recent loss")
    services.lose_deal(recent.id, "price")
    board = load_board(db, None, now=clock.now)
    assert board.cards[st["Won"].id] == []
    assert [c.title for c in board.cards[st["Lost"].id]] == ["recent loss"]
    assert board.headers[st["Won"].id].count == 0


def test_text_and_owner_filters_and_deleted_rows(db, services, clock):
    st = stages(db)
    acme = services.create_customer(name="Acme 100%")
    services.create_deal("alpha", customer_id=acme.id, owner="ann")
    services.create_deal("beta", owner="bob")
    gone = services.create_customer(name="Gone Ltd")
    services.create_deal("of deleted customer", customer_id=gone.id)
    services.delete_customer(gone.id)
    deleted = services.create_deal("deleted deal")
    services.delete_deal(deleted.id)
    titles = lambda b: sorted(c.title for c in b.cards[st["Lead"].id])  # noqa: E731
    assert titles(load_board(db, None, now=clock.now)) == ["alpha", "beta"]
    assert titles(load_board(db, None, now=clock.now, text="100%")) == ["alpha"]  # % taken literally
    assert titles(load_board(db, None, now=clock.now, text="BET")) == ["beta"]
    assert titles(load_board(db, None, now=clock.now, owner="bob")) == ["beta"]
    assert load_board(db, None, now=clock.now, owner="bob").headers[st["Lead"].id].count == 1
    assert list_owners(db) == ["ann", "bob"]


def test_pipelines_customers_and_deal_detail(db, services, clock):
    [sales] = list_pipelines(db)
    assert sales.name == "Sales"
    services.create_customer(name="Beta Acme")
    acme = services.create_customer(name="Acme")
    assert [n for _i, n in find_customers(db, "acm")] == ["Acme", "Beta Acme"]
    deal = services.create_deal("d", customer_id=acme.id, amount="10")
    services.move_deal_step(deal.id, 1)
    services.add_note("called them", deal_id=deal.id)
    detail = load_deal(db, deal.id)
    assert (detail.customer, detail.stage, detail.probability) == ("Acme", "Qualified", 25)
    assert [t.subject for t in detail.tasks] == ["Discovery call: budget, authority, need, timing"]
    # its stage changes and notes are on its timeline (tests/unit/test_timeline.py)
    assert [(i.kind, i.what) for i in timeline(db, deal_id=deal.id)] == [
        ("note", "called them"),
        ("stage", "Lead → Qualified"),
        ("stage", "created in Lead"),
    ]
    services.delete_deal(deal.id)
    assert load_deal(db, deal.id) is None


def _many_leads(db, count):
    """``count`` open deals in Lead with amounts 1..count (bulk, through the real tables)."""
    from crm_tui.models import Deal

    lead = stages(db)["Lead"]
    with db.write({"deal"}) as s:
        now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        for i in range(1, count + 1):
            s.add(
                Deal(
                    title=f"Deal {i:04d}",
                    pipeline_id=lead.pipeline_id,
                    stage_id=lead.id,
                    amount_cents=i * 100,
                    created_at=now,
                    updated_at=now,
                    stage_entered_at=now,
                )
            )
    return lead


def test_columns_hold_a_window_while_headers_count_every_deal(db, clock):
    lead = _many_leads(db, 450)
    board = load_board(db, None, now=clock.now)
    cards = board.cards[lead.id]
    assert len(cards) == 200  # CARDS_PER_COLUMN
    assert [c.amount_cents for c in cards[:2]] == [45000, 44900]  # biggest first
    assert board.headers[lead.id].count == 450
    assert board.headers[lead.id].value_cents == sum(range(1, 451)) * 100
    assert board.has_more(lead.id)
    grown = load_board(db, None, now=clock.now, limits={lead.id: 500})
    assert len(grown.cards[lead.id]) == 450 and not grown.has_more(lead.id)


def test_the_focused_deal_is_loaded_however_far_down_its_column(db, clock):
    lead = _many_leads(db, 450)
    board = load_board(db, None, now=clock.now)
    smallest = load_board(db, None, now=clock.now, limits={lead.id: 450}).cards[lead.id][-1]
    assert board.find(smallest.id) is None
    focused = load_board(db, None, now=clock.now, focus=smallest.id)
    assert focused.find(smallest.id) == (0, 449)


def _shape(board):
    """What a user sees of a board: every column's card ids in order, and every header."""
    return (
        {sid: [c.id for c in cards] for sid, cards in board.cards.items()},
        {sid: (h.count, h.value_cents, h.weighted_cents) for sid, h in board.headers.items()},
    )


def test_a_move_patched_into_the_board_equals_the_board_read_afterwards(db, services, clock):
    """The board shifts a moved card and both headers in place (no reload on the key press);
    after every kind of move that must be exactly what reading the database gives."""
    st = stages(db)
    amounts = ["100", "33.33", "1000", "250.05", "100", "77.77", "5000", "0.01", "999.99", "100"]
    deals = [
        services.create_deal(f"d{i}", amount=a, probability=(15 if i % 3 == 0 else None)) for i, a in enumerate(amounts)
    ]
    services.win_deal(services.create_deal("old win", amount="40").id)
    board = load_board(db, None, now=clock.now)
    moves = [
        lambda d: services.move_deal_step(d.id, 1),
        lambda d: services.move_deal(d.id, st["Proposal"].id),
        lambda d: services.move_deal_step(d.id, 1),
        lambda d: services.move_deal(d.id, st["Negotiation"].id),
        lambda d: services.win_deal(d.id),
        lambda d: services.lose_deal(d.id, "price"),
    ]
    steps = [(deal, moves[i % len(moves)]) for i, deal in enumerate(deals)]
    steps += [(deals[1], lambda d: services.move_deal_step(d.id, -1))]  # back from Proposal
    for i, (deal, move) in enumerate(steps):
        clock.advance(minutes=7)
        result = move(deal)
        assert board.apply_move(
            result.deal.id,
            result.to_stage.id,
            amount_cents=result.deal.amount_cents,
            probability=result.deal.probability,
            at=clock.now,
        )
        assert _shape(board) == _shape(load_board(db, None, now=clock.now)), f"after move {i}"
        moved = board.cards[result.to_stage.id][board.find(deal.id)[1]]
        assert moved.stage_id == result.to_stage.id and moved.days_in_stage == 0
        # a board that already shows the move (a reload got there first) is left alone
        assert not board.apply_move(
            result.deal.id,
            result.to_stage.id,
            amount_cents=result.deal.amount_cents,
            probability=result.deal.probability,
            at=clock.now,
        )


def test_a_patch_is_refused_when_the_board_is_older_than_an_edit(db, services, clock):
    st = stages(db)
    deal = services.create_deal("grown", amount="100")
    board = load_board(db, None, now=clock.now)
    services.update_deal(deal.id, amount="900")
    result = services.move_deal_step(deal.id, 1)
    before = _shape(board)
    assert not board.apply_move(
        deal.id, st["Qualified"].id, amount_cents=result.deal.amount_cents, probability=None, at=clock.now
    )
    assert _shape(board) == before  # unchanged: the reload that follows shows the truth
