"""Customers and their contacts: create, edit, soft-delete, restore."""

from __future__ import annotations

from crm_tui import validate as v
from crm_tui.models import CUSTOMER_KINDS, CUSTOMER_STATUSES, Contact, Customer
from crm_tui.services.base import ServiceBase
from crm_tui.textnorm import name_key

CUSTOMER_FIELDS = ("name", "kind", "email", "phone", "website", "industry", "tags", "owner", "source", "status")
CONTACT_FIELDS = ("name", "title", "email", "phone")


def _clean_customer(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if key == "name":
            out[key] = v.text(value, "name", required=True)
        elif key == "kind":
            out[key] = v.choice(value or "company", "kind", CUSTOMER_KINDS)
        elif key == "status":
            out[key] = v.choice(value or "lead", "status", CUSTOMER_STATUSES)
        elif key == "email":
            out[key] = v.email(value)
        elif key == "tags":
            tags = [t.strip() for t in v.text(value, "tags", max_len=1000).split(",")]
            out[key] = ", ".join(t for t in tags if t)
        elif key in CUSTOMER_FIELDS:
            out[key] = v.text(value, key)
        else:
            raise v.ValidationError(f"customers have no field '{key}'; use one of {', '.join(CUSTOMER_FIELDS)}")
    return out


def _clean_contact(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if key == "name":
            out[key] = v.text(value, "name", required=True)
        elif key == "email":
            out[key] = v.email(value)
        elif key in CONTACT_FIELDS:
            out[key] = v.text(value, key)
        else:
            raise v.ValidationError(f"contacts have no field '{key}'; use one of {', '.join(CONTACT_FIELDS)}")
    return out


class CustomerOps(ServiceBase):
    def create_customer(self, **fields) -> Customer:
        fields.setdefault("owner", self.user)
        data = _clean_customer({"name": fields.pop("name", ""), **fields})
        now = self.now()
        with self._write({"customer"}, "create", f"add customer '{data['name']}'") as session:
            row = Customer(**data, name_key=name_key(data["name"]), created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return row

    def update_customer(self, customer_id: int, *, expected_version: int | None = None, **fields) -> Customer:
        data = _clean_customer(fields)
        with self._write({"customer"}, "edit") as session:
            row = self._get(session, Customer, customer_id)
            self._check_version(row, expected_version)
            self._say(session, f"edit customer '{row.name}' ({self._changed_fields(row, data)})")
            for key, value in data.items():
                setattr(row, key, value)
            if "name" in data:
                row.name_key = name_key(data["name"])
            self._touch(row)
            session.flush()
            return row

    def delete_customer(self, customer_id: int) -> Customer:
        """Soft delete: hidden everywhere, kept for undo (``restore_customer``)."""
        with self._write({"customer", "deal"}, "delete") as session:
            row = self._get(session, Customer, customer_id)
            self._say(session, f"delete customer '{row.name}'")
            row.deleted_at = self.now()
            self._touch(row)
            return row

    def restore_customer(self, customer_id: int) -> Customer:
        with self._write({"customer", "deal"}, "restore") as session:
            row = self._get(session, Customer, customer_id, live=False)
            self._say(session, f"restore customer '{row.name}'")
            row.deleted_at = None
            self._touch(row)
            return row

    def create_contact(self, customer_id: int, **fields) -> Contact:
        data = _clean_contact({"name": fields.pop("name", ""), **fields})
        with self._write({"contact"}, "create") as session:
            customer = self._get(session, Customer, customer_id)
            self._say(session, f"add contact '{data['name']}' to '{customer.name}'")
            row = Contact(customer_id=customer_id, **data, created_at=self.now(), updated_at=self.now())
            session.add(row)
            session.flush()
            return row

    def update_contact(self, contact_id: int, *, expected_version: int | None = None, **fields) -> Contact:
        data = _clean_contact(fields)
        with self._write({"contact"}, "edit") as session:
            row = self._get(session, Contact, contact_id)
            self._check_version(row, expected_version)
            self._say(session, f"edit contact '{row.name}' ({self._changed_fields(row, data)})")
            for key, value in data.items():
                setattr(row, key, value)
            self._touch(row)
            return row

    def delete_contact(self, contact_id: int) -> Contact:
        with self._write({"contact"}, "delete") as session:
            row = self._get(session, Contact, contact_id)
            self._say(session, f"delete contact '{row.name}'")
            row.deleted_at = self.now()
            self._touch(row)
            return row

    def restore_contact(self, contact_id: int) -> Contact:
        with self._write({"contact"}, "restore") as session:
            row = self._get(session, Contact, contact_id, live=False)
            self._say(session, f"restore contact '{row.name}'")
            row.deleted_at = None
            self._touch(row)
            return row
