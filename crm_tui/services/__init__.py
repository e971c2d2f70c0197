"""Validated operations that commit and announce which tables changed.

Screens call these (in thread workers); the CLI and importer call them too.
Every rejection is a ``ValidationError`` (or ``NotFoundError`` /
``ConflictError``) whose message tells the user what to fix; nothing is
written when one is raised.
"""

from crm_tui.services.activities import ActivityOps
from crm_tui.services.currency import CurrencyOps
from crm_tui.services.customers import CustomerOps
from crm_tui.services.deals import DealOps, MoveResult
from crm_tui.services.funnel import FunnelOps
from crm_tui.services.goals import GoalOps
from crm_tui.services.history import HistoryOps, Undone
from crm_tui.services.orders import OrderOps


class Services(CustomerOps, DealOps, ActivityOps, OrderOps, FunnelOps, GoalOps, HistoryOps, CurrencyOps):
    """All operations, bound to one database and acting user."""


__all__ = ["MoveResult", "Services", "Undone"]
