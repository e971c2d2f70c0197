"""The shared form base on the board side: inline errors, typed values kept, conflicts shown."""

from __future__ import annotations

from crm_tui.models import Deal


async def test_deal_edit_conflict_shows_stored_values_then_second_save_replaces(make_app, settle, db, services):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert form.__class__.__name__ == "DealFormScreen"
        assert form.query_one("#field-amount").value == "1000.00"
        form.query_one("#field-title").value = "Rollout phase 2"
        form.query_one("#field-probability").value = "150"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # a ValidationError lands beside its field; what was typed stays
        assert "probability" in str(form.query_one("#error-probability").render())
        assert form.query_one("#field-title").value == "Rollout phase 2"
        services.update_deal(deal.id, amount="5000")  # another session, meanwhile
        form.query_one("#field-probability").value = ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        message = str(form.query_one("#form-error").render())
        assert "changed in another session" in message and "Amount: 5000.00" in message
        stored = services.get(Deal, deal.id)
        assert stored.title == "Rollout" and stored.amount_cents == 500000  # nothing overwritten
        await pilot.press("ctrl+s")  # saving again replaces knowingly
        await settle(app, pilot)
        assert app.screen is not form
        stored = services.get(Deal, deal.id)
        assert stored.title == "Rollout phase 2" and stored.amount_cents == 100000


async def test_board_task_form_error_under_field_and_enter_saves(make_app, settle, db, services):
    app = make_app("tasks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"Call Globex")
        app.screen.query_one("#field-priority").value = "whenever"
        await pilot.press("enter")
        await settle(app, pilot)
        assert "priority must be one of low, normal, high, urgent" in str(
            app.screen.query_one("#error-priority").render()
        )
        assert app.screen.query_one("#field-subject").value == "Call Globex"
        app.screen.query_one("#field-priority").value = "high"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.__class__.__name__ == "TasksScreen"
        with db.read() as s:
            from sqlalchemy import select

            from crm_tui.models import Task

            task = s.execute(select(Task).where(Task.subject == "Call Globex")).scalar_one()
        assert task.priority == 2
