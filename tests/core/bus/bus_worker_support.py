"""Events, an effects table and a worker setup shared by the bus tests and worker processes."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert

from billow.core.bus.event import BusEvent

test_metadata = MetaData()

# What handlers did: one row per handled event, written in the handler's transaction.
effects = Table(
    "bus_test_effects", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("account", BigInteger, nullable=True),
    Column("node", String(60), nullable=True),
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


def record_effect(uow: Any, event: Ping, node: str | None = None) -> None:
    uow.conn.execute(insert(effects).values(seq=event.seq, account=event.account_record_id, node=node))


def setup(bus: Any) -> None:
    """Worker-process wiring: record every Ping (optionally slowly, to be killed mid-batch)."""
    sleep = float(os.environ.get("BUS_TEST_SLEEP", "0"))

    def handle(uow: Any, event: Ping) -> None:
        if sleep:
            time.sleep(sleep)
        record_effect(uow, event, bus.node_name)

    bus.subscribe(handle, Ping)
