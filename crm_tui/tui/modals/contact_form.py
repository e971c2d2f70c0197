"""Add or edit a contact person of a customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_tui.tui.modals.form import Field, FormScreen

CONTACT_FIELDS = (
    Field("name", "Name", placeholder="Jane Roe"),
    Field("title", "Title", placeholder="Head of purchasing"),
    Field("email", "Email", placeholder="jane@example.com"),
    Field("phone", "Phone"),
)


class ContactForm(FormScreen):
    """``save(values)`` creates or updates the contact and returns it."""

    FIELDS = CONTACT_FIELDS

    def __init__(self, customer_name: str, save: Callable[[dict[str, Any]], Any], contact: dict | None = None) -> None:
        title = f"Contact at {customer_name}" if contact is None else f"Edit contact {contact.get('name', '')}"
        super().__init__(title, save, values=contact)
