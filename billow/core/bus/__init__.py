"""The persistent bus and notification queue (DESIGN.md, Bus and notification queue).

    bus = Bus(db, BusConfig(workers=4))       # wires itself as db.bus
    bus.subscribe(handler, SomeEvent, "INVOICE_CREATION")
    q = bus.register_queue("invoice-service:next-billing-date-queue", handler)
    q.schedule(uow, {"subscriptionId": ...}, effective_date, account_record_id=...)
    bus.start()                               # dispatcher threads (billow serve, embedded)
    bus.run_until_idle(tenant_record_id, timeout_s=5)   # test clock: fire what is due
    bus.stop()
"""

from billow.core.bus.bus import Bus, Notification, NotificationQueue
from billow.core.bus.config import BusConfig
from billow.core.bus.event import BusEvent

__all__ = ["Bus", "BusConfig", "BusEvent", "Notification", "NotificationQueue"]
