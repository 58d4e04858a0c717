"""How `Billow` attaches the bus: `billow.app.Billow._wire_bus` calls `wire(kb, worker_threads=n)`.

The bus becomes `db.bus` (events posted in a unit of work are written in its transaction),
the push-notification service subscribes to every event, and `kb.push` exposes it.
Services add their subscribers and queues through `kb.bus` (`subscribe`, `register_queue`).
"""

from __future__ import annotations

from typing import Any

from billow.core.bus.bus import Bus
from billow.core.bus.config import BusConfig


def wire(kb: Any, *, worker_threads: int = 2, config: BusConfig | None = None) -> Bus:
    from billow.push.service import PushNotificationService

    cfg = config or BusConfig()
    cfg.workers = worker_threads
    bus = Bus(kb.db, cfg)
    push = PushNotificationService(bus, kb.tenants)
    push.install()
    kb.push = push
    return bus
