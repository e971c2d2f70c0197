"""A realistic, deterministic demo CRM (``crm-tui demo``).

``generate(db, size=N, seed=S, now=T)`` fills an empty database with N
customers and everything around them: contacts, products, ≈3N deals walking
the default pipeline with a consistent stage history, product lines, ≈3N
tasks, notes and orders. The same size, seed and ``now`` always give the same
rows (one ``random.Random(seed)``, drawn in a fixed order).

Times are worked out as whole minutes relative to ``now`` (negative = past).
Rows are built as tuples, chunk by chunk, and written with one prepared
``executemany`` per table and chunk inside a single write transaction; values
are converted by the columns' own SQLAlchemy types (``demo_io``), so 100k
customers take seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from itertools import count
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from sqlalchemy import func, select

from crm_tui import demo_words as W
from crm_tui import kept, models
from crm_tui.columns import col, pk
from crm_tui.demo_io import TABLES, Stamper, TableRow, Writer, built_ahead, indexes_deferred
from crm_tui.errors import ValidationError
from crm_tui.migrations import DEFAULT_PIPELINE
from crm_tui.textnorm import name_key

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from crm_tui.db import Database

Progress = Callable[[str, int, int], None]
#: rows per table of one chunk, as the generator appends them
_Out: TypeAlias = dict[str, list[TableRow]]
#: a product line: (index in the product list, quantity, unit price in cents)
_Line: TypeAlias = tuple[int, int, int]
#: a deal while its customer's rows are built: (id, outcome, created, closed or last moved, owner,
#: product lines, index of the last open stage it reached); times in minutes from now
_DealState: TypeAlias = tuple[int, str, int, int, str, list[_Line], int]
#: a stage's task template: (kind, subject, duration in days, responsible)
_Template: TypeAlias = tuple[str, str, int, str]
_T = TypeVar("_T")

CHUNK = 5000  # customers generated and written at a time
MAX_SIZE = 1_000_000
HOUR = 60
DAY = 24 * HOUR
SPAN = 730 * DAY  # the history reaches about two years back
#: customers already on the books when the history starts (made in its first 30 days); the
#: rest join evenly over the two years, so the book — and its deal flow — grows by half
#: in the last year rather than piling up in the last months
FOUNDING_SHARE = 0.35
#: a customer's deals are ∝ its time on the books; this is the average of (age / SPAN)
MEAN_TENURE = FOUNDING_SHARE * (SPAN - 15 * DAY) / SPAN + (1 - FOUNDING_SHARE) * 0.5
# Per open stage (by position): mean days spent before moving on, chance of losing the deal there.
STAGE_MEAN_DAYS = (6.0, 9.0, 12.0, 10.0)
LOSS_CHANCE = (0.28, 0.22, 0.22, 0.18)
SKIP_CHANCE = 0.07  # a deal jumps over the next stage
STALL_CHANCE = 0.12  # a deal that sits five times longer than usual (these rot)
TASKS_PER_CUSTOMER = 3
ORDER_SHARE = 0.65  # won deals that became an order


def _table(weights: Sequence[int], first: int = 0) -> tuple[int, ...]:
    """Weights → a lookup tuple, so a weighted draw is one ``random()``."""
    return tuple(first + i for i, w in enumerate(weights) for _ in range(w))


DEAL_COUNTS = _table((5, 15, 20, 22, 18, 12, 8))  # 0..6 deals per customer, mean ≈ 3
CONTACT_COUNTS = _table((45, 35, 20), 1)  # 1..3 contacts at a company
NOTE_COUNTS = _table((10, 20, 25, 20, 15, 10))  # 0..5 notes per customer
LINE_COUNTS = _table((55, 30, 15), 1)  # 1..3 product lines per deal
TAG_COUNTS = _table((35, 35, 20, 10))
PRIORITIES = _table((15, 55, 22, 8))
OWNERS = tuple(o for o, w in zip(W.OWNERS, W.OWNER_WEIGHTS) for _ in range(w))
SOURCES = tuple(s for s, w in zip(W.SOURCES, W.SOURCE_WEIGHTS) for _ in range(w))
LOST_REASONS = tuple(s for s, w in zip(W.LOST_REASONS, W.LOST_REASON_WEIGHTS) for _ in range(w))
TASK_KINDS = tuple(s for s, w in zip(W.TASK_KINDS, W.TASK_KIND_WEIGHTS) for _ in range(w))
PROBABILITIES = (20, 30, 40, 60, 80, 90)
FLAVOURS = tuple(f.capitalize() for f in W.DEAL_FLAVOURS)


def generate(
    db: Database, *, size: int = 2000, seed: int = 7, now: dt.datetime | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Fill an empty database with a demo CRM; return the rows written per table."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise ValidationError(f"demo size must be a whole number from 1 to {MAX_SIZE:,}, got {size!r}", field="size")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError(f"demo seed must be a whole number, got {seed!r}", field="seed")
    if now is None:
        now = models.utcnow().replace(second=0, microsecond=0)
    elif now.tzinfo is None:
        raise ValidationError("demo 'now' must be a timezone-aware datetime (UTC)", field="now")
    now = now.astimezone(models.UTC)
    with db.write(models.ALL_TABLES) as session:
        conn = session.connection()
        _require_empty(conn)
        writer = Writer(conn)
        gen = _Generator(conn, random.Random(seed), Stamper(now, conn.dialect))
        with kept.rebuilt(conn):  # the figures once, from the whole book, not a trigger per row
            _fill(conn, writer, gen, size, progress)
        # The rows carry their ids: PostgreSQL's sequences must go past them, or the rep's first
        # new record would collide with a demo one.
        from sqlmodel import SQLModel

        from crm_tui import engines

        for name in ("product", *TABLES):
            engines.reset_id_sequence(conn, SQLModel.metadata.tables[name])
    return dict(writer.counts)


def _fill(conn: Connection, writer: Writer, gen: _Generator, size: int, progress: Progress | None) -> None:
    """Every demo row, a chunk of customers (with their deals, tasks, orders) at a time."""
    writer.write("product", gen.products_rows())
    sizes = [min(CHUNK, size - start) for start in range(0, size, CHUNK)]
    built = (lambda i, total: progress("indexes", i, total)) if progress is not None else None
    with indexes_deferred(conn, TABLES, built):
        done = 0
        for out in built_ahead(gen.chunk, sizes):
            for name in TABLES:
                writer.write(name, out[name])
            done += len(out["customer"])
            if progress is not None:
                progress("customers", done, size)


def _require_empty(conn: Connection) -> None:
    for label, model in (
        ("customers", models.Customer),
        ("deals", models.Deal),
        ("tasks", models.Task),
        ("orders", models.Order),
        ("products", models.Product),
    ):
        n = conn.execute(select(func.count()).select_from(model)).scalar() or 0
        if n:
            raise ValidationError(
                f"the demo needs an empty database; this one already has {n:,} {label} — "
                "choose a new file with --db (or run `crm-tui demo` without --db)"
            )


class _Cust:
    """Working state for one customer while its rows are built."""

    __slots__ = ("id", "created", "owner", "short", "kind", "industry", "contacts", "deals", "row")
    id: int
    created: int  # minutes from now
    owner: str
    short: str
    kind: str
    industry: str
    contacts: list[str]  # first names
    deals: list[_DealState]
    row: list[object]  # the customer row, completed once its deals are known


class _Generator:
    def __init__(self, conn: Connection, rng: random.Random, stamp: Stamper) -> None:
        self.rnd = rng.random
        self.ts = stamp.minutes
        self.day = stamp.day
        self.today_start = stamp.today_start
        self.pipeline_id, self.opens, self.won, self.lost, self.templates = _load_pipeline(conn)
        self.new_id = {
            name: count((conn.execute(select(func.max(pk(model.id)))).scalar() or 0) + 1).__next__
            for name, model in (("product", models.Product), *_ID_MODELS)
        }
        self.products: list[tuple[int, str, int, int, int]] = []
        self._ascii: dict[str, str] = {}

    # -- small helpers -----------------------------------------------------------

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.rnd() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        """Uniform whole number in [a, b]."""
        return a + int(self.rnd() * (b - a + 1))

    def slug(self, text: str) -> str:
        got = self._ascii.get(text)
        if got is None:
            plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
            got = self._ascii[text] = "".join(c for c in plain if c.isalnum())
        return got

    def phone(self) -> str:
        return f"+1 {self.pick(W.AREA_CODES)}-555-{self.randint(100, 199):04d}"

    # -- products ------------------------------------------------------------------

    def products_rows(self) -> list[TableRow]:
        rows: list[TableRow] = []
        created = self.ts(-SPAN - 30 * DAY)
        for (name, cents, (lo, hi)), code in zip(W.PRODUCTS, W.PRODUCT_CODES, strict=True):
            pid = self.new_id["product"]()
            self.products.append((pid, name, cents, lo, hi))
            rows.append((pid, name, name_key(name), cents, "USD", code, None, created))
        return rows

    # -- one chunk of customers with everything around them ----------------------

    def chunk(self, n: int) -> _Out:
        out: _Out = {name: [] for name in TABLES}
        customers = [self.customer(out) for _ in range(n)]
        for cust in customers:
            self.deals_for(cust, out)
            self.finish_customer(cust, out)
            self.notes_for(cust, out)
        target = TASKS_PER_CUSTOMER * n
        for _ in range(max(target - len(out["task"]), (target * 3) // 10)):
            self.filler_task(self.pick(customers), out)
        return out

    def customer(self, out: _Out) -> _Cust:
        rnd, pick = self.rnd, self.pick
        cust = _Cust()
        cust.id = self.new_id["customer"]()
        cust.industry = industry = pick(W.INDUSTRY_NAMES)
        if rnd() < FOUNDING_SHARE:
            cust.created = -(SPAN - int(30 * DAY * rnd()))
        else:
            cust.created = -(DAY + int((SPAN - DAY) * rnd()))
        cust.owner, cust.contacts, cust.deals = pick(OWNERS), [], []
        if rnd() < 0.2:
            first, last = pick(W.FIRST_NAMES), pick(W.LAST_NAMES)
            cust.kind, name = "person", f"{first} {last}"
            cust.short, domain, website = name, "", ""
            email = f"{self.slug(first)}.{self.slug(last)}@{pick(W.PERSONAL_MAIL_DOMAINS)}"
            people = [(first, last, "Owner")]
        else:
            cust.kind = "company"
            cust.short = self.company_name(industry)
            domain = self.slug(cust.short) + pick(W.TLDS)
            legal = pick(W.LEGAL_SUFFIXES)
            name = f"{cust.short} {legal}" if legal else cust.short
            email = f"{pick(W.COMPANY_MAILBOXES)}@{domain}"
            website = f"https://www.{domain}" if rnd() < 0.85 else ""
            people = [(pick(W.FIRST_NAMES), pick(W.LAST_NAMES), pick(W.TITLES)) for _ in range(pick(CONTACT_COUNTS))]
        tags = []
        for _ in range(pick(TAG_COUNTS)):
            tag = pick(W.TAGS)
            if tag not in tags:
                tags.append(tag)
        # created_at/updated_at and status are filled in once the deals are known
        cust.row = [
            cust.id,
            name,
            name_key(name),
            cust.kind,
            email,
            self.phone(),
            website,
            industry,
            ", ".join(tags),
            cust.owner,
            pick(SOURCES),
            "lead",
            None,
            None,
            None,
            None,
            1,
        ]
        created = self.ts(min(cust.created + int(rnd() * 6 * HOUR), 0))
        for first, last, title in people:
            mail = f"{self.slug(first)}.{self.slug(last)}@{domain}" if domain else email
            cust.contacts.append(first)
            out["contact"].append(
                (
                    self.new_id["contact"](),
                    cust.id,
                    f"{first} {last}",
                    title,
                    mail,
                    self.phone(),
                    None,
                    created,
                    created,
                    None,
                    1,
                )
            )
        return cust

    def company_name(self, industry: str) -> str:
        pick = self.pick
        word = pick(W.INDUSTRIES[industry])
        x = self.rnd()
        if x < 0.55:
            return f"{pick(W.NAME_STARTS)}{pick(W.NAME_ENDS)} {word}"
        if x < 0.75:
            return f"{pick(W.STANDALONE_NAMES)} {word}"
        if x < 0.9:
            return f"{pick(W.LAST_NAMES)} & {pick(W.LAST_NAMES)}"
        return f"{pick(W.LAST_NAMES)} {word}"

    # -- deals ---------------------------------------------------------------------

    def deals_for(self, cust: _Cust, out: _Out) -> None:
        rnd, c = self.rnd, cust.created
        # deals come at a steady rate over the customer's life: a customer of two years has
        # about twice the deals of one of a year (on average DEAL_COUNTS' mean), so the book's
        # deal flow grows with its customers instead of piling up in the last months
        deals = int(self.pick(DEAL_COUNTS) * (-c / SPAN) / MEAN_TENURE + rnd())
        for _ in range(deals):
            owner = cust.owner if rnd() < 0.9 else self.pick(W.OWNERS)
            self.deal(cust, owner, c + int(-c * rnd()), out)

    def deal(self, cust: _Cust, owner: str, created: int, out: _Out) -> None:
        """Walk one deal from Lead through the stages it reached, up to now."""
        rnd, ts, opens = self.rnd, self.ts, self.opens
        did = self.new_id["deal"]()
        lines, amount = self.lines(cust.kind == "person")
        scale = DAY * (5.0 if rnd() < STALL_CHANCE else 1.0)
        t, idx, stage_id, outcome = created, 0, opens[0][0], "open"
        moves: list[tuple[int | None, int, int]] = [(None, stage_id, t)]
        while True:
            stay = HOUR + int(-math.log(1.0 - rnd()) * STAGE_MEAN_DAYS[min(idx, 3)] * scale)
            if t + stay > 0:
                break  # still in this stage now
            t += stay
            if rnd() < LOSS_CHANCE[min(idx, 3)]:
                outcome, to = "lost", self.lost
            else:
                nxt = idx + (2 if rnd() < SKIP_CHANCE else 1)
                if nxt < len(opens):
                    moves.append((stage_id, opens[nxt][0], t))
                    idx, stage_id = nxt, opens[nxt][0]
                    continue
                outcome, to = "won", self.won
            moves.append((stage_id, to, t))
            stage_id = to
            break
        sc = out["stage_change"]
        last = len(moves) - 1
        for i, (frm, to, when) in enumerate(moves):
            if to in self.templates:
                self.stage_tasks(did, cust, owner, to, when, outcome == "open" and i == last, out)
            sc.append((self.new_id["stage_change"](), did, frm, to, ts(when), owner))
        last_at = ts(t)
        if outcome == "open":
            expected = self.day(self.randint(-10, 75))
            probability = self.pick(PROBABILITIES) if rnd() < 0.08 else None
            closed = None
        else:
            expected = self.day((t + self.randint(-20, 10) * DAY) // DAY)
            probability = None
            closed = last_at
        title = f"{cust.short} – {self.pick(FLAVOURS)}: {self.products[lines[0][0]][1]}"
        lost_reason = self.pick(LOST_REASONS) if outcome == "lost" else ""
        out["deal"].append(
            (
                did,
                title,
                cust.id,
                self.pipeline_id,
                stage_id,
                amount,
                "USD",
                probability,
                expected,
                owner,
                lost_reason,
                None,
                ts(created),
                last_at,
                last_at,
                closed,
                None,
                len(moves),
            )
        )
        dp = out["deal_product"]
        for pidx, qty, unit in lines:
            dp.append((self.new_id["deal_product"](), did, self.products[pidx][0], qty, unit))
        cust.deals.append((did, outcome, created, t, owner, lines, idx))
        if outcome == "won" and rnd() < ORDER_SHARE:
            self.order(cust, did, owner, t, lines, out)

    def lines(self, small: bool) -> tuple[list[_Line], int]:
        n = len(self.products)
        picked: list[int] = []
        for _ in range(self.pick(LINE_COUNTS)):
            p = int(self.rnd() * n)
            while p in picked:
                p = (p + 1) % n
            picked.append(p)
        lines, amount = [], 0
        for p in picked:
            _pid, _name, cents, lo, hi = self.products[p]
            qty = self.randint(lo, max(lo, hi // 5) if small else hi)
            unit = cents * (100 - self.pick(W.DISCOUNTS)) // 100
            lines.append((p, qty, unit))
            amount += qty * unit
        return lines, amount

    # -- tasks ---------------------------------------------------------------------

    def stage_tasks(
        self, did: int, cust: _Cust, owner: str, stage_id: int, entered: int, current: bool, out: _Out
    ) -> None:
        """The stage's template tasks, as the sales process creates them when a deal enters it."""
        for kind, subject, days, responsible in self.templates[stage_id]:
            if not current and self.rnd() > 0.4:
                continue  # keep the demo's task volume near 3 per customer
            due = entered + days * DAY
            done = self.done_time(entered, due, 0.75 if current else 1.0)  # tasks of stages left behind were done
            self.add_task(out, kind, subject, due, done, cust, did, responsible or owner, entered)

    def done_time(self, created: int, due: int, chance: float) -> int | None:
        """When a task was completed (≤ now), or None while it is still open."""
        rnd = self.rnd
        if due > 0:
            chance = 0.08  # a few upcoming tasks get done early
        if rnd() >= chance:
            return None
        if rnd() < 0.75:  # on time
            return self.randint(created, max(created, min(due, 0)))
        return min(due + self.randint(HOUR, 7 * DAY), 0)

    def add_task(
        self,
        out: _Out,
        kind: str,
        subject: str,
        due: int,
        done: int | None,
        cust: _Cust,
        did: int | None,
        owner: str,
        created: int,
    ) -> None:
        ts = self.ts
        tid = self.new_id["task"]()
        out["task"].append(
            (
                tid,
                kind,
                subject,
                ts(due),
                None if done is None else ts(done),
                self.pick(PRIORITIES),
                cust.id,
                did,
                owner,
                self.pick(W.TASK_NOTES),
                None,
                ts(created),
                ts(created if done is None else max(done, created)),
                None,
                1,
                None if done is None else _outcome(kind, tid),
            )
        )

    def filler_task(self, cust: _Cust, out: _Out) -> None:
        """A follow-up task: due today, upcoming, overdue, or (mostly) past and done."""
        c, x, randint = cust.created, self.rnd(), self.randint
        if x < 0.05:
            due = self.today_start + randint(8 * HOUR, 18 * HOUR)
            created = max(c, min(due, 0) - randint(DAY, 7 * DAY))
            done = randint(created, min(due, 0)) if self.rnd() < 0.2 else None
        elif x < 0.16:
            due = randint(HOUR, 30 * DAY)
            created, done = max(c, -randint(HOUR, 10 * DAY)), None
        elif x < 0.24:
            due = randint(max(c + HOUR, -30 * DAY), -HOUR)
            created, done = max(c, due - randint(HOUR, 10 * DAY)), None
        else:
            due = randint(c + HOUR, -HOUR)
            created = max(c, due - randint(HOUR, 14 * DAY))
            done = self.done_time(created, due, 0.97)
        deal: _DealState | None = None
        if cust.deals and self.rnd() < 0.65:
            fits = [d for d in cust.deals if d[2] <= created and (done is not None or d[1] == "open")]
            deal = self.pick(fits) if fits else None
        kind = self.pick(TASK_KINDS)
        product = self.products[deal[5][0][0] if deal else int(self.rnd() * len(self.products))][1]
        subject = self.pick(W.TASK_SUBJECTS[kind]).format(
            contact=self.pick(cust.contacts), customer=cust.short, product=product
        )
        owner = deal[4] if deal else cust.owner
        self.add_task(out, kind, subject, due, done, cust, deal[0] if deal else None, owner, created)

    # -- customers' status, notes and orders -------------------------------------

    def finish_customer(self, cust: _Cust, out: _Out) -> None:
        deals, row = cust.deals, cust.row
        won = [d[3] for d in deals if d[1] == "won"]
        has_open = any(d[1] == "open" for d in deals)
        if won:
            churned = not has_open and max(won) < -365 * DAY and self.rnd() < 0.6
            row[11] = "churned" if churned else "customer"
            if not has_open and max(won) < -7 * DAY and self.rnd() < 0.3:  # a repeat order without a deal
                self.order(cust, None, cust.owner, max(won) + self.randint(DAY, -max(won)), None, out)
        elif any(d[1] == "lost" or d[6] > 0 for d in deals):
            row[11] = "prospect"
        row[13] = self.ts(cust.created)
        row[14] = self.ts(max([cust.created, *(d[3] for d in deals)]))
        out["customer"].append(tuple(row))

    def notes_for(self, cust: _Cust, out: _Out) -> None:
        c = cust.created
        for _ in range(self.pick(NOTE_COUNTS)):
            when = self.randint(c, 0)
            deal: _DealState | None = None
            if cust.deals and self.rnd() < 0.4:
                fits = [d for d in cust.deals if d[2] <= when]
                deal = self.pick(fits) if fits else None
            if deal:
                pidx, qty, _unit = deal[5][0]
            else:
                pidx, qty = int(self.rnd() * len(self.products)), self.randint(1, 20)
            body = self.pick(W.NOTE_TEXTS).format(
                contact=self.pick(cust.contacts),
                qty=qty,
                product=self.products[pidx][1],
                industry=cust.industry.lower(),
            )
            out["note"].append(
                (
                    self.new_id["note"](),
                    cust.id,
                    deal[0] if deal else None,
                    body,
                    deal[4] if deal else cust.owner,
                    self.ts(when),
                    None,
                )
            )

    def order(self, cust: _Cust, did: int | None, owner: str, start: int, lines: list[_Line] | None, out: _Out) -> None:
        """An order following a won deal (same lines), or a repeat order without one."""
        randint, ts = self.randint, self.ts
        if lines is None:
            first = int(self.rnd() * len(self.products))
            picked = [first] if self.rnd() < 0.6 else [first, (first + 1 + int(self.rnd() * 5)) % len(self.products)]
            lines = [(p, randint(1, 10), self.products[p][2]) for p in picked]
        oid = self.new_id["sales_order"]()
        created = min(start + randint(0, 3 * DAY), 0)
        approved: int | None = None
        fulfilled: int | None = None
        cancelled: int | None = None
        if self.rnd() < 0.05:
            status, cancelled = "cancelled", min(created + randint(HOUR, 5 * DAY), 0)
        else:
            status, approved = "draft", created + randint(HOUR, 4 * DAY)
            if approved > 0:
                approved = None
            else:
                status, fulfilled = "approved", approved + randint(DAY, 21 * DAY)
                if fulfilled > 0:
                    fulfilled = None
                else:
                    status = "fulfilled"
        last = max(x for x in (created, approved, fulfilled, cancelled) if x is not None)
        out["sales_order"].append(
            (
                oid,
                f"SO-{oid:06d}",
                cust.id,
                did,
                status,
                owner,
                ts(created),
                None if approved is None else ts(approved),
                None if fulfilled is None else ts(fulfilled),
                None if cancelled is None else ts(cancelled),
                ts(last),
                1,
                "USD",
            )
        )
        ol = out["order_line"]
        for pidx, qty, unit in lines:
            ol.append((self.new_id["order_line"](), oid, self.products[pidx][0], qty, unit))


