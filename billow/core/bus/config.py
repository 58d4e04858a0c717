"""Settings of the bus and notification queues, with Kill Bill's defaults where they carry over.

Kill Bill: killbill-commons `queue/.../bus/api/PersistentBusConfig.java` and
`notificationq/api/NotificationQueueConfig.java` (`org.killbill.persistent.bus.main.*`,
`org.killbill.notificationq.main.*`). Where Billow's design differs the field says why.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta


def default_node_name() -> str:
    """Kill Bill uses the host name as `creating_owner`/`processing_owner`; several processes
    share a host here, so the pid and a boot nonce are added (the column is varchar(50))."""
    host = socket.gethostname().split(".")[0][:28]
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:50]


@dataclass
class BusConfig:
    node_name: str = field(default_factory=default_node_name)
    # Worker threads running handlers (Kill Bill: nbThreads, 30 bus / 10 notifications).
    workers: int = 4
    # How many account groups one claim takes per idle worker, and how many rows of one
    # account a group may hold (Kill Bill: `claimed`, 10).
    claimed: int = 10
    # Rows a worker runs in one transaction, several accounts' groups together (Billow's own): a
    # billing run makes one event per account, and a transaction per event would cap delivery at a
    # few hundred per second. A pack that fails is rolled back and its groups run one by one, so
    # order and retries per account are those of single groups.
    pack_rows: int = 64
    # max.failure.retry (3): a handler that raises is retried this many times, then FAILED.
    max_failure_retry: int = 3
    # Back-off before retry n (Kill Bill retries at once; configurable here). The last
    # value repeats when there are more retries than values.
    retry_delays: tuple[timedelta, ...] = (timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=30))
    # claim.time (5m): how long a claim is advertised in processing_available_date.
    claim_time: timedelta = timedelta(minutes=5)
    # Heartbeat of this node in node_infos; a node silent for reap_threshold is dead.
    heartbeat_interval: timedelta = timedelta(seconds=10)
    # reapThreshold (10m) and reapSchedule (3m).
    reap_threshold: timedelta = timedelta(minutes=10)
    reap_schedule: timedelta = timedelta(minutes=3)
    # Rows reaped per pass (Kill Bill: maxReDispatchCount, 10; larger here because our
    # reaper only touches rows of dead nodes).
    max_redispatch_count: int = 1000
    # Fallback poll (Kill Bill: sleep, 3000 ms); LISTEN/NOTIFY and in-process wake-ups make
    # a posted event visible in milliseconds, the poll catches notifications coming due.
    poll_interval: float = 0.5
    # shutdownTimeout (15s).
    shutdown_timeout: float = 15.0
    # Use LISTEN/NOTIFY on PostgreSQL.
    listen_notify: bool = True
