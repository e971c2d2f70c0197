"""The SQL of the kept figures (``crm_tui.kept`` says what they are and why): the triggers that keep
them, their tables' DDL and the selects that recompute them from the records, written once for
both engines (``Sql``: the few expressions that differ between SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

#: a won deal's furthest position: beyond every open stage (``metrics.deals`` reads it as such)
WON_REACH = 1_000_000
#: fig_state's count of the writes that rewrote purchases (``fig_buyer``): what is worked out from the
#: purchases alone (the RFM segments) still holds while it stands (``metrics.segments``)
BUYER_CHANGES = "buyer_changes"
COUNT_BUYER_CHANGE = (
    f"INSERT INTO fig_state (key, value) SELECT '{BUYER_CHANGES}', 1 WHERE true "
    "ON CONFLICT (key) DO UPDATE SET value = fig_state.value + 1"
)
DEAL_SUMS = ("n", "value", "override_cp", "default_amount", "cycle_secs", "cycle_n")
#: the columns a customer's purchases are made of
_BUYER_COLUMNS = ("stage_id", "amount_cents", "currency", "closed_at", "stage_entered_at", "deleted_at", "customer_id")
_DEMAND_COLUMNS = ("stage_id", "owner", "deleted_at", "customer_id")
_TASK_COLUMNS = ("owner", "kind", "outcome", "done_at", "due_at", "deleted_at", "customer_id", "deal_id")
_ORDER_COLUMNS = ("status", "currency", "customer_id", "deal_id", "fulfilled_at", "created_at")
#: the deal columns a figure is made of: an update of any other column fires nothing
_DEAL_COLUMNS = (
    "stage_id",
    "owner",
    "currency",
    "closed_at",
    "created_at",
    "amount_cents",
    "probability",
    "deleted_at",
    "customer_id",
)


#: the deal columns the forecast reads (``forecast_read``): an update of any other fires no feed
FEED_COLUMNS = (
    "pipeline_id",
    "stage_id",
    "amount_cents",
    "currency",
    "created_at",
    "closed_at",
    "expected_close",
    "deleted_at",
    "customer_id",
)
#: a change to every deal at once in ``fig_feed`` (a price, a paused bulk write)
EVERY_DEAL = "INSERT INTO fig_feed (deal_id) VALUES (NULL)"
#: how many of the newest ``fig_feed`` rows are kept (a reader further behind reads every deal)
FEED_KEPT = 10_000


@dataclass(frozen=True)
class Sql:
    """The few expressions that differ between the engines."""

    pg: bool

    def day(self, x: str) -> str:
        if self.pg:
            return f"COALESCE(to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '')"
        return f"COALESCE(substr({x}, 1, 10), '')"

    def month(self, x: str) -> str:
        """'YYYY-MM' (UTC) of moment ``x``; NULL stays NULL."""
        if self.pg:
            return f"to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM')"
        return f"substr({x}, 1, 7)"

    def touch(self, month: str, where: str = "", n: str = "1", source: str = "") -> str:
        """Count a change concerning ``month`` (an expression; NULL: none) in ``fig_touch``."""
        cond = f"m IS NOT NULL{f' AND ({where})' if where else ''}"
        return (
            f"INSERT INTO fig_touch (month, n) SELECT m, k FROM (SELECT {month} AS m, {n} AS k{source}) t "
            f"WHERE {cond} ON CONFLICT (month) DO UPDATE SET n = fig_touch.n + excluded.n"
        )

    def touches(self) -> list[tuple[str, str, str, str, list[str]]]:
        """The triggers of ``fig_touch`` (what the learned forecast reads: a deal's existence and
        creation, its close and outcome, its amount once closed, its currency, its stage history,
        its lines; prices, rates and stages' outcomes concern every month)."""
        every = self.touch("'0000-00'")
        exists = ("created_at", "deleted_at", "customer_id", "currency")
        closes = ("closed_at", "stage_id", "amount_cents")
        created = "(SELECT d.created_at FROM deal d WHERE d.id = {}.deal_id)"
        return [
            ("touch_deal_ins", "deal", "INSERT", "", [self.touch(self.month("NEW.created_at"))]),
            ("touch_deal_del", "deal", "DELETE", "", [self.touch(self.month("OLD.created_at"))]),
            ("touch_deal_upd", "deal", "UPDATE OF " + ", ".join(exists + closes), self.changed(exists + closes), [
                self.touch(self.month("OLD.created_at"), self.changed(exists)),
                self.touch(self.month("NEW.created_at"), self.changed(("created_at",))),
                self.touch(self.month("OLD.closed_at"), self.changed(closes)),
                self.touch(self.month("NEW.closed_at"), self.changed(closes)),
            ]),
            ("touch_customer_upd", "customer", "UPDATE OF deleted_at",
             "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)",
             [self.touch(self.month("d.created_at"), n="COUNT(*)",
                         source=" FROM deal d WHERE d.customer_id = NEW.id GROUP BY 1")]),
            ("touch_history_ins", "stage_change", "INSERT", "", [self.touch(self.month("NEW.at"))]),
            ("touch_history_del", "stage_change", "DELETE", "", [self.touch(self.month("OLD.at"))]),
            ("touch_history_upd", "stage_change", "UPDATE", "", [
                self.touch(self.month("OLD.at")), self.touch(self.month("NEW.at"))]),
            ("touch_line_ins", "deal_product", "INSERT", "", [self.touch(self.month(created.format("NEW")))]),
            ("touch_line_del", "deal_product", "DELETE", "", [self.touch(self.month(created.format("OLD")))]),
            ("touch_line_upd", "deal_product", "UPDATE", "", [
                self.touch(self.month(created.format("OLD"))), self.touch(self.month(created.format("NEW")))]),
            ("touch_price_upd", "product", "UPDATE OF unit_price_cents, currency",
             self.changed(("unit_price_cents", "currency")), [every]),
            ("touch_rate_ins", "currency_rate", "INSERT", "", [every]),
            ("touch_rate_del", "currency_rate", "DELETE", "", [every]),
            ("touch_rate_upd", "currency_rate", "UPDATE", "", [every]),
            ("touch_stage_upd", "stage", "UPDATE OF outcome, pipeline_id", self.changed(("outcome", "pipeline_id")),
             [every]),
        ]  # fmt: skip

    def feeds(self) -> list[tuple[str, str, str, str, list[str]]]:
        """The triggers of ``fig_feed`` (SQLite only: ``models.FIG_FEED``): the deals whose row, stage
        history, lines or customer's deletion changed what the forecast reads of them; a price
        change concerns every deal (a NULL). Stages and rates are read afresh each time."""
        if self.pg:
            return []

        def feed(deal: str, source: str = "") -> str:
            return f"INSERT INTO fig_feed (deal_id) SELECT {deal}{source}"

        return [
            ("feed_deal_ins", "deal", "INSERT", "", [feed("NEW.id")]),
            ("feed_deal_del", "deal", "DELETE", "", [feed("OLD.id")]),
            ("feed_deal_upd", "deal", "UPDATE OF " + ", ".join(FEED_COLUMNS), self.changed(FEED_COLUMNS),
             [feed("NEW.id"), feed("OLD.id", " WHERE OLD.id <> NEW.id")]),
            ("feed_customer_upd", "customer", "UPDATE OF deleted_at",
             "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)",
             [feed("d.id", " FROM deal d WHERE d.customer_id = NEW.id")]),
            ("feed_history_ins", "stage_change", "INSERT", "", [feed("NEW.deal_id")]),
            ("feed_history_del", "stage_change", "DELETE", "", [feed("OLD.deal_id")]),
            ("feed_history_upd", "stage_change", "UPDATE", "", [
                feed("NEW.deal_id"), feed("OLD.deal_id", " WHERE OLD.deal_id <> NEW.deal_id")]),
            ("feed_line_ins", "deal_product", "INSERT", "", [feed("NEW.deal_id")]),
            ("feed_line_del", "deal_product", "DELETE", "", [feed("OLD.deal_id")]),
            ("feed_line_upd", "deal_product", "UPDATE", "", [
                feed("NEW.deal_id"), feed("OLD.deal_id", " WHERE OLD.deal_id <> NEW.deal_id")]),
            ("feed_price_upd", "product", "UPDATE OF unit_price_cents, currency",
             self.changed(("unit_price_cents", "currency")), [EVERY_DEAL]),
        ]  # fmt: skip

    def secs(self, x: str) -> str:
        if self.pg:
            return f"CAST(floor(extract(epoch from {x})) AS BIGINT)"
        return f"CAST(strftime('%s', {x}) AS INTEGER)"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"max({a}, {b})"

    def big(self, x: str) -> str:
        return f"CAST({x} AS BIGINT)"

    # -- one deal row ``r`` (NEW, OLD or a table alias) ------------------------------------

    @staticmethod
    def live(r: str) -> str:
        return (
            f"{r}.deleted_at IS NULL AND ({r}.customer_id IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM customer c WHERE c.id = {r}.customer_id AND c.deleted_at IS NOT NULL))"
        )

    def reach(self, r: str) -> str:
        hist = f"COALESCE((SELECT dr.position FROM deal_reach dr WHERE dr.deal_id = {r}.id), -1)"
        current = (
            f"COALESCE((SELECT s.position FROM stage s WHERE s.id = {r}.stage_id AND s.outcome = 'open' "
            "AND s.archived_at IS NULL), -1)"
        )
        won = f"EXISTS (SELECT 1 FROM stage s WHERE s.id = {r}.stage_id AND s.outcome = 'won')"
        return f"CASE WHEN {won} THEN {WON_REACH} ELSE {self.greatest(hist, current)} END"

    def deal_values(self, r: str, sign: str, grouped: bool) -> list[str]:
        """The fig_deal measures of row ``r`` (or, ``grouped``, summed over a group) times ``sign``."""
        closed = f"{r}.closed_at IS NOT NULL"
        parts = [
            "1",
            f"{r}.amount_cents",
            f"CASE WHEN {r}.probability IS NOT NULL THEN {self.big(f'{r}.amount_cents')} * {r}.probability ELSE 0 END",
            f"CASE WHEN {r}.probability IS NULL THEN {r}.amount_cents ELSE 0 END",
            f"CASE WHEN {closed} THEN {self.secs(f'{r}.closed_at')} - {self.secs(f'{r}.created_at')} ELSE 0 END",
            f"CASE WHEN {closed} THEN 1 ELSE 0 END",
        ]
        if grouped:
            parts = [f"COALESCE(SUM({self.big(p)}), 0)" for p in parts]
        return [f"{sign} * {p}" if sign != "1" else p for p in parts]

    # -- statements ------------------------------------------------------------------------

    def add_deal(self, r: str, sign: str, where: str, *, source: str = "", grouped: bool = False) -> str:
        """Add ``sign`` × the figures of ``r`` (rows of ``source`` matching ``where``) to fig_deal."""
        keys = [f"{r}.stage_id", f"{r}.owner", f"{r}.currency", self.day(f"{r}.closed_at")]
        group = " GROUP BY 1, 2, 3, 4" if grouped else ""
        sets = ", ".join(f"{c} = fig_deal.{c} + excluded.{c}" for c in DEAL_SUMS)
        return (
            "INSERT INTO fig_deal (stage_id, owner, currency, day, " + ", ".join(DEAL_SUMS) + ") "
            f"SELECT {', '.join(keys + self.deal_values(r, sign, grouped))}{source} WHERE {where}{group} "
            f"ON CONFLICT (stage_id, owner, currency, day) DO UPDATE SET {sets}"
        )

    def add_reach(self, r: str, sign: str, where: str, *, source: str = "", grouped: bool = False) -> str:
        keys = [f"{r}.stage_id", f"{r}.owner", self.day(f"{r}.closed_at"), self.reach(r)]
        n = "COUNT(*)" if grouped else "1"
        group = " GROUP BY 1, 2, 3, 4" if grouped else ""
        value = n if sign == "1" else f"{sign} * {n}"
        return (
            "INSERT INTO fig_reach (stage_id, owner, day, reach, n) "
            f"SELECT {', '.join(keys)}, {value}{source} WHERE {where}{group} "
            "ON CONFLICT (stage_id, owner, day, reach) DO UPDATE SET n = fig_reach.n + excluded.n"
        )

    @staticmethod
    def reach_select(where: str = "") -> str:
        """(deal, furthest open position in its history) per deal with any."""
        return (
            "SELECT sc.deal_id, MAX(s.position) FROM stage_change sc JOIN stage s ON s.id = sc.to_stage_id "
            f"WHERE s.outcome = 'open' AND s.archived_at IS NULL{where} GROUP BY sc.deal_id"
        )

    def refresh_reach(self, deal: str) -> list[str]:
        """Statements that recompute one deal's furthest position and move its fig_reach cell."""
        one = f"d.id = {deal} AND {self.live('d')}"
        return [
            self.add_reach("d", "-1", one, source=" FROM deal d"),
            f"DELETE FROM deal_reach WHERE deal_id = {deal}",
            f"INSERT INTO deal_reach (deal_id, position) {self.reach_select(f' AND sc.deal_id = {deal}')}",
            self.add_reach("d", "1", one, source=" FROM deal d"),
        ]

    def changed(self, columns: Sequence[str]) -> str:
        op = "IS DISTINCT FROM" if self.pg else "IS NOT"
        return " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in columns)

    @staticmethod
    def buyer_rows(who: str | None = None, *, eq: str | None = None) -> str:
        """(customer, currency, purchases, Σ value, last purchase) of live customers — of those
        ``who`` selects, or the one ``eq`` is (None: all): their won deals and the fulfilled
        orders not from a won deal."""

        def won(r: str) -> str:  # a scalar look-up, so no planner starts from the stages
            return f"(SELECT s.outcome FROM stage s WHERE s.id = {r}.stage_id AND s.archived_at IS NULL) = 'won'"

        def only(column: str) -> str:
            if eq is not None:  # an equality: every engine seeks the customer's index, whatever its statistics
                return f" AND {column} = {eq}"
            return f" AND {column} IN ({who})" if who else ""

        deals = (
            "SELECT d.customer_id AS customer_id, d.currency AS currency, d.amount_cents AS value, "
            "COALESCE(d.closed_at, d.stage_entered_at) AS at FROM deal d "
            f"WHERE d.customer_id IS NOT NULL AND d.deleted_at IS NULL AND {won('d')}{only('d.customer_id')}"
        )
        from_won_deal = (
            f"SELECT 1 FROM deal d2 WHERE d2.id = o.deal_id AND d2.deleted_at IS NULL AND {won('d2')} AND "
            "(d2.customer_id IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM customer c2 WHERE c2.id = d2.customer_id AND c2.deleted_at IS NOT NULL))"
        )
        orders = (
            "SELECT o.customer_id, o.currency, COALESCE((SELECT SUM(CAST(l.quantity AS BIGINT) * l.unit_price_cents) "
            "FROM order_line l WHERE l.order_id = o.id), 0), COALESCE(o.fulfilled_at, o.created_at) FROM sales_order o "
            f"WHERE o.status = 'fulfilled'{only('o.customer_id')} AND NOT EXISTS ({from_won_deal})"
        )
        return (
            "SELECT p.customer_id, p.currency, COUNT(*), SUM(p.value), MAX(p.at) "
            f"FROM ({deals} UNION ALL {orders}) p WHERE NOT EXISTS "
            "(SELECT 1 FROM customer c WHERE c.id = p.customer_id AND c.deleted_at IS NOT NULL) "
            "GROUP BY p.customer_id, p.currency"
        )

    def refresh_buyers(self, who: str) -> list[str]:
        """Statements that recompute the purchases of the customers ``who`` selects (a bulk write)."""
        return [
            f"DELETE FROM fig_buyer WHERE customer_id IN ({who})",
            f"INSERT INTO fig_buyer (customer_id, currency, n, value, last_at) {self.buyer_rows(who)}",
            COUNT_BUYER_CHANGE,
        ]

    def refresh_buyer(self, *customers: str) -> list[str]:
        """Statements that recompute the purchases of each customer (an expression each; NULL: none)."""
        out = []
        for x in customers:
            out.append(f"DELETE FROM fig_buyer WHERE customer_id = {x}")
            out.append(f"INSERT INTO fig_buyer (customer_id, currency, n, value, last_at) {self.buyer_rows(eq=x)}")
        return [*out, COUNT_BUYER_CHANGE] if out else out

    def order_buyers(self, deal: str, other_than: str) -> tuple[str, str]:
        """The customers of a deal's orders other than ``other_than`` (an order may name another
        customer than its deal's): the least and the greatest, NULL when none."""
        op = "IS DISTINCT FROM" if self.pg else "IS NOT"
        pick = f"FROM sales_order o WHERE o.deal_id = {deal} AND o.customer_id {op} {other_than}"
        return f"(SELECT MIN(o.customer_id) {pick})", f"(SELECT MAX(o.customer_id) {pick})"

    def buyer_changed(self) -> str:
        """When a deal's update can change a purchase: only a deal won before or after it is one (or
        decides whether its orders are), so a move between open stages, the board's most common
        write, recomputes nothing. PostgreSQL allows no look-up in a trigger's condition: there
        every such update recomputes."""
        if self.pg:
            return self.changed(_BUYER_COLUMNS)
        won = "(SELECT s.outcome FROM stage s WHERE s.id = {}.stage_id) = 'won'"
        return f"({won.format('OLD')} OR {won.format('NEW')}) AND ({self.changed(_BUYER_COLUMNS)})"

    def unless_same(self, new: str, old: str) -> str:
        op = "IS DISTINCT FROM" if self.pg else "IS NOT"
        return f"(CASE WHEN {new} {op} {old} THEN {new} END)"

    # -- tasks ---------------------------------------------------------------------------

    @staticmethod
    def live_task(r: str) -> str:
        return (
            f"{r}.deleted_at IS NULL AND ({r}.customer_id IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM customer c WHERE c.id = {r}.customer_id AND c.deleted_at IS NOT NULL)) AND "
            f"({r}.deal_id IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM deal dd WHERE dd.id = {r}.deal_id AND dd.deleted_at IS NOT NULL))"
        )

    def select_task(self, r: str, sign: str, where: str, *, source: str = "", grouped: bool = False) -> str:
        """The fig_task cell(s) of the task(s) ``r`` times ``sign``: an open one by its due day, a
        done one by kind, outcome and day done."""
        done = f"{r}.done_at IS NOT NULL"
        keys = [
            f"{r}.owner",
            f"CASE WHEN {done} THEN {r}.kind ELSE '' END",
            f"CASE WHEN {done} THEN COALESCE({r}.outcome, '') ELSE '' END",
            self.day(f"{r}.done_at"),
            f"CASE WHEN {done} THEN '' ELSE {self.day(f'{r}.due_at')} END",
        ]
        parts = [
            "1",
            f"CASE WHEN {done} AND {r}.due_at IS NOT NULL THEN 1 ELSE 0 END",
            f"CASE WHEN {done} AND {r}.due_at IS NOT NULL AND {r}.done_at <= {r}.due_at THEN 1 ELSE 0 END",
        ]
        if grouped:
            parts = [f"COALESCE(SUM({p}), 0)" for p in parts]
        values = [p if sign == "1" else f"{sign} * {p}" for p in parts]
        group = " GROUP BY 1, 2, 3, 4, 5" if grouped else ""
        return f"SELECT {', '.join(keys + values)}{source} WHERE {where}{group}"

    def add_task(self, r: str, sign: str, where: str, *, source: str = "", grouped: bool = False) -> str:
        """Add ``sign`` × the task(s) ``r`` to fig_task."""
        return (
            "INSERT INTO fig_task (owner, kind, outcome, done_day, due_day, n, with_due, on_time) "
            f"{self.select_task(r, sign, where, source=source, grouped=grouped)} "
            "ON CONFLICT (owner, kind, outcome, done_day, due_day) DO UPDATE SET n = fig_task.n + excluded.n, "
            "with_due = fig_task.with_due + excluded.with_due, on_time = fig_task.on_time + excluded.on_time"
        )

    def task_rows(self) -> str:
        """Every fig_task cell computed from the tasks."""
        return self.select_task("t", "1", self.live_task("t"), source=" FROM task t", grouped=True)

    # -- orders and market demand -----------------------------------------------------------

    @staticmethod
    def live_order(r: str) -> str:
        return f"NOT EXISTS (SELECT 1 FROM customer c WHERE c.id = {r}.customer_id AND c.deleted_at IS NOT NULL)"

    @staticmethod
    def add_order(keys: list[str], n: str, value: str, tail: str) -> str:
        """Add (n, value) to the fig_order cell ``keys`` (owner, status, currency); ``tail``: FROM/WHERE."""
        return (
            f"INSERT INTO fig_order (owner, status, currency, n, value) SELECT {', '.join(keys)}, {n}, {value}{tail} "
            "ON CONFLICT (owner, status, currency) DO UPDATE SET n = fig_order.n + excluded.n, "
            "value = fig_order.value + excluded.value"
        )

    def order_value(self, r: str) -> str:
        return (
            f"COALESCE((SELECT SUM({self.big('l.quantity')} * l.unit_price_cents) FROM order_line l "
            f"WHERE l.order_id = {r}.id), 0)"
        )

    def order_cell(self, r: str, sign: str) -> str:
        keys = [f"{r}.owner", f"{r}.status", f"{r}.currency"]
        return self.add_order(keys, sign, f"{sign} * {self.order_value(r)}", f" WHERE {self.live_order(r)}")

    def line_cell(self, order: str, value: str) -> str:
        keys = ["o.owner", "o.status", "o.currency"]
        tail = f" FROM sales_order o WHERE o.id = {order} AND {self.live_order('o')}"
        return self.add_order(keys, "0", value, tail)

    def order_rows(self) -> str:
        return (
            f"SELECT o.owner, o.status, o.currency, COUNT(*), COALESCE(SUM({self.order_value('o')}), 0) "
            f"FROM sales_order o WHERE {self.live_order('o')} GROUP BY 1, 2, 3"
        )

    @staticmethod
    def add_demand(select: str) -> str:
        return (
            f"INSERT INTO fig_demand (product_id, stage_id, owner, quantity) {select} "
            "ON CONFLICT (product_id, stage_id, owner) DO UPDATE SET quantity = fig_demand.quantity + excluded.quantity"
        )

    def deal_demand(self, r: str, sign: str, where: str, *, source: str = "") -> str:
        """The lines of deal(s) ``r`` (``source`` names them, joined as ``dp``) times ``sign``."""
        return self.add_demand(
            f"SELECT dp.product_id, {r}.stage_id, {r}.owner, {sign} * SUM(dp.quantity) "
            f"FROM deal_product dp{source} WHERE {where} GROUP BY dp.product_id, {r}.stage_id, {r}.owner"
        )

    def line_demand(self, line: str, sign: str) -> str:
        return self.add_demand(
            f"SELECT {line}.product_id, d.stage_id, d.owner, {sign} * {line}.quantity FROM deal d "
            f"WHERE d.id = {line}.deal_id AND {self.live('d')}"
        )

    def demand_rows(self) -> str:
        return (
            "SELECT dp.product_id, d.stage_id, d.owner, SUM(dp.quantity) FROM deal_product dp "
            f"JOIN deal d ON d.id = dp.deal_id WHERE {self.live('d')} GROUP BY 1, 2, 3"
        )

    def triggers(self) -> list[tuple[str, str, str, str, list[str]]]:
        """(name, table, event, condition or '', statements) of every trigger."""
        own_deals = "d.customer_id = NEW.id AND d.deleted_at IS NULL"
        flip = "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
        sign = "(CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE -1 END)"
        stale = (
            "INSERT INTO fig_state (key, value) SELECT 'reach_stale', 1 WHERE true "
            "ON CONFLICT (key) DO UPDATE SET value = 1"
        )
        return [
            ("fig_deal_ins", "deal", "INSERT", "", [
                self.add_deal("NEW", "1", self.live("NEW")),
                self.add_reach("NEW", "1", self.live("NEW")),
            ]),
            ("fig_deal_del", "deal", "DELETE", "", [
                self.add_deal("OLD", "-1", self.live("OLD")),
                self.add_reach("OLD", "-1", self.live("OLD")),
                "DELETE FROM deal_reach WHERE deal_id = OLD.id",
            ]),
            ("fig_deal_upd", "deal", "UPDATE OF " + ", ".join(_DEAL_COLUMNS), self.changed(_DEAL_COLUMNS), [
                self.add_deal("OLD", "-1", self.live("OLD")),
                self.add_reach("OLD", "-1", self.live("OLD")),
                self.add_deal("NEW", "1", self.live("NEW")),
                self.add_reach("NEW", "1", self.live("NEW")),
            ]),
            ("fig_customer_upd", "customer", "UPDATE OF deleted_at", flip, [
                self.add_deal("d", sign, own_deals, source=" FROM deal d", grouped=True),
                self.add_reach("d", sign, own_deals, source=" FROM deal d", grouped=True),
            ]),
            ("fig_history_ins", "stage_change", "INSERT", "", self.refresh_reach("NEW.deal_id")),
            ("fig_history_del", "stage_change", "DELETE", "", self.refresh_reach("OLD.deal_id")),
            ("fig_history_upd", "stage_change", "UPDATE OF deal_id, to_stage_id",
             self.changed(("deal_id", "to_stage_id")),
             [*self.refresh_reach("OLD.deal_id"), *self.refresh_reach("NEW.deal_id")]),
            ("fig_stage_upd", "stage", "UPDATE OF position, outcome, archived_at",
             self.changed(("position", "outcome", "archived_at")), [stale]),
            # purchases: each statement recomputes the few customers a change concerns
            ("fig_buyer_deal_ins", "deal", "INSERT", "", self.refresh_buyer("NEW.customer_id")),
            ("fig_buyer_deal_del", "deal", "DELETE", "", self.refresh_buyer(
                "OLD.customer_id", *self.order_buyers("OLD.id", "OLD.customer_id"))),
            ("fig_buyer_deal_upd", "deal", "UPDATE OF " + ", ".join(_BUYER_COLUMNS), self.buyer_changed(),
             self.refresh_buyer("OLD.customer_id", self.unless_same("NEW.customer_id", "OLD.customer_id"),
                                *self.order_buyers("NEW.id", "OLD.customer_id"))),
            ("fig_buyer_order_ins", "sales_order", "INSERT", "", self.refresh_buyer("NEW.customer_id")),
            ("fig_buyer_order_del", "sales_order", "DELETE", "", self.refresh_buyer("OLD.customer_id")),
            ("fig_buyer_order_upd", "sales_order", "UPDATE OF " + ", ".join(_ORDER_COLUMNS),
             self.changed(_ORDER_COLUMNS),
             self.refresh_buyer("OLD.customer_id", self.unless_same("NEW.customer_id", "OLD.customer_id"))),
            ("fig_buyer_line_ins", "order_line", "INSERT", "", self.refresh_buyer(
                "(SELECT o.customer_id FROM sales_order o WHERE o.id = NEW.order_id)")),
            ("fig_buyer_line_del", "order_line", "DELETE", "", self.refresh_buyer(
                "(SELECT o.customer_id FROM sales_order o WHERE o.id = OLD.order_id)")),
            ("fig_buyer_line_upd", "order_line", "UPDATE OF order_id, quantity, unit_price_cents",
             self.changed(("order_id", "quantity", "unit_price_cents")), self.refresh_buyer(
                "(SELECT o.customer_id FROM sales_order o WHERE o.id = OLD.order_id)",
                self.unless_same("(SELECT o.customer_id FROM sales_order o WHERE o.id = NEW.order_id)",
                                 "(SELECT o.customer_id FROM sales_order o WHERE o.id = OLD.order_id)"))),
            ("fig_buyer_customer_upd", "customer", "UPDATE OF deleted_at", flip, self.refresh_buyer("NEW.id")),
            # tasks: the one a change concerns, or every task of a customer or deal deleted or restored
            ("fig_task_ins", "task", "INSERT", "", [self.add_task("NEW", "1", self.live_task("NEW"))]),
            ("fig_task_del", "task", "DELETE", "", [self.add_task("OLD", "-1", self.live_task("OLD"))]),
            ("fig_task_upd", "task", "UPDATE OF " + ", ".join(_TASK_COLUMNS), self.changed(_TASK_COLUMNS), [
                self.add_task("OLD", "-1", self.live_task("OLD")),
                self.add_task("NEW", "1", self.live_task("NEW")),
            ]),
            ("fig_task_customer_upd", "customer", "UPDATE OF deleted_at", flip, [self.add_task(
                "t", sign, "t.customer_id = NEW.id AND t.deleted_at IS NULL AND (t.deal_id IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM deal dd WHERE dd.id = t.deal_id AND dd.deleted_at IS NOT NULL))",
                source=" FROM task t", grouped=True)]),
            ("fig_task_deal_upd", "deal", "UPDATE OF deleted_at", flip, [self.add_task(
                "t", sign, "t.deal_id = NEW.id AND t.deleted_at IS NULL AND (t.customer_id IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM customer c WHERE c.id = t.customer_id AND c.deleted_at IS NOT NULL))",
                source=" FROM task t", grouped=True)]),
            # orders: an order's own cell, a line's value in its order's cell; a customer's every order
            ("fig_order_ins", "sales_order", "INSERT", "", [self.order_cell("NEW", "1")]),
            ("fig_order_del", "sales_order", "DELETE", "", [self.order_cell("OLD", "-1")]),
            ("fig_order_upd", "sales_order", "UPDATE OF owner, status, currency, customer_id",
             self.changed(("owner", "status", "currency", "customer_id")),
             [self.order_cell("OLD", "-1"), self.order_cell("NEW", "1")]),
            ("fig_order_line_ins", "order_line", "INSERT", "", [
                self.line_cell("NEW.order_id", f"{self.big('NEW.quantity')} * NEW.unit_price_cents")]),
            ("fig_order_line_del", "order_line", "DELETE", "", [
                self.line_cell("OLD.order_id", f"-{self.big('OLD.quantity')} * OLD.unit_price_cents")]),
            ("fig_order_line_upd", "order_line", "UPDATE OF order_id, quantity, unit_price_cents",
             self.changed(("order_id", "quantity", "unit_price_cents")), [
                self.line_cell("OLD.order_id", f"-{self.big('OLD.quantity')} * OLD.unit_price_cents"),
                self.line_cell("NEW.order_id", f"{self.big('NEW.quantity')} * NEW.unit_price_cents")]),
            ("fig_order_customer_upd", "customer", "UPDATE OF deleted_at", flip, [self.add_order(
                ["o.owner", "o.status", "o.currency"], f"{sign} * COUNT(*)",
                f"{sign} * COALESCE(SUM({self.order_value('o')}), 0)",
                " FROM sales_order o WHERE o.customer_id = NEW.id GROUP BY 1, 2, 3")]),
            # market demand: a line on its deal's cell; a deal's every line when the deal moves
            ("fig_demand_line_ins", "deal_product", "INSERT", "", [self.line_demand("NEW", "1")]),
            ("fig_demand_line_del", "deal_product", "DELETE", "", [self.line_demand("OLD", "-1")]),
            ("fig_demand_line_upd", "deal_product", "UPDATE OF deal_id, product_id, quantity",
             self.changed(("deal_id", "product_id", "quantity")),
             [self.line_demand("OLD", "-1"), self.line_demand("NEW", "1")]),
            ("fig_demand_deal_upd", "deal", "UPDATE OF " + ", ".join(_DEMAND_COLUMNS), self.changed(_DEMAND_COLUMNS), [
                self.deal_demand("OLD", "-1", f"dp.deal_id = OLD.id AND {self.live('OLD')}"),
                self.deal_demand("NEW", "1", f"dp.deal_id = NEW.id AND {self.live('NEW')}"),
            ]),
            ("fig_demand_customer_upd", "customer", "UPDATE OF deleted_at", flip, [self.deal_demand(
                "d", sign, "d.customer_id = NEW.id AND d.deleted_at IS NULL",
                source=" JOIN deal d ON d.id = dp.deal_id")]),
            ("fig_buyer_stage_upd", "stage", "UPDATE OF outcome, archived_at",
             self.changed(("outcome", "archived_at")), [stale.replace("reach_stale", "buyers_stale")]),
        ]  # fmt: skip

    def ddl(self) -> Iterator[str]:
        """Statements that (re)create every trigger. A bulk write pauses the deal triggers in its
        own transaction (``bulk``) and settles the figures of what it touched once, set-based."""
        paused = "EXISTS (SELECT 1 FROM fig_state WHERE key = 'paused')"
        for name, table, event, cond, body in self.triggers() + self.touches() + self.feeds():
            pausable = table not in ("stage", "product", "currency_rate")
            if self.pg:
                yield f"DROP TRIGGER IF EXISTS {name} ON {table}"
                skip = f"IF {paused} THEN RETURN NULL; END IF; " if pausable else ""
                yield (
                    f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
                    f"SET search_path FROM CURRENT AS $$ BEGIN {skip}{'; '.join(body)}; RETURN NULL; END $$"
                )
                when = f" WHEN ({cond})" if cond else ""
                yield f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {name}_fn()"
            else:
                yield f"DROP TRIGGER IF EXISTS {name}"
                conds = ([f"NOT {paused}"] if pausable else []) + ([f"({cond})"] if cond else [])
                when = f" WHEN {' AND '.join(conds)}" if conds else ""
                yield f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {'; '.join(body)}; END"

    # -- full recomputation ----------------------------------------------------------------

    def deal_rows(self) -> str:
        """Every fig_deal cell computed from the deals."""
        keys = ["d.stage_id", "d.owner", "d.currency", self.day("d.closed_at")]
        return (
            f"SELECT {', '.join(keys + self.deal_values('d', '1', True))} FROM deal d "
            f"WHERE {self.live('d')} GROUP BY 1, 2, 3, 4"
        )

    def reach_rows(self) -> str:
        """Every fig_reach cell computed from the deals and ``deal_reach``."""
        keys = ["d.stage_id", "d.owner", self.day("d.closed_at"), self.reach("d")]
        return f"SELECT {', '.join(keys)}, COUNT(*) FROM deal d WHERE {self.live('d')} GROUP BY 1, 2, 3, 4"