_ID_MODELS = (
    ("customer", models.Customer),
    ("contact", models.Contact),
    ("deal", models.Deal),
    ("deal_product", models.DealProduct),
    ("stage_change", models.StageChange),
    ("task", models.Task),
    ("note", models.Note),
    ("sales_order", models.Order),
    ("order_line", models.OrderLine),
)


def _load_pipeline(
    conn: Connection,
) -> tuple[int | None, list[tuple[int, int | None]], int, int, dict[int, list[_Template]]]:
    """The default pipeline: open stages in order as (id, rot_days), won id, lost id, task templates."""
    P, S, T = models.Pipeline, models.Stage, models.StageTaskTemplate
    pid = conn.execute(select(pk(P.id)).where(col(P.name) == DEFAULT_PIPELINE)).scalar()
    if pid is None:
        pid = conn.execute(select(pk(P.id)).order_by(col(P.position), pk(P.id)).limit(1)).scalar()
    stages = (
        conn.execute(
            select(pk(S.id), col(S.outcome), col(S.rot_days))
            .where(col(S.pipeline_id) == pid)
            .order_by(col(S.position), pk(S.id))
        ).all()
        if pid is not None
        else []
    )
    opens = [(s.id, s.rot_days) for s in stages if s.outcome == "open"]
    won = next((s.id for s in stages if s.outcome == "won"), None)
    lost = next((s.id for s in stages if s.outcome == "lost"), None)
    if not opens or won is None or lost is None:
        raise ValidationError(
            f"the demo needs the '{DEFAULT_PIPELINE}' pipeline with open, won and lost stages; "
            "use a new database file with --db"
        )
    open_ids = {s[0] for s in opens}
    templates: dict[int, list[_Template]] = {}
    for row in conn.execute(
        select(col(T.stage_id), col(T.kind), col(T.subject), col(T.duration_days), col(T.responsible)).order_by(
            col(T.stage_id), col(T.position), pk(T.id)
        )
    ):
        if row.stage_id in open_ids:
            templates.setdefault(row.stage_id, []).append((row.kind, row.subject, row.duration_days, row.responsible))
    return pid, opens, won, lost, templates


def _outcome(kind: str, task_id: int) -> str | None:
    """How a done call, email or meeting went, as its rep logged it. Taken from the task's id, not the
    generator's random stream, so the rest of a seed's book stays what it was before outcomes existed."""
    outcomes = W.OUTCOMES.get(kind)
    return outcomes[(task_id * 2654435761) % 4093 % len(outcomes)] if outcomes else None
