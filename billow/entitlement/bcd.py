"""The bill cycle day of a subscription (pure).

Kill Bill's `BillCycleDayCalculator` and `getDateOfFirstRecurringNonZeroCharge`: a subscription's BCD is
the account-local day of month of its first non-zero recurring charge, walked from its own start date
through its initial plan and phase. The junction applies it (with ACCOUNT/BUNDLE alignment); the
entitlement service shows it on the subscription.
"""

from __future__ import annotations

from billow.catalog.engine import date_of_first_recurring_non_zero_charge
from billow.catalog.model import Catalog
from billow.catalog.versions import plan_for_subscription
from billow.core.account_time import AccountTime
from billow.entitlement.model import Subscription, SubscriptionEventType
from billow.entitlement.timeline import active_events


def subscription_bcd(sub: Subscription, catalog: Catalog, time: AccountTime) -> int:
    """The account-local day of month of `sub`'s first non-zero recurring charge."""
    create = next((e for e in active_events(sub)
                   if e.event_type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER)), None)
    if create is None:
        return time.local_date(sub.start_date).day
    plan = plan_for_subscription(catalog, create.plan_name or "", create.effective_date, create.effective_date).plan
    when = date_of_first_recurring_non_zero_charge(plan, sub.start_date, create.initial_phase_type)
    return time.local_date(when).day
