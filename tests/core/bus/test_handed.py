"""Handed events (Kill Bill's STICKY_EVENTS): a unit of work's few events go to this process's running
dispatcher, claimed and in memory; what a claim did for them (order per account, crashes, stops, sharing a
flood with the other nodes) still holds."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billow.core.bus import store
from billow.core.bus.config import BusConfig
from billow.core.bus.outbox import HAND_AT_MOST
from billow.core.bus.tables import AVAILABLE, IN_PROCESSING, PROCESSED, REAPED, bus_events, bus_events_history
from billow.core.context import internal_context
from tests.core.bus.bus_worker_support import Ping, effects, record_effect
from tests.core.bus.test_bus import count, post, wait_for


class FakeDispatcher:
    """The outbox's view of a running dispatcher, recording what it is handed."""

    def __init__(self) -> None:
        self.handed: list[store.Entry] = []
        self.room = True

    def accepts(self, rows: int) -> bool:
        return self.room

    def claimed_until(self) -> datetime:
        return datetime(2030, 1, 1, tzinfo=UTC)

    def hand(self, entries: list[store.Entry]) -> None:
        self.handed.extend(entries)


def rows_of(db: Any, account: int) -> list[Any]:
    with db.read_connection() as conn:
        return conn.execute(select(bus_events).where(bus_events.c.search_key1 == account)
                            .order_by(bus_events.c.record_id)).all()


def effects_of(db: Any, account: int) -> list[int]:
    with db.read_connection() as conn:
        return list(conn.execute(select(effects.c.seq).where(effects.c.account == account)
                                 .order_by(effects.c.id)).scalars())


def test_a_few_events_go_claimed_to_the_local_dispatcher_after_commit_and_a_flood_to_the_table(
        db_url: str, make_db: Any) -> None:
    db = make_db(db_url)
    local = FakeDispatcher()
    db.outbox.local = local
    node = db.outbox.node_name

    post(db, 1, 7, 1, 2)
    rows = rows_of(db, 7)
    assert [(r.processing_state, r.processing_owner) for r in rows] == [(IN_PROCESSING, node)] * 2
    assert [(e.record_id, e.handed, e.search_key1, e.search_key2) for e in local.handed] == [
        (r.record_id, True, 7, 1) for r in rows]

    with pytest.raises(RuntimeError), db.transaction(internal_context(1)) as uow:
        uow.post(Ping(tenant_record_id=1, account_record_id=8, seq=1))
        uow.flush_events()  # written, then rolled back: nothing is handed
        raise RuntimeError("rolled back")
    assert len(local.handed) == 2 and rows_of(db, 8) == []

    post(db, 1, 9, *range(HAND_AT_MOST + 1))  # more than a unit of work hands over: for every node to claim
    assert {(r.processing_state, r.processing_owner) for r in rows_of(db, 9)} == {(AVAILABLE, None)}
    local.room = False  # the dispatcher is full (or stopping)
    post(db, 1, 10, 1)
    assert [(r.processing_state, r.processing_owner) for r in rows_of(db, 10)] == [(AVAILABLE, None)]
    assert len(local.handed) == 2


