"""Deals: create, edit, move between stages, win, lose, reopen.

Every stage move records a ``StageChange`` and creates the entered stage's
template tasks (the seeds' sales process) for the deal's owner; winning or
losing a deal cancels its open playbook tasks, reopening it brings them back.
Every move, win, lose and reopen may carry the version of the deal the rep
saw: a deal another session moved meanwhile is refused, not moved twice.
Undo goes through the change journal (``services.history``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from crm_tui import journal as jr
from crm_tui import validate as v
from crm_tui.errors import ConflictError, ValidationError
from crm_tui.models import (
    Customer,
    Deal,
    DealProduct,
    Pipeline,
    Product,
    Stage,
    StageChange,
    StageTaskTemplate,
    Task,
    category_of,
    next_category,
)
from crm_tui.services.base import ServiceBase

MOVE_TABLES = {"deal", "stage_change", "task"}


@dataclass(frozen=True)
class MoveResult:
    """What a stage move did (the screen patches the board with it)."""

    deal: Deal
    from_stage: Stage
    to_stage: Stage
    change_id: int
    created_task_ids: tuple[int, ...] = ()
    previous: dict = field(default_factory=dict)
    #: the customer a win made a customer: (name, the status it had), else None
    promoted: tuple[str, str] | None = None


@dataclass(frozen=True)
class LinesResult:
    """What ``set_deal_lines`` did: the deal, its lines' new total, and whether its amount
    followed the lines (False: the amount the rep typed by hand was kept)."""

    deal: Deal
    total_cents: int
    followed: bool
    changed: bool


class DealOps(ServiceBase):
    # -- reading helpers --------------------------------------------------------

    def default_pipeline(self, session: Session) -> Pipeline:
        row = session.exec(
            select(Pipeline).where(Pipeline.archived_at.is_(None)).order_by(Pipeline.position, Pipeline.id)
        ).first()
        if row is None:
            raise ValidationError("there is no pipeline; create one first")
        return row

    def stages_of(self, session: Session, pipeline_id: int) -> list[Stage]:
        return list(
            session.exec(
                select(Stage)
                .where(Stage.pipeline_id == pipeline_id, Stage.archived_at.is_(None))
                .order_by(Stage.position, Stage.id)
            )
        )

    def _stage_by_outcome(self, session: Session, pipeline_id: int, outcome: str) -> Stage:
        for stage in self.stages_of(session, pipeline_id):
            if stage.outcome == outcome:
                return stage
        raise ValidationError(f"this pipeline has no {outcome} stage; add one to close deals")

    # -- create / edit ------------------------------------------------------------

    def _clean_deal(self, session: Session, data: dict, deal: Deal | None = None) -> dict:
        out: dict = {}
        for key, value in data.items():
            if key == "title":
                out[key] = v.text(value, "title", required=True)
            elif key == "amount":
                out["amount_cents"] = v.money(value, "amount")
            elif key == "amount_cents":
                out[key] = v.positive_int(value, "amount", minimum=0, maximum=10**15)
            elif key == "probability":
                out[key] = v.percent(value)
            elif key == "expected_close":
                out[key] = v.date(value, "expected close date")
            elif key in ("owner", "currency", "external_id"):
                out[key] = v.text(value, key.replace("_", " ")) or (None if key == "external_id" else "")
            elif key == "forecast_category":
                out[key] = _category(value)
            elif key == "customer_id":
                if value in (None, ""):
                    out[key] = None
                else:
                    self._get(session, Customer, value)
                    out[key] = value
            else:
                raise ValidationError(
                    f"deals have no editable field '{key}'; use title, amount, probability, expected_close, "
                    "owner, currency, customer_id, external_id, forecast_category (stages change with move/win/lose)"
                )
        if "currency" in out:
            from crm_tui.money import currency_code

            code = currency_code(out["currency"] or self._home_currency(session))
            if code is None:
                raise ValidationError(
                    f"a deal's currency is a 3-letter code such as USD or EUR, not {out['currency']!r}",
                    field="currency",
                )
            out["currency"] = code
        return out

    @staticmethod
    def _home_currency(session: Session) -> str:
        """The database's home currency: a new deal's, unless it names its own."""
        from crm_tui.models import Meta
        from crm_tui.money import DEFAULT_HOME, HOME_KEY

        meta = session.get(Meta, HOME_KEY)
        return (meta.value if meta is not None else DEFAULT_HOME).upper()

    def create_deal(
        self,
        title: str,
        *,
        customer_id: int | None = None,
        amount=0,
        stage_id: int | None = None,
        pipeline_id: int | None = None,
        products: list[tuple[int, int] | tuple[int, int, object]] | None = None,
        **fields,
    ) -> Deal:
        """A new open deal (first open stage of the pipeline unless ``stage_id``).

        ``products`` is a list of (product_id, quantity[, unit price]); when given
        and ``amount`` is 0, the amount is the sum of the lines.
        """
        fields.setdefault("owner", self.user)
        now = self.now()
        with self._write({"deal", "stage_change", "task", "deal_product"}, "create") as session:
            fields.setdefault("currency", "")  # blank: the home currency
            data = self._clean_deal(session, {"title": title, "amount": amount, "customer_id": customer_id, **fields})
            self._say(session, f"add deal '{data['title']}'")
            if stage_id is not None:
                stage = self._get(session, Stage, stage_id)
                if pipeline_id is not None and stage.pipeline_id != pipeline_id:
                    raise ValidationError("that stage belongs to another pipeline; pick a stage of this pipeline")
            else:
                pipeline = self._get(session, Pipeline, pipeline_id) if pipeline_id else self.default_pipeline(session)
                stage = self._stage_by_outcome(session, pipeline.id, "open")
            lines = self._clean_lines(session, products or [])
            if lines and not data.get("amount_cents"):
                data["amount_cents"] = sum(q * p for _pid, q, p in lines)
            deal = Deal(
                **data,
                pipeline_id=stage.pipeline_id,
                stage_id=stage.id,
                created_at=now,
                updated_at=now,
                stage_entered_at=now,
                closed_at=now if stage.outcome != "open" else None,
            )
            session.add(deal)
            session.flush()
            for product_id, qty, price in lines:
                session.add(DealProduct(deal_id=deal.id, product_id=product_id, quantity=qty, unit_price_cents=price))
            session.add(StageChange(deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id, at=now, by=self.user))
            self._create_stage_tasks(session, deal, stage)
            session.flush()
            return deal

    def _clean_lines(self, session: Session, products) -> list[tuple[int, int, int]]:
        lines = []
        for item in products:
            product_id, qty = item[0], item[1]
            product = self._get(session, Product, product_id)
            quantity = v.positive_int(qty, "quantity")
            price = (
                v.money(item[2], "unit price") if len(item) > 2 and item[2] is not None else product.unit_price_cents
            )
            lines.append((product.id, quantity, price))
        return lines

    def update_deal(self, deal_id: int, *, expected_version: int | None = None, **fields) -> Deal:
        with self._write({"deal"}, "edit") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_version(deal, expected_version)
            data = self._clean_deal(session, fields, deal)
            self._say(session, f"edit deal '{deal.title}' ({self._changed_fields(deal, data)})")
            for key, value in data.items():
                setattr(deal, key, value)
            self._touch(deal)
            session.flush()
            return deal

    def set_forecast_category(self, deal_id: int, category: str | None, *, expected_version: int | None = None) -> Deal:
        """Put an open deal in a forecast category (pipeline, best case, commit), or back in the
        one its probability gives (None or blank)."""
        return self._categorise(deal_id, lambda _deal, _stage: _category(category), expected_version)

    def next_forecast_category(self, deal_id: int) -> Deal:
        """Move an open deal to the category after the one it is in now, as the database has it
        (the board's ``F``: presses typed in one burst each take the next step, none is refused
        as a stale edit)."""

        def following(deal: Deal, stage: Stage | None) -> str:
            probability = deal.probability if deal.probability is not None else stage.probability if stage else 0
            return next_category(category_of(deal.forecast_category, probability))

        return self._categorise(deal_id, following, None)

    def _categorise(
        self, deal_id: int, choose: Callable[[Deal, Stage | None], str | None], expected_version: int | None
    ) -> Deal:
        with self._write({"deal"}, "edit") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_version(deal, expected_version)
            stage = session.get(Stage, deal.stage_id)
            if stage is not None and stage.outcome != "open":
                raise ValidationError(
                    f"'{deal.title}' is {stage.outcome}: a closed deal's forecast category is its outcome; "
                    "reopen it to change it"
                )
            chosen = choose(deal, stage)
            said = (chosen or "its stage's default").replace("_", " ")
            self._say(session, f"set forecast category of deal '{deal.title}' to {said}")
            deal.forecast_category = chosen
            self._touch(deal)
            session.flush()
            return deal

    def set_deal_lines(self, deal_id: int, lines, *, expected_version: int | None = None) -> LinesResult:
        """Make the deal's product lines exactly ``lines`` ((product_id, quantity[, unit price])
        items, as ``create_deal(products=...)`` takes them; none clears them) in one change,
        undone as one.

        The amount follows the lines unless the rep set it by hand: when the lines change and
        the amount equalled the old lines' total (or the deal had no lines), it becomes the new
        total; otherwise the typed amount stays (``LinesResult.followed`` is False)."""
        with self._write({"deal", "deal_product"}, "edit") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_version(deal, expected_version)
            clean = self._clean_lines(session, lines)
            stored = list(
                session.exec(select(DealProduct).where(DealProduct.deal_id == deal_id).order_by(DealProduct.id))
            )
            old_total = sum(line.quantity * line.unit_price_cents for line in stored)
            new_total = sum(q * p for _pid, q, p in clean)
            before = [(line.product_id, line.quantity, line.unit_price_cents) for line in stored]
            changed = before != clean
            follows = not stored or deal.amount_cents == old_total
            self._say(session, f"edit deal '{deal.title}' product lines", record=("deal", deal.id))
            if changed:
                for line, (product_id, qty, price) in zip(stored, clean):
                    line.product_id, line.quantity, line.unit_price_cents = product_id, qty, price
                for product_id, qty, price in clean[len(stored) :]:
                    session.add(
                        DealProduct(deal_id=deal_id, product_id=product_id, quantity=qty, unit_price_cents=price)
                    )
                for line in stored[len(clean) :]:
                    session.delete(line)
                if follows:
                    deal.amount_cents = new_total
                self._touch(deal)
            session.flush()
            return LinesResult(deal, new_total, follows, changed)

    def delete_deal(self, deal_id: int) -> Deal:
        with self._write({"deal"}, "delete") as session:
            deal = self._get(session, Deal, deal_id)
            self._say(session, f"delete deal '{deal.title}'")
            deal.deleted_at = self.now()
            self._touch(deal)
            return deal

    def restore_deal(self, deal_id: int) -> Deal:
        with self._write({"deal"}, "restore") as session:
            deal = self._get(session, Deal, deal_id, live=False)
            self._say(session, f"restore deal '{deal.title}'")
            deal.deleted_at = None
            self._touch(deal)
            return deal

    # -- stage moves ----------------------------------------------------------------

    def move_deal(
        self, deal_id: int, stage_id: int, *, lost_reason: str = "", expected_version: int | None = None
    ) -> MoveResult:
        """Move a deal to any stage of its pipeline (won/lost stages close it)."""
        with self._write(MOVE_TABLES, "move") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_move(deal, expected_version)
            target = self._get(session, Stage, stage_id)
            return self._move(session, deal, target, lost_reason=lost_reason)

    def move_deal_to_pipeline(self, deal_id: int, stage_id: int, *, expected_version: int | None = None) -> MoveResult:
        """Move an open deal into an open stage of another pipeline: a stage change like any
        other (recorded, the stage's template tasks created, undone with ctrl+z). Its open
        tasks stay with it. A won or lost deal is refused: reopen it first."""
        with self._write(MOVE_TABLES, "move") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_move(deal, expected_version)
            current = self._get(session, Stage, deal.stage_id)
            if current.outcome != "open":
                raise ValidationError(
                    f"'{deal.title}' is {current.outcome}; only an open deal moves to another pipeline "
                    "(reopen it first with r)"
                )
            target = self._get(session, Stage, stage_id)
            if target.pipeline_id == deal.pipeline_id:
                raise ValidationError(
                    f"{target.name} is in this deal's own pipeline; move it between stages with H and L"
                )
            if target.outcome != "open":
                raise ValidationError("move the deal into an open stage of the other pipeline, then win or lose it")
            pipeline = self._get(session, Pipeline, target.pipeline_id)
            if pipeline.archived_at is not None:
                raise ValidationError(f"the pipeline {pipeline.name} is no longer in use; pick another one")
            deal.pipeline_id = target.pipeline_id
            result = self._move(session, deal, target)
            self._say(session, f"move '{deal.title}' to {pipeline.name} · {target.name}", record=("deal", deal.id))
            result.previous["pipeline_id"] = current.pipeline_id
            return result

    def move_deal_step(self, deal_id: int, step: int, *, expected_version: int | None = None) -> MoveResult:
        """Move to the next (+1) or previous (-1) open stage, as H/L do on the board."""
        with self._write(MOVE_TABLES, "move") as session:
            return self._step(session, deal_id, step, expected_version)

    def rehearse_move(self) -> bool:
        """An L press on one open deal, rolled back: nothing is kept and nobody is told, but
        every statement a move runs is compiled and cached, so the first move a user makes
        is as quick as the rest. False when there is no deal to rehearse with."""
        with self.db.write(MOVE_TABLES, keep=False) as session:
            jr.declare(session, jr.Action("move", "rehearsal", who=self.user, at=self.now()))
            deal_id = session.exec(
                select(Deal.id)
                .join(Stage, Stage.id == Deal.stage_id)
                .where(Deal.deleted_at.is_(None), Stage.outcome == "open")
                .limit(1)
            ).first()
            if deal_id is None:
                return False
            try:
                self._step(session, deal_id, 1)
            except ValidationError:  # the last open stage: rehearse a step back (a one-stage pipeline: none)
                try:
                    self._step(session, deal_id, -1)
                except ValidationError:
                    return False
            return True

    def _step(self, session: Session, deal_id: int, step: int, expected_version: int | None = None) -> MoveResult:
        """One stage along the open stages; a refusal comes before anything is written."""
        deal = self._get(session, Deal, deal_id)
        self._check_move(deal, expected_version)
        current = self._get(session, Stage, deal.stage_id)
        if current.outcome != "open":
            raise ValidationError(f"'{deal.title}' is {current.outcome}; reopen it before moving it between stages")
        open_stages = [s for s in self.stages_of(session, deal.pipeline_id) if s.outcome == "open"]
        index = next(i for i, s in enumerate(open_stages) if s.id == current.id) + step
        if index < 0:
            raise ValidationError(f"{current.name} is the first stage; there is no earlier one")
        if index >= len(open_stages):
            raise ValidationError(f"{current.name} is the last open stage; win (w) or lose (x) the deal instead")
        return self._move(session, deal, open_stages[index])

    def win_deal(self, deal_id: int, *, expected_version: int | None = None) -> MoveResult:
        with self._write(MOVE_TABLES, "win") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_move(deal, expected_version)
            return self._move(session, deal, self._stage_by_outcome(session, deal.pipeline_id, "won"))

    def lose_deal(self, deal_id: int, reason: str, *, expected_version: int | None = None) -> MoveResult:
        reason = v.text(reason, "lost reason", required=True, max_len=500)
        with self._write(MOVE_TABLES, "lose") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_move(deal, expected_version)
            return self._move(
                session, deal, self._stage_by_outcome(session, deal.pipeline_id, "lost"), lost_reason=reason
            )

    def reopen_deal(
        self, deal_id: int, stage_id: int | None = None, *, expected_version: int | None = None
    ) -> MoveResult:
        """Reopen a won or lost deal into ``stage_id`` or the last open stage it was in."""
        with self._write(MOVE_TABLES, "reopen") as session:
            deal = self._get(session, Deal, deal_id)
            self._check_move(deal, expected_version)
            current = self._get(session, Stage, deal.stage_id)
            if current.outcome == "open":
                raise ValidationError(f"'{deal.title}' is already open (in {current.name})")
            if stage_id is None:
                target = self._last_open_stage(session, deal)
            else:
                target = self._get(session, Stage, stage_id)
                if target.outcome != "open":
                    raise ValidationError("reopen into an open stage, not a won or lost one")
            return self._move(session, deal, target)

    def _last_open_stage(self, session: Session, deal: Deal) -> Stage:
        history = session.exec(
            select(Stage)
            .join(StageChange, StageChange.to_stage_id == Stage.id)
            .where(StageChange.deal_id == deal.id, Stage.outcome == "open")
            .order_by(StageChange.at.desc(), StageChange.id.desc())
        ).first()
        return history or self._stage_by_outcome(session, deal.pipeline_id, "open")

    def _move(self, session: Session, deal: Deal, target: Stage, *, lost_reason: str = "") -> MoveResult:
        current = self._get(session, Stage, deal.stage_id)
        if target.pipeline_id != deal.pipeline_id:
            raise ValidationError("that stage belongs to another pipeline; pick a stage of this deal's pipeline")
        if target.id == current.id:
            raise ValidationError(f"'{deal.title}' is already in {target.name}")
        if target.archived_at is not None:
            raise ValidationError(f"the stage {target.name} was removed from the pipeline; pick another stage")
        if target.outcome == "lost" and not lost_reason.strip():
            raise ValidationError("say why the deal was lost (a lost reason is required)")
        now = self.now()
        previous = {
            "stage_id": deal.stage_id,
            "stage_entered_at": deal.stage_entered_at,
            "closed_at": deal.closed_at,
            "lost_reason": deal.lost_reason,
            "version": deal.version,
        }
        verb = jr.declared(session)
        kind = verb.kind if verb is not None else "move"
        if kind == "win":
            label = f"win '{deal.title}'"
        elif kind == "lose":
            label = f"lose '{deal.title}' ({lost_reason.strip()})"
        elif kind == "reopen":
            label = f"reopen '{deal.title}' in {target.name}"
        else:
            label = f"move '{deal.title}' from {current.name} to {target.name}"
        self._say(session, label, record=("deal", deal.id))
        self._close_playbook(session, deal, current, target, now)
        deal.stage_id = target.id
        deal.stage_entered_at = now
        deal.closed_at = now if target.outcome != "open" else None
        deal.lost_reason = lost_reason.strip() if target.outcome == "lost" else ""
        self._touch(deal)
        change = StageChange(deal_id=deal.id, from_stage_id=current.id, to_stage_id=target.id, at=now, by=self.user)
        session.add(change)
        session.flush()
        task_ids = self._create_stage_tasks(session, deal, target)
        return MoveResult(
            deal, current, target, change.id, tuple(task_ids), previous, self._promote(session, deal, target)
        )

    def _promote(self, session: Session, deal: Deal, target: Stage) -> tuple[str, str] | None:
        """The rule a rep sees in the win's message: a won deal makes its lead, prospect or churned
        customer a customer (in the same transaction, so ctrl+z on the win takes it back too). The
        status stays editable by hand; reopening or losing the deal leaves it as it is."""
        if target.outcome != "won" or deal.customer_id is None:
            return None
        customer = session.get(Customer, deal.customer_id)
        if customer is None or customer.deleted_at is not None or customer.status == "customer":
            return None
        was = customer.status
        customer.status = "customer"
        self._touch(customer)
        return customer.name, was

    def _check_move(self, deal: Deal, expected: int | None) -> None:
        """A move, win or lose from a screen carries the version it showed: refuse when another
        session moved or edited the deal since, saying where it is now."""
        if expected is not None and deal.version != expected:
            raise ConflictError(
                f"'{deal.title}' was changed in another session since you saw it; nothing was moved — "
                "look at where it is now and try again",
                current=deal.model_dump(),
            )

    def _close_playbook(self, session: Session, deal: Deal, current: Stage, target: Stage, now: dt.datetime) -> None:
        """Won or lost: the deal's open playbook tasks (made from stage templates) are cancelled —
        kept, hidden like deleted ones, marked with the close time. Reopened: the tasks its close
        cancelled come back."""
        if current.outcome == "open" and target.outcome != "open":
            tasks = session.exec(
                select(Task).where(
                    Task.deal_id == deal.id,
                    Task.template_id.is_not(None),
                    Task.done_at.is_(None),
                    Task.deleted_at.is_(None),
                )
            ).all()
            for task in tasks:
                task.cancelled_at = task.deleted_at = now
                self._touch(task)
        elif current.outcome != "open" and target.outcome == "open" and deal.closed_at is not None:
            tasks = session.exec(select(Task).where(Task.deal_id == deal.id, Task.cancelled_at == deal.closed_at)).all()
            for task in tasks:
                task.cancelled_at = task.deleted_at = None
                self._touch(task)

    def _create_stage_tasks(self, session: Session, deal: Deal, stage: Stage) -> list[int]:
        templates = session.exec(
            select(StageTaskTemplate)
            .where(StageTaskTemplate.stage_id == stage.id, StageTaskTemplate.archived_at.is_(None))
            .order_by(StageTaskTemplate.position, StageTaskTemplate.id)
        ).all()
        present = (
            set(
                session.exec(
                    select(Task.template_id).where(
                        Task.deal_id == deal.id, Task.done_at.is_(None), Task.deleted_at.is_(None)
                    )
                ).all()
            )
            if templates
            else set()
        )
        ids = []
        for tpl in templates:
            if tpl.id in present:  # still open from an earlier visit of the stage, or back with a reopen
                continue
            task = Task(
                kind=tpl.kind,
                subject=tpl.subject,
                due_at=deal.stage_entered_at + dt.timedelta(days=tpl.duration_days),
                owner=tpl.responsible or deal.owner,
                deal_id=deal.id,
                customer_id=deal.customer_id,
                template_id=tpl.id,
                created_at=self.now(),
                updated_at=self.now(),
            )
            session.add(task)
            session.flush()
            ids.append(task.id)
        return ids


def _category(value: object) -> str | None:
    """A forecast category as typed ("best case", "Best_Case", "commit"), or None for blank."""
    from crm_tui.models import FORECAST_CATEGORIES

    text = str(value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if not text:
        return None
    if text not in FORECAST_CATEGORIES:
        raise ValidationError(
            f"forecast category must be pipeline, best case or commit (blank: the stage's default), not {value!r}"
        )
    return text
