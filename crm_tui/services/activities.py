"""Tasks (calls, emails, meetings, to-dos) and notes."""

from __future__ import annotations

import datetime as dt

from crm_tui import validate as v
from crm_tui.errors import ValidationError
from crm_tui.models import TASK_KINDS, Customer, Deal, Note, Task
from crm_tui.services.base import ServiceBase

TASK_FIELDS = ("subject", "kind", "due_at", "priority", "customer_id", "deal_id", "owner", "notes")


class ActivityOps(ServiceBase):
    def _clean_task(self, session, data: dict) -> dict:
        out: dict = {}
        for key, value in data.items():
            if key == "subject":
                out[key] = v.text(value, "subject", required=True, max_len=500)
            elif key == "kind":
                out[key] = v.choice(value or "todo", "kind", TASK_KINDS)
            elif key == "due_at":
                out[key] = v.timestamp(value, "due")
            elif key == "priority":
                out[key] = v.positive_int(value, "priority", minimum=0, maximum=3)
            elif key == "notes":
                out[key] = v.text(value, "notes", max_len=v.MAX_TEXT, multiline=True)
            elif key == "owner":
                out[key] = v.text(value, "owner")
            elif key in ("customer_id", "deal_id"):
                if value in (None, ""):
                    out[key] = None
                else:
                    self._get(session, Customer if key == "customer_id" else Deal, value)
                    out[key] = value
            else:
                raise ValidationError(f"tasks have no field '{key}'; use one of {', '.join(TASK_FIELDS)}")
        return out

    def add_task(self, subject: str, **fields) -> Task:
        fields.setdefault("owner", self.user)
        now = self.now()
        with self.db.write({"task"}) as session:
            data = self._clean_task(session, {"subject": subject, **fields})
            if data.get("deal_id") and not data.get("customer_id"):
                data["customer_id"] = session.get(Deal, data["deal_id"]).customer_id
            task = Task(**data, created_at=now, updated_at=now)
            session.add(task)
            session.flush()
            return task

    def update_task(self, task_id: int, *, expected_version: int | None = None, **fields) -> Task:
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id)
            self._check_version(task, expected_version)
            for key, value in self._clean_task(session, fields).items():
                setattr(task, key, value)
            self._touch(task)
            return task

    def complete_task(self, task_id: int) -> Task:
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id)
            if task.done_at is not None:
                raise ValidationError(f"'{task.subject}' is already done")
            task.done_at = self.now()
            self._touch(task)
            return task

    def reopen_task(self, task_id: int) -> Task:
        """Undo a completion: the task is open again with its old due date."""
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id)
            task.done_at = None
            self._touch(task)
            return task

    def snooze_task(self, task_id: int, *, days: int | None = None, until=None) -> Task:
        """Push the due date: ``days`` after the later of now and the current due,
        or to ``until`` (a date or datetime)."""
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id)
            if task.done_at is not None:
                raise ValidationError(f"'{task.subject}' is done; reopen it before snoozing")
            if until is not None:
                new_due = v.timestamp(until, "snooze until")
            else:
                step = v.positive_int(days if days is not None else 1, "days", maximum=3650)
                base = max(self.now(), task.due_at) if task.due_at else self.now()
                new_due = base + dt.timedelta(days=step)
            if new_due is None or new_due <= self.now():
                raise ValidationError("snooze to a time in the future")
            task.due_at = new_due
            self._touch(task)
            return task

    def reschedule_task(self, task_id: int, due_at) -> Task:
        return self.update_task(task_id, due_at=due_at)

    def delete_task(self, task_id: int) -> Task:
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id)
            task.deleted_at = self.now()
            self._touch(task)
            return task

    def restore_task(self, task_id: int) -> Task:
        with self.db.write({"task"}) as session:
            task = self._get(session, Task, task_id, live=False)
            task.deleted_at = None
            self._touch(task)
            return task

    def add_note(self, body: str, *, customer_id: int | None = None, deal_id: int | None = None) -> Note:
        body = v.text(body, "note", required=True, max_len=v.MAX_TEXT, multiline=True)
        if customer_id is None and deal_id is None:
            raise ValidationError("a note belongs to a customer or a deal; pick one")
        with self.db.write({"note"}) as session:
            if customer_id is not None:
                self._get(session, Customer, customer_id)
            if deal_id is not None:
                deal = self._get(session, Deal, deal_id)
                customer_id = customer_id or deal.customer_id
            note = Note(body=body, customer_id=customer_id, deal_id=deal_id, author=self.user, created_at=self.now())
            session.add(note)
            session.flush()
            return note