def test_events_posted_while_the_dispatcher_runs_are_run_without_a_claim(db_url: str, make_db: Any,
                                                                         make_bus: Any, monkeypatch: Any) -> None:
    claims: list[str] = []
    claim = store.claim
    db = make_db(db_url)

    def counted(conn: Any, table: str, **kwargs: Any) -> Any:
        if kwargs["owner"] == db.outbox.node_name:  # not another bus of this process (the suite's own Billow)
            claims.append(table)
        return claim(conn, table, **kwargs)

    monkeypatch.setattr(store, "claim", counted)
    bus = make_bus(db, poll_interval=30.0, sticky_events=True)
    bus.subscribe(lambda uow, ev: record_effect(uow, ev), Ping)
    bus.start(workers=2)
    assert wait_for(lambda: claims)  # the claim at start
    claims.clear()
    for account in (1, 2, 3):
        post(db, 1, account, 1, 2)
    assert wait_for(lambda: count(db, effects) == 6, timeout=30)
    assert claims == []
    with db.read_connection() as conn:
        history = conn.execute(select(bus_events_history.c.processing_state, bus_events_history.c.processing_owner,
                                      bus_events_history.c.creating_owner)).all()
    assert set(history) == {(PROCESSED, bus.node_name, bus.node_name)}
    for account in (1, 2, 3):
        assert effects_of(db, account) == [1, 2]

    bus.stop()  # POLLING (queue.mode): the same events wait for a claim
    polling = make_bus(db, sticky_events=False, poll_interval=30.0)
    polling.subscribe(lambda uow, ev: record_effect(uow, ev), Ping)
    polling.start(workers=2)
    assert db.outbox.local is None
    assert wait_for(lambda: claims)
    claims.clear()
    post(db, 1, 4, 1)
    assert wait_for(lambda: count(db, effects) == 7, timeout=30)
    assert claims


def test_a_handed_event_waits_for_an_earlier_row_of_its_account(db_url: str, make_db: Any, make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, retry_delays=(timedelta(seconds=1),), max_failure_retry=3, poll_interval=0.05,
                   sticky_events=True)
    failing = {1}

    def handler(uow: Any, ev: Ping) -> None:
        record_effect(uow, ev)
        if ev.seq in failing:
            failing.discard(ev.seq)
            raise RuntimeError("fails once")

    bus.subscribe(handler, Ping)
    bus.start(workers=2)
    post(db, 1, 5, 1)  # handed, fails, waits a second for its retry in the table
    assert wait_for(lambda: count(db, bus_events, bus_events.c.error_count == 1) == 1, timeout=30)
    post(db, 1, 5, 2)  # handed behind it: not run before it
    post(db, 1, 6, 3)  # another account's: not held up
    assert wait_for(lambda: effects_of(db, 6) == [3], timeout=30)
    assert effects_of(db, 5) == []
    assert [(r.processing_state, r.processing_owner) for r in rows_of(db, 5)][1] == (AVAILABLE, None)
    assert bus.run_until_idle(timeout_s=30)
    assert effects_of(db, 5) == [1, 2]


def test_handed_events_of_a_node_that_died_are_reaped_and_run_by_another(db_url: str, make_db: Any,
                                                                         make_bus: Any) -> None:
    db = make_db(db_url)
    db.outbox.config.node_name = "crashed-node"
    db.outbox.local = FakeDispatcher()  # it dies after the commits, before running what it was handed
    for account in (1, 2):
        post(db, 1, account, 1, 2)
    db.outbox.local = None
    live = make_bus(db, node_name="live-node", heartbeat_interval=timedelta(milliseconds=100),
                    reap_threshold=timedelta(seconds=5), reap_schedule=timedelta(milliseconds=100))
    live.subscribe(lambda uow, ev: record_effect(uow, ev), Ping)
    live.start(workers=2)
    assert live.run_until_idle(timeout_s=60)
    assert effects_of(db, 1) == [1, 2] and effects_of(db, 2) == [1, 2]
    assert count(db, bus_events_history, bus_events_history.c.processing_state == REAPED,
                 bus_events_history.c.processing_owner == "crashed-node") == 4


