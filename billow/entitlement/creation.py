"""New bundles and subscriptions, decided first and written a table at a time.

A creation (one `createSubscriptionWithAddOns`, or a bulk batch of many new accounts) decides every row with
the rules of `decisions.py` against in-memory objects, then writes each table in one insert (bundles,
subscriptions, their events, their blocking states), then announces. Within each table the rows keep the
order they were decided in, so their record ids, and with them the order of a subscription's events
(`total_ordering`), are what one insert per row gave.

Until the write, a new row carries a provisional record id above any real one: only the decisions of the same
creation see it (an add-on looking at its new base), and they compare it only with its own subscription's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from billow.core.db import UnitOfWork
from billow.entitlement import store
from billow.entitlement.model import Bundle, Subscription, SubscriptionEvent
from billow.entitlement.views import AccountEntitlements

_PROVISIONAL_BASE = 1 << 62  # above every real record id (BIGINT sequences)


@dataclass
class AccountCreation:
    """One account's part of a creation: its entitlements (new objects included) and its new subscriptions."""

    acc: AccountEntitlements
    subscription_ids: list[str] = field(default_factory=list)

    def created(self) -> list[Subscription]:
        subs = {s.id: s for s in self.acc.subscriptions}
        return [subs[i] for i in self.subscription_ids]


@dataclass
class NewRows:
    """The rows a creation will write, and the external keys it has taken (a key given twice in one creation
    is refused as if the first were already stored)."""

    bundles: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    bundle_keys: set[str] = field(default_factory=set)
    subscription_keys: set[str] = field(default_factory=set)
    creations: list[AccountCreation] = field(default_factory=list)
    _count: int = 0

    def provisional(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        """`values` as its insert will return it, with a provisional record id."""
        self._count += 1
        return {"created_date": now, **values, "record_id": _PROVISIONAL_BASE + self._count}

    def write(self, uow: UnitOfWork) -> None:
        """Insert every row (a statement or two per table), then put the stored objects in place of the
        provisional ones in each account's entitlements."""
        bundles: dict[str, Bundle] = {r["id"]: store.to_bundle(r) for r in uow.insert_many("bundles", self.bundles)}
        sub_rows = uow.insert_many("subscriptions", self.subscriptions)
        events: dict[str, list[SubscriptionEvent]] = defaultdict(list)
        for r in uow.insert_many("subscription_events", self.events):
            events[r["subscription_id"]].append(store.to_event(r))
        subs = {r["id"]: store.to_subscription(r, events[r["id"]]) for r in sub_rows}
        states = {r["id"]: store.to_blocking_state(r) for r in uow.insert_many("blocking_states", self.states)}
        for creation in self.creations:
            acc = creation.acc
            acc.bundles.update({k: bundles[k] for k in acc.bundles if k in bundles})
            acc.subscriptions[:] = [subs.get(s.id, s) for s in acc.subscriptions]
            acc.blocking[:] = [states.get(s.id, s) for s in acc.blocking]
