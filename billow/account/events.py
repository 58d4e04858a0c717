"""Bus events the account service publishes (Kill Bill: ACCOUNT_CREATION, ACCOUNT_CHANGE)."""

from __future__ import annotations

import dataclasses
from typing import Any

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccountCreationEvent(BusEvent):
    event_type = "ACCOUNT_CREATION"
    object_type = "ACCOUNT"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccountChangeEvent(BusEvent):
    event_type = "ACCOUNT_CHANGE"
    object_type = "ACCOUNT"
    # [{"changedField": ..., "oldValue": ..., "newValue": ...}] as Kill Bill's ChangedField list
    changed_fields: tuple[dict[str, Any], ...] = ()