def test_a_stopping_dispatcher_releases_the_handed_events_it_has_not_begun(pg_url: str, make_db: Any,
                                                                             make_bus: Any) -> None:
    # PostgreSQL only: on SQLite the busy handler's transaction holds the one writer's lock, so the second event
    # cannot be posted (and handed) while the worker is busy; its post waited for the gate's 30 s, and the
    # stop then raced the freed worker for it
    db = make_db(pg_url)
    bus = make_bus(db, shutdown_timeout=30.0, sticky_events=True)
    started, gate = threading.Event(), threading.Event()

    def handler(uow: Any, ev: Ping) -> None:
        if ev.seq == 1:
            started.set()
            gate.wait(30)
        record_effect(uow, ev)

    bus.subscribe(handler, Ping)
    bus.start(workers=1)
    post(db, 1, 1, 1)
    assert started.wait(30)
    post(db, 1, 2, 2)  # handed; the only worker is busy
    assert [(r.processing_state, r.processing_owner) for r in rows_of(db, 2)] == [(IN_PROCESSING, bus.node_name)]
    stopper = threading.Thread(target=bus.stop)
    stopper.start()
    time.sleep(0.2)
    gate.set()
    stopper.join(60)
    assert not stopper.is_alive()
    assert effects_of(db, 1) == [1] and effects_of(db, 2) == []
    assert [(r.processing_state, r.processing_owner) for r in rows_of(db, 2)] == [(AVAILABLE, None)]
    assert db.outbox.local is None


def test_queue_mode_comes_from_kill_bills_property() -> None:
    key = "org.killbill.persistent.bus.main.queue.mode"
    assert BusConfig.from_environment({}).sticky_events is True  # Kill Bill's default
    assert BusConfig.from_environment({key: "STICKY_EVENTS"}).sticky_events is True
    assert BusConfig.from_environment({key: "POLLING"}).sticky_events is False
    assert BusConfig.from_environment({key: "sticky_events"}).sticky_events is True
    with pytest.raises(ValueError, match="queue.mode: 'SOMETIMES'"):
        BusConfig.from_environment({key: "SOMETIMES"})


def test_pack_rows_come_from_the_environment() -> None:
    assert BusConfig.from_environment({}).pack_rows == BusConfig().pack_rows
    assert BusConfig.from_environment({"BILLOW_BUS_PACK_ROWS": "64"}).pack_rows == 64
    for bad in ("0", "-5", "many", "1.5"):
        with pytest.raises(ValueError, match=f"BILLOW_BUS_PACK_ROWS: '{bad}' is not a whole number"):
            BusConfig.from_environment({"BILLOW_BUS_PACK_ROWS": bad})


def _entry(record_id: int, account: int | None, table: str = store.BUS, handed: bool = True) -> store.Entry:
    return store.Entry(table=table, record_id=record_id, class_name="x", event_json="{}", user_token=None,
                       created_date=datetime(2024, 1, 1, tzinfo=UTC), creating_owner="n", processing_owner="n",
                       processing_available_date=None, processing_state=IN_PROCESSING, error_count=0,
                       search_key1=account, search_key2=1, handed=handed,
                       queue_name="q" if table == store.NOTIFICATIONS else None)


def test_an_accounts_handed_rows_join_its_claimed_group_after_it() -> None:
    """A retry claimed in the same round as a later handed row of its account: one group, the claimed row first
    (in two groups of one pack, the handed row ran first and overtook it)."""
    from billow.core.bus.dispatcher import _merge

    claimed = [[_entry(3, 13, handed=False)], [_entry(4, 14, store.NOTIFICATIONS, handed=False)]]
    handed = [_entry(8, 13), _entry(9, 14), _entry(10, None), _entry(11, 13), _entry(12, None)]
    groups = _merge(claimed, handed)
    assert [[e.record_id for e in g] for g in groups] == [[3, 8, 11], [4], [9], [10], [12]]


def test_rows_handed_out_of_commit_order_are_taken_in_record_id_order(db_url: str, make_db: Any,
                                                                       make_bus: Any) -> None:
    """On PostgreSQL two committing threads may hand their rows in either order once both committed."""
    from billow.core.bus.dispatcher import Dispatcher

    dispatcher = Dispatcher(make_bus(make_db(db_url)))
    dispatcher.hand([_entry(7, 13), _entry(8, 13)])
    dispatcher.hand([_entry(5, 13), _entry(6, 14)])
    assert [e.record_id for e in dispatcher._take_handed(3)] == [5, 7, 8]  # first in, first out
    assert [e.record_id for e in dispatcher._take_handed(10)] == [6]
