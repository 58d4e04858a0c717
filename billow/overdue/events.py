"""The overdue service's bus events."""

from __future__ import annotations

import dataclasses

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class OverdueChangeEvent(BusEvent):
    """Kill Bill's `DefaultOverdueChangeEvent` (external OVERDUE_CHANGE on the account, no metadata): an account
    moved from one overdue state to another."""

    event_type = "OVERDUE_CHANGE"
    object_type = "ACCOUNT"
    previous_overdue_state_name: str = ""
    next_overdue_state_name: str = ""
    is_blocked_billing: bool = False
    is_unblocked_billing: bool = False
