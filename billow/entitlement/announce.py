"""Announcing entitlement changes: what is effective now goes on the bus, what takes effect later gets a
notification at its date (and is announced then). Kill Bill: `DefaultSubscriptionDao` posts
`EffectiveSubscriptionInternalEvent`s and records future notifications on the subscription queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billow.core.bus.bus import Bus
from billow.core.db import UnitOfWork
from billow.entitlement import events as ev
from billow.entitlement.model import (
    ENT_BLOCKED,
    ENT_CANCELLED,
    ENT_CLEAR,
    ENT_STARTED,
    ENTITLEMENT_SERVICE,
    BlockingState,
    BlockingStateType,
    Subscription,
    SubscriptionEventType,
)
from billow.entitlement.timeline import Transition, transitions
from billow.entitlement.views import AccountEntitlements

QUEUE = "entitlement-service:subscription-events"

_TRANSITION_EVENTS: dict[SubscriptionEventType, type[ev.SubscriptionEventBase]] = {
    SubscriptionEventType.CREATE: ev.SubscriptionCreationEvent,
    SubscriptionEventType.TRANSFER: ev.SubscriptionCreationEvent,
    SubscriptionEventType.PHASE: ev.SubscriptionPhaseEvent,
    SubscriptionEventType.CHANGE: ev.SubscriptionChangeEvent,
    SubscriptionEventType.CANCEL: ev.SubscriptionCancelEvent,
    SubscriptionEventType.EXPIRED: ev.SubscriptionExpiredEvent,
    SubscriptionEventType.BCD_CHANGE: ev.SubscriptionBcdChangeEvent,
    SubscriptionEventType.QUANTITY_CHANGE: ev.SubscriptionQuantityChangeEvent,
}


def subscription_event(cls: type[ev.SubscriptionEventBase], uow: UnitOfWork, acc: AccountEntitlements,
                       sub: Subscription, when: datetime, **extra: Any) -> ev.SubscriptionEventBase:
    """A subscription bus event of `cls` about `sub`, effective at `when`."""
    bundle = acc.bundles.get(sub.bundle_id)
    return cls(tenant_record_id=uow.tenant, account_record_id=acc.account.record_id, account_id=acc.account.id,
               object_id=sub.id, user_token=uow.ctx.user_token, bundle_id=sub.bundle_id,
               bundle_external_key=bundle.external_key if bundle else None, effective_date=when.isoformat(), **extra)


class Announcer:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def schedule(self, uow: UnitOfWork, payload: dict[str, Any], when: datetime, account_record_id: int) -> None:
        self.bus.schedule(uow, QUEUE, payload, when, account_record_id=account_record_id,
                          tenant_record_id=uow.tenant)

    def announce(self, uow: UnitOfWork, acc: AccountEntitlements, subscription_id: str, *,
                 before: list[Transition], before_states: list[BlockingState]) -> None:
        """Publish what is new and already effective; schedule what is new and still to come."""
        sub = acc.sub(subscription_id)
        if sub is None:
            return
        known = {t.event_id for t in before}
        now = uow.now
        for t in transitions(sub, acc.catalog):
            if t.event_id in known or t.synthetic:  # catalog repricing is for billing only: no event
                continue
            if t.effective_date <= now:
                self.publish_transition(uow, acc, sub, t)
            else:
                self.schedule(uow, {"kind": "transition", "subscription_id": sub.id, "event_id": t.event_id},
                              t.effective_date, acc.account.record_id)
        known_states = {s.id for s in before_states}
        for s in acc.blocking:
            if s.id in known_states or s.blockable_id != sub.id:
                continue
            self.state_added(uow, acc, s)

    def state_added(self, uow: UnitOfWork, acc: AccountEntitlements, state: BlockingState) -> None:
        if state.effective_date <= uow.now:
            self.publish_state(uow, acc, state)
        else:
            self.schedule(uow, {"kind": "state", "id": state.id}, state.effective_date, acc.account.record_id)

    def publish_transition(self, uow: UnitOfWork, acc: AccountEntitlements, sub: Subscription,
                           t: Transition) -> None:
        uow.post(subscription_event(_TRANSITION_EVENTS[t.type], uow, acc, sub, t.effective_date))

    def publish_state(self, uow: UnitOfWork, acc: AccountEntitlements, state: BlockingState) -> None:
        tenant, account, token = uow.tenant, acc.account, uow.ctx.user_token
        if state.service == ENTITLEMENT_SERVICE and state.type is BlockingStateType.SUBSCRIPTION:
            sub = acc.sub(state.blockable_id)
            if sub is not None and state.state_name == ENT_STARTED:
                uow.post(subscription_event(ev.EntitlementCreationEvent, uow, acc, sub, state.effective_date))
                return
            if sub is not None and state.state_name == ENT_CANCELLED:
                uow.post(subscription_event(ev.EntitlementCancelEvent, uow, acc, sub, state.effective_date))
                return
        if state.service == ENTITLEMENT_SERVICE and state.type is BlockingStateType.SUBSCRIPTION_BUNDLE:
            if state.state_name == ENT_BLOCKED:
                uow.post(ev.BundlePauseEvent(tenant_record_id=tenant, account_record_id=account.record_id,
                                             account_id=account.id, object_id=state.blockable_id, user_token=token))
                return
            if state.state_name == ENT_CLEAR:
                uow.post(ev.BundleResumeEvent(tenant_record_id=tenant, account_record_id=account.record_id,
                                              account_id=account.id, object_id=state.blockable_id, user_token=token))
                return
        uow.post(ev.BlockingStateEvent(tenant_record_id=tenant, account_record_id=account.record_id,
                                       account_id=account.id, object_id=state.blockable_id, user_token=token,
                                       blockable_type=state.type.value, state_name=state.state_name,
                                       service=state.service, block_billing=state.block_billing,
                                       block_entitlement=state.block_entitlement, block_change=state.block_change))
