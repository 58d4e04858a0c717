"""Billing events: subscription transitions as invoicing sees them (Kill Bill's `BillingEvent`).

The junction merges subscription events, blocking states that block billing,
the catalog version in force and the bill cycle day into one ordered list per
account (billing-semantics.md, Part 3). The invoice generator reads nothing else.
For each subscription, consecutive events E_i, E_i+1 define the interval
[E_i.effective_date, E_i+1.effective_date) billed with E_i's plan, phase and
prices; the last event is open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from billow.catalog.model import (
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    Duration,
    PhaseType,
    ProductCategory,
    Usage,
)


class BillingTransitionType(StrEnum):
    """Kill Bill's `SubscriptionBaseTransitionType` values that reach invoicing."""

    CREATE = "CREATE"
    TRANSFER = "TRANSFER"
    CHANGE = "CHANGE"
    PHASE = "PHASE"
    CANCEL = "CANCEL"
    EXPIRED = "EXPIRED"
    BCD_CHANGE = "BCD_CHANGE"
    QUANTITY_CHANGE = "QUANTITY_CHANGE"
    START_BILLING_DISABLED = "START_BILLING_DISABLED"
    END_BILLING_DISABLED = "END_BILLING_DISABLED"

    @property
    def ends_billing(self) -> bool:
        """CANCEL, EXPIRED and START_BILLING_DISABLED close the subscription's billing."""
        return self in (BillingTransitionType.CANCEL, BillingTransitionType.EXPIRED,
                        BillingTransitionType.START_BILLING_DISABLED)


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """One billing event.

    Prices are for the account's currency and already resolved (catalog price or
    a price override); `None` means "no such price". `billing_period` is
    NO_BILLING_PERIOD when the phase has no recurring section and for events
    that end billing. `bill_cycle_day_local` is the BCD that applies to this
    event after alignment (ACCOUNT / BUNDLE / SUBSCRIPTION) and any BCD change.
    """

    subscription_id: str
    bundle_id: str
    effective_date: datetime  # an instant, UTC; the generator converts it to the account's local date
    transition_type: BillingTransitionType
    product_name: str | None
    product_category: ProductCategory | None
    plan_name: str | None
    phase_name: str | None
    phase_type: PhaseType | None
    billing_period: BillingPeriod
    billing_mode: BillingMode
    fixed_price: Decimal | None
    recurring_price: Decimal | None
    currency: str
    bill_cycle_day_local: int
    billing_alignment: BillingAlignment
    catalog_effective_date: datetime | None
    usages: tuple[Usage, ...] = ()
    quantity: int = 1
    # tie-break among events of one subscription at the same instant (Kill Bill's totalOrdering)
    total_ordering: int = 0
    # the phase's duration (None for UNLIMITED or unknown): a FIXED item of a non-EVERGREEN phase without
    # recurring price ends at start + duration unless the next event is a PHASE (spec 4.4)
    phase_duration: Duration | None = None

    def sort_key(self) -> tuple[str, datetime, int, int]:
        """Kill Bill's order: subscription, date, blocking tie-break, total ordering.

        At the same instant START_BILLING_DISABLED sorts after other events and
        END_BILLING_DISABLED before them (billing-semantics.md, 2.4).
        """
        if self.transition_type is BillingTransitionType.END_BILLING_DISABLED:
            tie = 0
        elif self.transition_type is BillingTransitionType.START_BILLING_DISABLED:
            tie = 2
        else:
            tie = 1
        return (self.subscription_id, self.effective_date, tie, self.total_ordering)
