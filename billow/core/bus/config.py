"""Settings of the bus and notification queues, with Kill Bill's defaults where they carry over.

Kill Bill: killbill-commons `queue/.../bus/api/PersistentBusConfig.java` and
`notificationq/api/NotificationQueueConfig.java` (`org.killbill.persistent.bus.main.*`,
`org.killbill.notificationq.main.*`). Where Billow's design differs the field says why.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
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
    # How many rows of one account a group may hold (Kill Bill: `claimed`, 10). A claim takes up to
    # `pack_rows` rows per idle worker, in whole groups but the last.
    claimed: int = 10
    # Rows a worker runs in one transaction, several accounts' groups together (Billow's own): a
    # billing run makes one event per account, and a transaction per event would cap delivery at a
    # few hundred per second. A pack that fails is rolled back and its groups run one by one, so
    # order and retries per account are those of single groups. Packs are this big only in a backlog
    # (a claim's rows are spread over the idle workers): a new account brings three creation events, and a
    # pack's fixed cost (about 115 statements) was paid for about 21 accounts at 64 rows.
    pack_rows: int = 256
    # queue.mode STICKY_EVENTS (Kill Bill's bus default): a unit of work's few events are inserted claimed by the
    # node that posts them and handed to its dispatcher in memory (`Outbox.write`); False is POLLING, where every
    # event waits for a claim. Handed events wait in memory up to `workers * pack_rows` rows; past that,
    # events go to the table for any node.
    sticky_events: bool = True
    # max.failure.retry (3): a handler that raises is retried this many times, then FAILED.
    max_failure_retry: int = 3
    # Back-off before retry n (Kill Bill retries at once; configurable here). The last
    # value repeats when there are more retries than values.
    retry_delays: tuple[timedelta, ...] = (timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=30))
    # claim.time (5m): how long a claim is advertised in processing_available_date.
    claim_time: timedelta = timedelta(minutes=5)
    # Heartbeat of this node in node_infos, written by a thread of its own, on PostgreSQL on a connection of its
    # own (so a node busy in a long handler, a slow reap or with every pooled connection taken keeps beating).
    # A node silent for `dead_after_beats` intervals is dead, and its claimed rows are re-dispatched
    # (takeover in under a minute by default: 3 x 10 s, plus one reap pass).
    heartbeat_interval: timedelta = timedelta(seconds=10)
    dead_after_beats: int = 3
    # Kill Bill's reapThreshold (10m there) and reapSchedule (3m there): None derives them from the
    # heartbeat (dead_after_beats x heartbeat_interval, and one heartbeat interval). Claims are safe to
    # take over early: a row a live handler has begun is locked and deleted in its transaction, so the
    # reaper (FOR UPDATE SKIP LOCKED) never sees it; only claimed-but-unstarted rows move.
    reap_threshold: timedelta | None = None
    reap_schedule: timedelta | None = None
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
    # Billow's: a node vacuums the queue tables (PostgreSQL) after claiming this many rows, so that a backlog
    # drained without autovacuum does not leave claims walking millions of dead rows (Dispatcher.vacuum_if_due).
    # Each event leaves two dead row versions (its claim, its delete) and each process counts its own claims: at
    # 100,000 a month of 10,000 accounts (20,000 events, two processes) never reached it, and after a year
    # bus_events held 755,000 dead rows, claims took 35 ms at the median and up to 410 ms, PostgreSQL spent
    # 0.70-1.07 ms an invoice instead of 0.52 (bench/billing_run.py 10000).
    vacuum_after_rows: int = 10_000
    # Billow's: how often a node looks for tables whose statistics are stale (PostgreSQL; Database.analyze_stale),
    # as autovacuum does (autovacuum_naptime) where it runs: the reaper's pass, or the inline drain without threads.
    # A table that grew to more than twice its last analysis is analyzed at once (a new deployment's tables, a bulk
    # load: plans made while they were small read them whole), one that only churns at most every `analyze_every`
    # (more often, the tables a billing run churns, subscriptions and the schedule, were analyzed at every pass).
    analyze_check_every: timedelta = timedelta(seconds=10)
    analyze_every: timedelta = timedelta(minutes=1)
    # Billow's: in a bus helper process (billow.core.bus.helpers), the node it helps. The helper beats and claims
    # as a node of its own, but `GET /1.0/kb/nodesInfo` lists nodes (servers), not their processes.
    helper_of: str | None = None

    @property
    def dead_after(self) -> timedelta:
        """How long a node's heartbeat may be silent before the node counts as dead."""
        return self.reap_threshold if self.reap_threshold is not None else self.heartbeat_interval * max(
            1, self.dead_after_beats)

    @property
    def reap_every(self) -> timedelta:
        return self.reap_schedule if self.reap_schedule is not None else self.heartbeat_interval

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> BusConfig:
        """Settings from the environment, with Kill Bill's property names where it has them
        (`org.killbill.persistent.bus.main.reapThreshold`, `...reapSchedule`, `...nbThreads`, `...queue.mode`, in
        milliseconds for durations) or `BILLOW_BUS_HEARTBEAT_MS` / `BILLOW_BUS_DEAD_AFTER_BEATS` /
        `BILLOW_BUS_PACK_ROWS`."""
        env = os.environ if environ is None else environ
        cfg = cls(**overrides)  # type: ignore[arg-type]

        def ms(name: str) -> timedelta | None:
            value = env.get(name)
            return timedelta(milliseconds=int(value)) if value else None

        cfg.reap_threshold = ms("org.killbill.persistent.bus.main.reapThreshold") or cfg.reap_threshold
        cfg.reap_schedule = ms("org.killbill.persistent.bus.main.reapSchedule") or cfg.reap_schedule
        cfg.heartbeat_interval = ms("BILLOW_BUS_HEARTBEAT_MS") or cfg.heartbeat_interval
        if env.get("BILLOW_BUS_DEAD_AFTER_BEATS"):
            cfg.dead_after_beats = int(env["BILLOW_BUS_DEAD_AFTER_BEATS"])
        mode = env.get("org.killbill.persistent.bus.main.queue.mode")
        if mode:
            if mode.upper() not in ("STICKY_EVENTS", "POLLING"):
                raise ValueError(f"org.killbill.persistent.bus.main.queue.mode: {mode!r} is not STICKY_EVENTS "
                                 "or POLLING")
            cfg.sticky_events = mode.upper() == "STICKY_EVENTS"
        pack = env.get("BILLOW_BUS_PACK_ROWS")
        if pack:
            if not pack.strip().isdigit() or int(pack) < 1:
                raise ValueError(f"BILLOW_BUS_PACK_ROWS: {pack!r} is not a whole number of rows of at least 1")
            cfg.pack_rows = int(pack)
        if env.get("org.killbill.persistent.bus.main.nbThreads"):
            cfg.workers = int(env["org.killbill.persistent.bus.main.nbThreads"])
        return cfg
