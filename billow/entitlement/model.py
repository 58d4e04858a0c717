"""Bundles, subscriptions, their events and blocking states: plain data, no I/O.

As in Kill Bill, a subscription's history is a stream of events. We store the
events a caller asked for (CREATE, CHANGE, CANCEL, BCD_CHANGE, QUANTITY_CHANGE, ...) with the
phase alignment decided at that moment, and derive the PHASE and EXPIRED
transitions from the catalog (`timeline.py`), so that the history is one
deterministic function of what was asked. Entitlement (access) and billing
have separate dates: entitlement start, pause and cancellation are blocking
states of the `entitlement-service`, as in Kill Bill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from billow.catalog.engine import PlanSpecifier
from billow.catalog.model import BillingActionPolicy as BillingActionPolicy  # one word everywhere: re-exported
from billow.catalog.model import BillingPeriod, PhaseType, ProductCategory

ENTITLEMENT_SERVICE = "entitlement-service"
BILLING_SERVICE = "billing-service"
ENT_STARTED = "ENT_STARTED"
ENT_CANCELLED = "ENT_CANCELLED"
ENT_BLOCKED = "ENT_BLOCKED"  # bundle pause
ENT_CLEAR = "ENT_CLEAR"  # bundle resume


class SubscriptionEventType(StrEnum):
    """What a stored subscription event is (Kill Bill's ApiEventType / EventType)."""

    CREATE = "CREATE"
    TRANSFER = "TRANSFER"
    CHANGE = "CHANGE"
    CANCEL = "CANCEL"
    BCD_CHANGE = "BCD_CHANGE"
    QUANTITY_CHANGE = "QUANTITY_CHANGE"  # Kill Bill's QUANTITY_UPDATE event
    # derived, never stored:
    PHASE = "PHASE"
    EXPIRED = "EXPIRED"


class SubscriptionState(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class BlockingStateType(StrEnum):
    SUBSCRIPTION = "SUBSCRIPTION"
    SUBSCRIPTION_BUNDLE = "SUBSCRIPTION_BUNDLE"
    ACCOUNT = "ACCOUNT"


class EntitlementActionPolicy(StrEnum):
    IMMEDIATE = "IMMEDIATE"
    END_OF_TERM = "END_OF_TERM"


class BcdTransfer(StrEnum):
    """What a bundle transfer does with the bill cycle day changes of its subscriptions (Kill Bill's
    `BcdTransfer`): drop those already in force, keep them, or move them to the transfer's day of month."""

    NONE = "NONE"
    USE_EXISTING = "USE_EXISTING"
    ALIGN_WITH_EFF_DT = "ALIGN_WITH_EFF_DT"


@dataclass(frozen=True, slots=True)
class PhasePriceOverride:
    """A per-subscription price for one phase (Kill Bill's PlanPhasePriceOverride)."""

    phase_name: str | None
    phase_type: PhaseType | None
    fixed_price: Decimal | None
    recurring_price: Decimal | None


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    record_id: int
    id: str
    subscription_id: str
    event_type: SubscriptionEventType
    effective_date: datetime
    created_date: datetime
    plan_name: str | None = None
    price_list_name: str | None = None
    # CREATE/CHANGE: where the plan's phases are laid out from, and the phase type they start with
    phase_align_date: datetime | None = None
    initial_phase_type: PhaseType | None = None
    bill_cycle_day_local: int | None = None  # BCD_CHANGE
    quantity: int | None = None  # CREATE/TRANSFER (the initial quantity) and QUANTITY_CHANGE
    price_overrides: tuple[PhasePriceOverride, ...] = ()
    is_active: bool = True
    total_ordering: int = 0


@dataclass(frozen=True, slots=True)
class BlockingState:
    record_id: int
    id: str
    blockable_id: str
    type: BlockingStateType
    state_name: str
    service: str
    block_change: bool
    block_entitlement: bool
    block_billing: bool
    effective_date: datetime
    created_date: datetime
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class Bundle:
    record_id: int
    id: str
    external_key: str
    account_id: str
    account_record_id: int
    created_date: datetime
    original_created_date: datetime


@dataclass(frozen=True, slots=True)
class Subscription:
    record_id: int
    id: str
    bundle_id: str
    account_id: str
    account_record_id: int
    category: ProductCategory
    external_key: str
    start_date: datetime  # billing start
    bundle_start_date: datetime
    charged_through_date: datetime | None
    created_date: datetime
    migrated: bool = False
    align_start_date: datetime | None = None  # START_OF_SUBSCRIPTION alignments: None = start_date
    events: tuple[SubscriptionEvent, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """What a caller asks for when creating a subscription or changing its plan (Kill Bill's
    EntitlementSpecifier)."""

    account_id: str
    plan_name: str | None = None
    product_name: str | None = None
    product_category: ProductCategory | None = None
    billing_period: BillingPeriod | None = None
    price_list: str | None = None
    external_key: str | None = None
    bundle_id: str | None = None
    bundle_external_key: str | None = None
    phase_type: PhaseType | None = None
    price_overrides: tuple[PhasePriceOverride, ...] = ()
    quantity: int | None = None
    # the subscription's own bill cycle day from its start (Kill Bill's EntitlementSpecifier.getBillCycleDay)
    bill_cycle_day_local: int | None = None

    def specifier(self) -> PlanSpecifier:
        return PlanSpecifier(plan_name=self.plan_name, product_name=self.product_name,
                             billing_period=self.billing_period, price_list_name=self.price_list)
