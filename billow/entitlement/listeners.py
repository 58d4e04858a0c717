"""What the entitlement service does when its notifications come due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billow.core.context import internal_context
from billow.core.db import UnitOfWork
from billow.entitlement.service import QUEUE, EntitlementService


def install(service: EntitlementService, bus: Any) -> None:
    """Register the entitlement queue: each future transition or blocking state gets a
    notification at its effective date, and announces itself on the bus then."""

    def handle(uow: UnitOfWork, notification: Any) -> None:
        ctx = uow.ctx
        if ctx.tenant_record_id is None:
            ctx = internal_context(notification.tenant_record_id)
        service.on_notification(uow, ctx, dict(notification.payload))

    queue = bus.register_queue(QUEUE, handle)

    def schedule(uow: UnitOfWork, payload: dict[str, Any], when: datetime, account_record_id: int) -> None:
        queue.schedule(uow, payload, when, account_record_id=account_record_id,
                       tenant_record_id=uow.ctx.tenant_record_id)

    service.schedule = schedule
