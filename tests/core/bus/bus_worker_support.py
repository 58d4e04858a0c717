"""Events, an effects table and a worker setup shared by the bus tests and worker processes."""

from __future__ import annotations

import dataclasses
import gc
import os
import time
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert

from billow.core.bus.bus import Bus
from billow.core.bus.config import BusConfig
from billow.core.bus.event import BusEvent
from billow.core.bus.outbox import Outbox
from billow.core.clock import Clock
from billow.core.db.engine import Database

test_metadata = MetaData()

# What handlers did: one row per handled event, written in the handler's transaction.
effects = Table(
    "bus_test_effects", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("account", BigInteger, nullable=True),
    Column("node", String(60), nullable=True),
    Column("at", String(40), nullable=True),  # the handler's business time (ISO 8601), where it is recorded
    Column("frozen", Integer, nullable=True),  # objects its process froze at start-up (gc), where it is recorded
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Ping(BusEvent):
    event_type = "ACCOUNT_CHANGE"
    object_type = "ACCOUNT"
    seq: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaggedPing(BusEvent):
    event_type = "TAG_CREATION"
    object_type = "TAG"
    tag_definition_name: str = "AUTO_PAY_OFF"

    def meta_data(self) -> dict[str, Any] | None:
        return {"tagDefinitionName": self.tag_definition_name}


def record_effect(uow: Any, event: Ping, node: str | None = None, at: str | None = None,
                  frozen: int | None = None) -> None:
    uow.conn.execute(insert(effects).values(seq=event.seq, account=event.account_record_id, node=node, at=at,
                                            frozen=frozen))


def setup(bus: Any) -> None:
    """Worker-process wiring: record every Ping (optionally slowly, to be killed mid-batch)."""
    sleep = float(os.environ.get("BUS_TEST_SLEEP", "0"))

    def handle(uow: Any, event: Ping) -> None:
        if sleep:
            time.sleep(sleep)
        record_effect(uow, event, bus.node_name)

    bus.subscribe(handle, Ping)


class HelperProbe:
    """A bus helper process's app in the bus tests (`billow.core.bus.helpers`): a bus that records every Ping with
    its node and the business time it saw; `sleep` (the factory's extra argument) slows each Ping down."""

    def __init__(self, url: str, clock: Clock, config: BusConfig, sleep: float | None) -> None:
        self.db = Database(url, clock, outbox=Outbox(config))
        self.bus = Bus(self.db)

        def handle(uow: Any, event: Ping) -> None:
            if sleep:
                time.sleep(sleep)
            record_effect(uow, event, self.bus.node_name, clock.utcnow().isoformat(), gc.get_freeze_count())

        self.bus.subscribe(handle, Ping)

    def start(self) -> None:
        self.bus.start()

    def close(self) -> None:
        self.bus.stop()
        self.db.dispose()


def helper_probe(url: str, clock: Clock, config: BusConfig, sleep: float | None) -> HelperProbe:
    return HelperProbe(url, clock, config, sleep)


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie nobody reaped has ended: PID 1 of a container may not reap)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False
