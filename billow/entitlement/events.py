"""Bus events of the entitlement service, with Kill Bill's external event type names."""

from __future__ import annotations

import dataclasses
from typing import Any

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionEventBase(BusEvent):
    object_type = "SUBSCRIPTION"
    bundle_id: str | None = None
    bundle_external_key: str | None = None
    effective_date: str | None = None  # ISO instant of the transition

    def meta_data(self) -> dict[str, Any] | None:
        return {"bundleExternalKey": self.bundle_external_key, "effectiveDate": self.effective_date}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionCreationEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_CREATION"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionPhaseEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_PHASE"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionChangeEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_CHANGE"
    undo: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionCancelEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_CANCEL"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionUncancelEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_UNCANCEL"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionBcdChangeEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_BCD_CHANGE"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionQuantityChangeEvent(SubscriptionEventBase):
    """A quantity change took effect (Kill Bill's QUANTITY_CHANGE transition, external SUBSCRIPTION_QUANTITY)."""

    event_type = "SUBSCRIPTION_QUANTITY"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionExpiredEvent(SubscriptionEventBase):
    event_type = "SUBSCRIPTION_EXPIRED"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementCreationEvent(SubscriptionEventBase):
    event_type = "ENTITLEMENT_CREATION"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementCancelEvent(SubscriptionEventBase):
    event_type = "ENTITLEMENT_CANCEL"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BundlePauseEvent(BusEvent):
    event_type = "BUNDLE_PAUSE"
    object_type = "BUNDLE"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BundleResumeEvent(BusEvent):
    event_type = "BUNDLE_RESUME"
    object_type = "BUNDLE"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlockingStateEvent(BusEvent):
    """A blocking state of another service (overdue, user-defined) took effect."""

    event_type = "BLOCKING_STATE"
    object_type = "BLOCKING_STATES"
    blockable_type: str = ""
    state_name: str = ""
    service: str = ""
    block_billing: bool = False
    block_entitlement: bool = False
    block_change: bool = False

    def meta_data(self) -> dict[str, Any] | None:
        return {"service": self.service, "stateName": self.state_name, "type": self.blockable_type}
