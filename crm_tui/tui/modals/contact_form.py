"""Add or edit a contact person of a customer."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from crm_tui import validate as v
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.validate import Check

CONTACT_FIELDS = (
    Field("name", "Name", placeholder="Jane Roe"),
    Field("title", "Title", placeholder="Head of purchasing"),
    Field("email", "Email", placeholder="jane@example.com"),
    Field("phone", "Phone"),
)

#: every field's check, as the contact service cleans it
CONTACT_CHECKS: dict[str, Check] = {
    "name": partial(v.text, field="name", required=True),
    "title": partial(v.text, field="title"),
    "email": v.email,
    "phone": partial(v.text, field="phone"),
}


class ContactForm(FormScreen):
    """``save(values)`` creates or updates the contact and returns it."""

    FIELDS = CONTACT_FIELDS

    def __init__(
        self,
        customer_name: str,
        save: Callable[..., Any],
        contact: dict[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> None:
        """``version``: an edit's contact as it was read; ``save(values, version)`` then refuses
        to overwrite another session's edit."""
        title = f"Contact at {customer_name}" if contact is None else f"Edit contact {contact.get('name', '')}"
        super().__init__(title, save, values=contact, checks=CONTACT_CHECKS, version=version)
