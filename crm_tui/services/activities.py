"""Tasks (calls, emails, meetings, to-dos) and notes."""

from __future__ import annotations

import datetime as dt

from crm_tui import validate as v
from crm_tui.errors import ConflictError, ValidationError
from crm_tui.models import TASK_KINDS, TASK_OUTCOMES, Customer, Deal, Note, Task
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
        with self._write({"task"}, "create") as session:
            data = self._clean_task(session, {"subject": subject, **fields})
            self._say(session, f"add task '{data['subject']}'")
            if data.get("deal_id") and not data.get("customer_id"):
                data["customer_id"] = session.get(Deal, data["deal_id"]).customer_id
            task = Task(**data, created_at=now, updated_at=now)
            session.add(task)
            session.flush()
            return task

    def update_task(self, task_id: int, *, expected_version: int | None = None, **fields) -> Task:
        with self._write({"task"}, "edit") as session:
            task = self._get(session, Task, task_id)
            self._check_version(task, expected_version)
            data = self._clean_task(session, fields)
            self._say(session, f"edit task '{task.subject}' ({self._changed_fields(task, data)})")
            for key, value in data.items():
                setattr(task, key, value)
            self._touch(task)
            return task

    def complete_task(self, task_id: int) -> Task:
        with self._write({"task"}, "complete") as session:
            task = self._get(session, Task, task_id)
            self._say(session, f"complete '{task.subject}'")
            if task.done_at is not None:
                raise ValidationError(f"'{task.subject}' is already done")
            task.done_at = self.now()
            self._touch(task)
            return task

    def reopen_task(self, task_id: int) -> Task:
        """Undo a completion: the task is open again with its old due date."""
        with self._write({"task"}, "reopen") as session:
            task = self._get(session, Task, task_id)
            self._say(session, f"reopen '{task.subject}'")
            task.done_at = None
            self._touch(task)
            return task

    def snooze_task(self, task_id: int, *, days: int | None = None, until=None) -> Task:
        """Push the due date: ``days`` after the later of now and the current due,
        or to ``until`` (a date or datetime)."""
        with self._write({"task"}, "snooze") as session:
            task = self._get(session, Task, task_id)
            if task.done_at is not None:
                raise ValidationError(f"'{task.subject}' is done; reopen it before snoozing")
            if until is not None:
                new_due = v.timestamp(until, "snooze until")
            else:
                step = v.positive_int(days if days is not None else 1, "days", maximum=3650)
                base = max(self.now(), task.due_at) if task.due_at else self.now()
                new_due = _later(base, step, task.subject)
            if new_due is None or new_due <= self.now():
                raise ValidationError("snooze to a time in the future")
            self._say(session, f"snooze '{task.subject}' to {_local(new_due):%a %b %d %H:%M}")
            task.due_at = new_due
            self._touch(task)
            return task

    def reschedule_task(self, task_id: int, due_at) -> Task:
        return self.update_task(task_id, due_at=due_at)

    def delete_task(self, task_id: int) -> Task:
        with self._write({"task"}, "delete") as session:
            task = self._get(session, Task, task_id)
            self._say(session, f"delete task '{task.subject}'")
            task.deleted_at = self.now()
            self._touch(task)
            return task

    def restore_task(self, task_id: int) -> Task:
        with self._write({"task"}, "restore") as session:
            task = self._get(session, Task, task_id, live=False)
            self._say(session, f"restore task '{task.subject}'")
            task.deleted_at = None
            self._touch(task)
            return task

    def log_activity(
        self,
        *,
        kind: str,
        outcome: str,
        note: str = "",
        task_id: int | None = None,
        deal_id: int | None = None,
        customer_id: int | None = None,
        next_subject: str = "",
        next_due: dt.datetime | None = None,
    ) -> Task:
        """A call, email or meeting that happened, in one go: the activity done with its outcome
        (``task_id``: that open task completed; else a new done one), its note on the timeline,
        and the next step — one transaction, one undo."""
        kind = v.choice(kind or "call", "kind", TASK_KINDS)
        outcome = v.choice(outcome, "outcome", TASK_OUTCOMES)
        note = v.text(note, "note", max_len=v.MAX_TEXT, multiline=True)
        next_subject = v.text(next_subject, "next step", max_len=500)
        due = v.timestamp(next_due, "next step due")
        if due is not None and not next_subject:
            raise ValidationError("the next step has a due date but no subject; say what it is, or clear the date")
        if task_id is None and deal_id is None and customer_id is None:
            raise ValidationError("an activity belongs to a task, a deal or a customer; pick one")
        tables = {"task", "note"}
        with self._write(tables, "log") as session:
            now = self.now()
            if task_id is not None:
                task = self._get(session, Task, task_id)
                if task.done_at is not None:
                    raise ValidationError(f"'{task.subject}' is already done; log the activity on its deal or customer")
                deal_id, customer_id = task.deal_id, task.customer_id
                task.kind, task.outcome, task.done_at = kind, outcome, now
                self._touch(task)
            else:
                if deal_id is not None:
                    customer_id = self._get(session, Deal, deal_id).customer_id
                elif customer_id is not None:
                    self._get(session, Customer, customer_id)
                task = Task(
                    subject=f"{kind.capitalize()}: {outcome}",
                    kind=kind,
                    outcome=outcome,
                    done_at=now,
                    due_at=now,
                    owner=self.user,
                    customer_id=customer_id,
                    deal_id=deal_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(task)
            about = ""
            if deal_id is not None:
                about = self._get(session, Deal, deal_id).title
            elif customer_id is not None:
                about = self._get(session, Customer, customer_id).name
            self._say(session, f"log {kind} with '{about}' ({outcome})" if about else f"log {kind} ({outcome})")
            if note:
                session.add(Note(body=note, customer_id=customer_id, deal_id=deal_id, author=self.user, created_at=now))
            if next_subject:
                session.add(
                    Task(
                        subject=next_subject,
                        kind=kind if kind != "todo" else "call",
                        due_at=due,
                        owner=self.user,
                        customer_id=customer_id,
                        deal_id=deal_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
            session.flush()
            return task

    def add_note(self, body: str, *, customer_id: int | None = None, deal_id: int | None = None) -> Note:
        body = v.text(body, "note", required=True, max_len=v.MAX_TEXT, multiline=True)
        if customer_id is None and deal_id is None:
            raise ValidationError("a note belongs to a customer or a deal; pick one")
        with self._write({"note"}, "note") as session:
            about = ""
            if customer_id is not None:
                about = self._get(session, Customer, customer_id).name
            if deal_id is not None:
                deal = self._get(session, Deal, deal_id)
                customer_id = customer_id or deal.customer_id
                about = deal.title
            first_line = body.splitlines()[0] if body else ""
            self._say(session, f"note on '{about}': {first_line[:40]}{'…' if len(first_line) > 40 else ''}")
            note = Note(body=body, customer_id=customer_id, deal_id=deal_id, author=self.user, created_at=self.now())
            session.add(note)
            session.flush()
            return note

    def update_note(self, note_id: int, body: str, *, expected_body: str | None = None) -> Note:
        """A note's text rewritten (its time and author stay). ``expected_body``: the text the rep
        opened it with; another session's edit since is refused (``ConflictError``), not overwritten."""
        body = v.text(body, "note", required=True, max_len=v.MAX_TEXT, multiline=True)
        with self._write({"note"}, "edit") as session:
            note = self._get(session, Note, note_id)
            if expected_body is not None and note.body != expected_body:
                raise ConflictError(
                    "this note was changed in another session since you opened it; review it and edit again",
                    current={"note": note.body},
                )
            self._say(session, f"edit note {_gist(note.body)}")
            note.body = body
            session.flush()
            return note

    def delete_note(self, note_id: int) -> Note:
        """Soft delete: off every timeline, kept for undo (``restore_note``)."""
        with self._write({"note"}, "delete") as session:
            note = self._get(session, Note, note_id)
            self._say(session, f"delete note {_gist(note.body)}")
            note.deleted_at = self.now()
            return note

    def restore_note(self, note_id: int) -> Note:
        with self._write({"note"}, "restore") as session:
            note = self._get(session, Note, note_id, live=False)
            self._say(session, f"restore note {_gist(note.body)}")
            note.deleted_at = None
            return note


def _gist(body: str) -> str:
    """A note in a journal label: its first line, quoted, cut at 40 characters."""
    first = body.strip().splitlines()[0] if body.strip() else ""
    return f"'{first[:40]}{'…' if len(first) > 40 else ''}'"


def _later(base: dt.datetime, days: int, subject: str) -> dt.datetime:
    """``base`` plus ``days`` days; a task due near the end of the calendar (an import can set
    9999-12-31) cannot move past year 9999: said in words, not as Python's OverflowError."""
    try:
        return base + dt.timedelta(days=days)
    except OverflowError:
        raise ValidationError(
            f"'{subject}' is due {base:%Y-%m-%d}; {days} day{'s' if days != 1 else ''} later is past 9999-12-31, "
            "the last date crm-tui can keep; give it an earlier due date instead"
        ) from None


def _local(when: dt.datetime) -> dt.datetime:
    """``when`` in local time for a label; in UTC where local time would pass year 9999."""
    try:
        return when.astimezone()
    except OverflowError:
        return when
