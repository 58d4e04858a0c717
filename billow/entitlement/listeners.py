"""What the entitlement service does when its notifications come due: each future transition or blocking
state has a notification at its effective date, and announces itself on the bus then."""

from __future__ import annotations

from billow.core.bus.bus import Bus, Notification
from billow.core.db import UnitOfWork
from billow.entitlement.announce import QUEUE
from billow.entitlement.internal import EntitlementInternalApi


def install(entitlements: EntitlementInternalApi, bus: Bus) -> None:
    def handle(uow: UnitOfWork, notification: Notification) -> None:
        if uow.ctx.tenant_record_id is None and notification.tenant_record_id is not None:
            uow = uow.for_tenant(notification.tenant_record_id)
        entitlements.on_notification(uow, dict(notification.payload))

    bus.register_queue(QUEUE, handle)
