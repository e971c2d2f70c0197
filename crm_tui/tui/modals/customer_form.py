"""Add or edit a customer: a modal form with inline validation.

Edits carry the version that was loaded; if another session changed the
customer meanwhile, the service refuses (``ConflictError``) and the form shows
what is stored now, keeping what was typed. Saving again then replaces the
stored values knowingly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from crm_tui import validate as v
from crm_tui.models import CUSTOMER_KINDS, CUSTOMER_STATUSES
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.validate import Check

STATUSES = CUSTOMER_STATUSES
KINDS = CUSTOMER_KINDS

CUSTOMER_FIELDS = (
    Field("name", "Name", placeholder="Acme Corp"),
    Field("status", "Status", kind="select", options=STATUSES),
    Field("kind", "Kind", kind="select", options=KINDS),
    Field("email", "Email", placeholder="sales@example.com"),
    Field("phone", "Phone"),
    Field("website", "Website"),
    Field("industry", "Industry"),
    Field("tags", "Tags", placeholder="comma separated: vip, hardware"),
    Field("owner", "Owner"),
    Field("source", "Source"),
)

#: every field's check, as the customer service cleans it (the same validators, so the same messages)
CUSTOMER_CHECKS: dict[str, Check] = {
    "name": partial(v.text, field="name", required=True),
    "status": lambda value: v.choice(value or "lead", "status", STATUSES),
    "kind": lambda value: v.choice(value or "company", "kind", KINDS),
    "email": v.email,
    "tags": partial(v.text, field="tags", max_len=1000),
    **{name: partial(v.text, field=name) for name in ("phone", "website", "industry", "owner", "source")},
}

#: save(values, expected_version) → the saved customer; raises CrmError when refused
SaveCustomer = Callable[[dict[str, Any], "int | None"], Any]


class CustomerForm(FormScreen):
    CSS_PATH = "customer_form.tcss"
    FIELDS = CUSTOMER_FIELDS

    def __init__(self, customer: dict[str, Any] | None, save: SaveCustomer) -> None:
        customer = dict(customer or {})
        version = customer.get("version")
        title = f"Edit {customer['name']}" if customer.get("name") else "New customer"
        if version is None:  # a new customer: nothing to conflict with
            super().__init__(title, lambda values: save(values, None), values=customer, checks=CUSTOMER_CHECKS)
        else:
            super().__init__(title, save, values=customer, version=version, checks=CUSTOMER_CHECKS)
