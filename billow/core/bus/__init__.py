"""The persistent bus and notification queue (DESIGN.md, Bus and notification queue).

    db = Database(url, clock, outbox=Outbox(BusConfig(workers=4)))   # units of work write their events
    bus = Bus(db)                                                      # and the bus dispatches them
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
from billow.core.bus.outbox import Outbox

__all__ = ["Bus", "BusConfig", "BusEvent", "Notification", "NotificationQueue", "Outbox"]
