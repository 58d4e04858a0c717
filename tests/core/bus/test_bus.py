"""The bus and notification queues on SQLite and PostgreSQL: outbox, retries, order, drain, reaper."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.pool import NullPool

from billow.core.bus import admin as queue_admin
from billow.core.bus import store
from billow.core.bus.dispatcher import Dispatcher
from billow.core.bus.event import BusEvent
from billow.core.bus.tables import (
    FAILED,
    IN_PROCESSING,
    PROCESSED,
    REAPED,
    bus_events,
    bus_events_history,
    node_infos,
    notifications,
    notifications_history,
)
from billow.core.context import internal_context
from tests.core.bus.bus_worker_support import Ping, effects, record_effect

ZERO = (timedelta(0),)


def post(db: Any, tenant: int, account: int | None, *seqs: int) -> None:
    with db.transaction(internal_context(tenant)) as uow:
        for s in seqs:
            uow.post(Ping(tenant_record_id=tenant, account_record_id=account, seq=s))


def count(db: Any, table: Any, *where: Any) -> int:
    with db.read_connection() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def wait_for(cond: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_event_posted_in_rolled_back_transaction_is_never_delivered(db_url: str, make_db: Any,
                                                                    make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db)
    seen: list[int] = []
    bus.subscribe(lambda uow, ev: seen.append(ev.seq), Ping)

    with pytest.raises(RuntimeError), db.transaction(internal_context(1)) as uow:
        uow.post(Ping(tenant_record_id=1, account_record_id=7, seq=1))
        raise RuntimeError("the change fails")
    post(db, 1, 7, 2)

    assert bus.run_until_idle(timeout_s=30)
    assert seen == [2]
    assert count(db, bus_events) == 0
    with db.read_connection() as conn:
        states = conn.execute(select(bus_events_history.c.processing_state)).scalars().all()
    assert states == [PROCESSED]


def test_committed_event_carries_tenant_account_and_user_token(db_url: str, make_db: Any, make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db)
    got: list[tuple[Any, ...]] = []
    bus.subscribe(lambda uow, ev: got.append((ev.tenant_record_id, ev.account_record_id, ev.user_token,
                                              uow.ctx.tenant_record_id, uow.ctx.user_token)), "ACCOUNT_CHANGE")
    ctx = internal_context(3, user_token="11111111-2222-3333-4444-555555555555")
    with db.transaction(ctx) as uow:
        uow.post(Ping(tenant_record_id=3, account_record_id=9, seq=1))
    assert bus.run_until_idle(timeout_s=30)
    token = "11111111-2222-3333-4444-555555555555"
    assert got == [(3, 9, token, 3, token)]
    with db.read_connection() as conn:
        row = conn.execute(select(bus_events_history)).one()
    assert (row.search_key1, row.search_key2, row.user_token) == (9, 3, token)


def test_failing_handler_is_retried_then_parked_failed_and_retryable(db_url: str, make_db: Any,
                                                                     make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, max_failure_retry=2, retry_delays=ZERO)
    attempts: list[int] = []
    broken = {"on": True}

    def handler(uow: Any, ev: Ping) -> None:
        attempts.append(ev.seq)
        record_effect(uow, ev)  # rolled back with the failure
        if broken["on"] and ev.seq == 1:
            raise ValueError("handler bug")

    bus.subscribe(handler, Ping)
    post(db, 1, 5, 1)
    post(db, 1, 5, 2)  # same account: waits behind the failing event
    post(db, 1, 6, 3)  # another account: not held up

    assert bus.run_until_idle(timeout_s=30)
    assert attempts.count(1) == 3  # first attempt + max_failure_retry retries
    assert attempts.index(3) >= 0 and attempts.index(2) > max(i for i, s in enumerate(attempts) if s == 1)
    with db.read_connection() as conn:
        failed = conn.execute(select(bus_events_history).where(
            bus_events_history.c.processing_state == FAILED)).one()
        assert failed.error_count == 3
        assert sorted(conn.execute(select(effects.c.seq)).scalars().all()) == [2, 3]
        listing = queue_admin.list_entries(conn, tenant_record_id=1, now=db.clock.utcnow(), only_failed=True)
    assert [e["recordId"] for e in listing["busEvents"]] == [failed.record_id]
    assert listing["busEvents"][0]["processingState"] == FAILED
    assert listing["busEvents"][0]["event"]["seq"] == 1

    broken["on"] = False
    assert queue_admin.retry_failed(bus, tenant_record_id=1) == 1
    assert bus.run_until_idle(timeout_s=30)
    with db.read_connection() as conn:
        assert sorted(conn.execute(select(effects.c.seq)).scalars().all()) == [1, 2, 3]
    assert count(db, bus_events_history, bus_events_history.c.processing_state == FAILED) == 0


def test_handler_failing_twice_then_succeeding_is_processed_once(db_url: str, make_db: Any,
                                                                 make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, max_failure_retry=3, retry_delays=(timedelta(milliseconds=50),))
    failures = {"left": 2}

    def handler(uow: Any, ev: Ping) -> None:
        record_effect(uow, ev)
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("downstream unavailable")

    bus.subscribe(handler, Ping)
    bus.start(workers=2)
    post(db, 1, 1, 42)
    assert bus.run_until_idle(timeout_s=30)
    with db.read_connection() as conn:
        assert conn.execute(select(effects.c.seq)).scalars().all() == [42]
        row = conn.execute(select(bus_events_history)).one()
    assert (row.processing_state, row.error_count) == (PROCESSED, 2)


@pytest.mark.parametrize("sticky", [False, True], ids=["polling", "sticky"])
def test_per_account_order_holds_under_concurrency(db_url: str, make_db: Any, make_bus: Any, sticky: bool) -> None:
    db = make_db(db_url)
    bus = make_bus(db, workers=6, claimed=5, retry_delays=ZERO, max_failure_retry=5, sticky_events=sticky)
    failed_once: set[tuple[int, int]] = set()
    lock = threading.Lock()

    def handler(uow: Any, ev: Ping) -> None:
        record_effect(uow, ev)
        key = (ev.account_record_id or 0, ev.seq)
        if ev.seq % 7 == 3:
            with lock:
                first = key not in failed_once
                failed_once.add(key)
            if first:
                raise RuntimeError("fails once")

    bus.subscribe(handler, Ping)
    bus.start()
    accounts = list(range(1, 25))
    per_account = 30

    def writer(mine: list[int]) -> None:
        rnd = random.Random(mine[0])
        nxt = dict.fromkeys(mine, 0)
        while any(v < per_account for v in nxt.values()):
            a = rnd.choice([x for x in mine if nxt[x] < per_account])
            n = min(rnd.randint(1, 4), per_account - nxt[a])
            post(db, 1 + a % 2, a, *range(nxt[a], nxt[a] + n))
            nxt[a] += n

    threads = [threading.Thread(target=writer, args=(accounts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bus.run_until_idle(timeout_s=120)
    with db.read_connection() as conn:
        rows = conn.execute(select(effects.c.account, effects.c.seq).order_by(effects.c.id)).all()
    by_account: dict[int, list[int]] = {}
    for a, s in rows:
        by_account.setdefault(a, []).append(s)
    assert sorted(by_account) == accounts
    for a in accounts:
        assert by_account[a] == list(range(per_account)), a


def test_notifications_fire_in_effective_date_order_when_the_clock_moves(db_url: str, make_db: Any,
                                                                        make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db)
    fired: list[tuple[str, int, Any]] = []
    events: list[int] = []

    def handler(uow: Any, n: Any) -> None:
        fired.append((n.queue_name, n.payload["i"], n.effective_date))
        uow.post(Ping(tenant_record_id=n.tenant_record_id, account_record_id=n.account_record_id,
                      seq=n.payload["i"]))

    qa = bus.register_queue("invoice-service:next-billing-date-queue", handler)
    qb = bus.register_queue("overdue-service:overdue-check-queue", handler)
    bus.subscribe(lambda uow, ev: events.append(ev.seq), Ping)
    start = db.clock.utcnow()
    rnd = random.Random(7)
    offsets = list(range(1, 41))
    rnd.shuffle(offsets)
    with db.transaction(internal_context(1)) as uow:
        for i, hours in enumerate(offsets):
            q = qa if i % 2 else qb
            q.schedule(uow, {"i": i}, start + timedelta(hours=hours * 12), account_record_id=1 + i % 3)
    assert bus.run_until_idle(tenant_record_id=1, timeout_s=30)
    assert fired == []

    db.clock.add(timedelta(days=10))  # due: offsets up to 20 (hours*12 <= 240)
    assert bus.run_until_idle(tenant_record_id=1, timeout_s=60)
    dates = [d for _q, _i, d in fired]
    assert len(fired) == 20
    assert dates == sorted(dates)
    assert all(d <= db.clock.utcnow() for d in dates)
    assert sorted(events) == sorted(i for _q, i, _d in fired)
    assert count(db, notifications) == 20

    # with dispatcher threads, order holds per account and queue
    bus.start(workers=4)
    fired.clear()
    db.clock.add(timedelta(days=20))
    assert bus.run_until_idle(tenant_record_id=1, timeout_s=60)
    assert len(fired) == 20
    streams: dict[tuple[str, int], list[Any]] = {}
    for q, i, d in fired:
        streams.setdefault((q, 1 + i % 3), []).append(d)
    for dates in streams.values():
        assert dates == sorted(dates)
    assert count(db, notifications) == 0
    assert count(db, notifications_history, notifications_history.c.processing_state == PROCESSED) == 40


def test_drain_returns_false_on_timeout(db_url: str, make_db: Any, make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, max_failure_retry=1, retry_delays=(timedelta(hours=1),))

    def handler(uow: Any, ev: Ping) -> None:
        raise RuntimeError("always")

    bus.subscribe(handler, Ping)
    post(db, 4, 1, 1)
    post(db, 5, 2, 1)
    assert bus.run_until_idle(tenant_record_id=4, timeout_s=0.5) is False
    assert bus.run_until_idle(tenant_record_id=6, timeout_s=0.5) is True  # another tenant: nothing due


def node_over_streams(db: Any, make_bus: Any, node_name: str, *, accounts: int) -> tuple[Any, Dispatcher]:
    """Accounts 1..`accounts` with three events each (seq 0, 1, 2), and a live node (its bus and dispatcher)
    whose handler does nothing: claims are made by hand."""
    bus = make_bus(db, node_name=node_name)
    bus.subscribe(lambda uow, ev: None, Ping)
    for a in range(1, accounts + 1):
        post(db, 1, a, 0, 1, 2)
    dispatcher = Dispatcher(bus)
    dispatcher._beat()
    return bus, dispatcher


def test_rows_claimed_by_a_dead_node_are_reaped_and_redelivered(db_url: str, make_db: Any,
                                                                make_bus: Any) -> None:
    db = make_db(db_url)
    dead_bus, dead = node_over_streams(db, make_bus, "dead-node", accounts=5)
    claimed = dead.claim(9)
    assert [len(g) for g in claimed] == [3, 3, 3]  # three account groups of three
    assert count(db, bus_events, bus_events.c.processing_owner == "dead-node") == 9
    # the node stops beating: make its heartbeat old
    with db.transaction(internal_context()) as uow:
        uow.conn.execute(update(node_infos).where(node_infos.c.node_name == "dead-node").values(
            updated_date=dead_bus.wall_clock.utcnow() - timedelta(minutes=30)))

    live = make_bus(db, node_name="live-node", heartbeat_interval=timedelta(milliseconds=100),
                    reap_threshold=timedelta(seconds=5), reap_schedule=timedelta(milliseconds=100))
    live.subscribe(lambda uow, ev: record_effect(uow, ev, "live-node"), Ping)
    live.start(workers=2)
    assert live.run_until_idle(timeout_s=60)
    with db.read_connection() as conn:
        rows = conn.execute(select(effects.c.account, effects.c.seq).order_by(effects.c.id)).all()
        reaped = conn.execute(select(bus_events_history).where(
            bus_events_history.c.processing_state == REAPED)).all()
        nodes = queue_admin.nodes_info(conn)
    assert sorted(rows) == [(a, s) for a in range(1, 6) for s in range(3)]
    for a in range(1, 6):
        assert [s for acc, s in rows if acc == a] == [0, 1, 2]
    assert len(reaped) == 9 and {r.processing_owner for r in reaped} == {"dead-node"}
    assert [n["nodeName"] for n in nodes] == ["live-node"]
    assert nodes[0]["bootTime"] and nodes[0]["lastUpdatedDate"]


def test_a_claim_is_sized_in_rows_and_the_rest_waits_in_order(db_url: str, make_db: Any, make_bus: Any) -> None:
    """A claim takes at most the rows it asked for: whole account groups, the last one cut short. What it left
    stays AVAILABLE for any node, and an account's later rows still wait for its claimed ones."""
    db = make_db(db_url)
    _, d = node_over_streams(db, make_bus, "node-a", accounts=4)
    first = d.claim(7)
    assert [[(e.search_key1, json.loads(e.event_json)["seq"]) for e in g] for g in first] == [
        [(1, 0), (1, 1), (1, 2)], [(2, 0), (2, 1), (2, 2)], [(3, 0)]]
    assert count(db, bus_events, bus_events.c.processing_owner == "node-a") == 7
    assert count(db, bus_events, bus_events.c.processing_state == "AVAILABLE") == 5
    # account 3's rows after its claimed head wait for it; account 4 is free
    second = d.claim(10)
    assert [[(e.search_key1, json.loads(e.event_json)["seq"]) for e in g] for g in second] == [[(4, 0), (4, 1), (4, 2)]]
    d.run_pack(first)
    third = d.claim(10)
    assert [[(e.search_key1, json.loads(e.event_json)["seq"]) for e in g] for g in third] == [[(3, 1), (3, 2)]]


def test_a_node_late_with_its_heartbeat_is_not_dead_to_itself(db_url: str, make_db: Any, make_bus: Any) -> None:
    """A busy node whose heartbeat is late is alive for itself: its reaper leaves its own claims, it does not mark
    itself inactive, and its billing runs do not take each other's batches (`Bus.dead_nodes`); to the other
    nodes it is dead."""
    db = make_db(db_url)
    busy_bus = make_bus(db, node_name="busy-node")
    busy_bus.subscribe(lambda uow, ev: None, Ping)
    post(db, 1, 1, 0, 1)
    busy = Dispatcher(busy_bus)
    busy._beat()
    assert sum(len(g) for g in busy.claim(2)) == 2
    with db.transaction(internal_context()) as uow:
        uow.conn.execute(update(node_infos).where(node_infos.c.node_name == "busy-node").values(
            updated_date=busy_bus.wall_clock.utcnow() - timedelta(minutes=30)))
    assert busy.reap() == 0
    assert count(db, bus_events, bus_events.c.processing_owner == "busy-node") == 2
    with db.read_connection() as conn:
        assert busy_bus.dead_nodes(conn, {"busy-node"}) == set()
        assert conn.execute(select(node_infos.c.is_active)).scalar_one() is True
    other_bus = make_bus(db, node_name="other-node")
    other = Dispatcher(other_bus)
    other._beat()
    with db.read_connection() as conn:
        assert other_bus.dead_nodes(conn, {"busy-node", "other-node"}) == {"busy-node"}
    assert other.reap() == 2
    assert count(db, bus_events, bus_events.c.processing_owner == "busy-node") == 0


def test_admin_listing_shows_pending_in_processing_and_filters(db_url: str, make_db: Any, make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, node_name="node-a")
    bus.subscribe(lambda uow, ev: None, Ping)
    bus.register_queue("svc:q", lambda uow, n: None)
    post(db, 1, 10, 1, 2)
    post(db, 1, 11, 3)
    post(db, 2, 20, 4)
    now = db.clock.utcnow()
    with db.transaction(internal_context(1)) as uow:
        bus.schedule(uow, "svc:q", {"k": 1}, now + timedelta(days=1), account_record_id=10)
        bus.schedule(uow, "svc:q", {"k": 2}, now + timedelta(days=30), account_record_id=10)
    d = Dispatcher(bus)
    d._beat()
    d.claim(2)  # account 10's two events go in processing
    with db.read_connection() as conn:
        out = queue_admin.list_entries(conn, tenant_record_id=1, now=now)
        by_account = queue_admin.list_entries(conn, tenant_record_id=1, now=now, account_record_id=10,
                                              with_in_processing=False)
        other_queue = queue_admin.list_entries(conn, tenant_record_id=1, now=now, queue_name="nope")
    assert sorted(e["event"]["seq"] for e in out["busEvents"]) == [1, 2, 3]
    assert {e["processingState"] for e in out["busEvents"] if e["searchKey1"] == 10} == {IN_PROCESSING}
    assert [e["event"] for e in out["notifications"]] == [{"k": 1}]  # within now + 2 days
    assert out["notifications"][0]["queueName"] == "svc:q"
    assert by_account["busEvents"] == []
    assert [e["event"]["k"] for e in by_account["notifications"]] == [1, 2]
    assert other_queue["notifications"] == []


@dataclasses.dataclass(frozen=True, kw_only=True)
class Amounts(BusEvent):
    event_type = "INVOICE_CREATION"
    amount: Decimal = Decimal("0")
    target: date | None = None
    at: datetime | None = None


def test_event_json_round_trip_keeps_types() -> None:
    ev = Amounts(tenant_record_id=1, amount=Decimal("10.50"), target=date(2024, 2, 1),
                 at=datetime(2024, 2, 1, 3, 4, 5, tzinfo=UTC))
    back = BusEvent.from_json(Amounts.class_name(), ev.to_json())
    assert back == ev


def test_batch_subscription_gets_a_pack_at_once_and_single_events_after_a_failure(db_url: str, make_db: Any,
                                                                                  make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, max_failure_retry=2, retry_delays=ZERO)
    calls: list[list[int]] = []
    singles: list[int] = []
    broken = {"on": False}

    def each(uow: Any, ev: Ping) -> None:
        singles.append(ev.seq)

    def pack(uow: Any, events: list[Ping]) -> None:
        calls.append([e.seq for e in events])
        for ev in events:
            record_effect(uow, ev)  # rolled back with a failure
        if broken["on"] and any(e.seq == 13 for e in events):
            raise ValueError("handler bug on 13")

    bus.subscribe(each, Ping)
    bus.subscribe_batch(pack, Ping)
    for account in (1, 2, 3):  # three accounts' events, one pack in the inline drain
        post(db, 1, account, account)
    assert bus.run_until_idle(timeout_s=30)
    assert sorted(singles) == [1, 2, 3]
    assert len(calls) == 1 and sorted(calls[0]) == [1, 2, 3]

    # a failing batch handler: the pack is rolled back and its rows run one by one, each with a list of one
    calls.clear()
    broken["on"] = True
    for account in (11, 12, 13):
        post(db, 1, account, account)
    assert bus.run_until_idle(timeout_s=30)
    assert sorted(calls[0]) == [11, 12, 13]
    assert [c for c in calls[1:] if c != [13]] in ([[11], [12]], [[12], [11]])
    with db.read_connection() as conn:
        assert sorted(conn.execute(select(effects.c.seq)).scalars().all()) == [1, 2, 3, 11, 12]
    assert count(db, bus_events_history, bus_events_history.c.processing_state == FAILED) == 1


def test_batch_queue_gets_a_pack_at_once_and_runs_what_it_hands_back_one_by_one(db_url: str, make_db: Any,
                                                                                  make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db, max_failure_retry=2, retry_delays=ZERO)
    singles: list[int] = []
    batches: list[list[int]] = []
    broken = {"on": False}

    def one(n: Any) -> None:
        singles.append(n.payload["seq"])

    def many(ns: list[Any]) -> list[Any]:
        batches.append(sorted(n.payload["seq"] for n in ns))
        if broken["on"]:
            raise ValueError("batch handler bug")
        return [n for n in ns if n.payload["seq"] % 2 == 0]  # the even ones are left to `one`

    bus.register_queue("svc:batched", one, transactional=False, batch_handler=many)
    bus.register_queue("svc:other", lambda n: singles.append(-n.payload["seq"]), transactional=False)
    with db.transaction(internal_context(1)) as uow:
        bus.schedule_many(uow, "svc:batched", [({"seq": s}, uow.now, 100 + s) for s in range(1, 6)])
        bus.schedule(uow, "svc:other", {"seq": 9}, uow.now, account_record_id=200)
    d = Dispatcher(bus)
    groups = d.claim(10)  # a worker's claim: six accounts' groups, two queues in one pack
    assert sum(len(g) for g in groups) == 6
    d.run_pack(groups)
    assert batches == [[1, 2, 3, 4, 5]]  # the batch queue's rows at once, the other queue's row on its own
    assert sorted(singles) == [-9, 2, 4]
    assert count(db, notifications) == 0
    assert count(db, notifications_history, notifications_history.c.processing_state == PROCESSED) == 6

    # a batch handler that raises: every row runs through the single handler
    broken["on"] = True
    batches.clear()
    singles.clear()
    with db.transaction(internal_context(1)) as uow:
        bus.schedule_many(uow, "svc:batched", [({"seq": s}, uow.now, 100 + s) for s in (11, 12, 13)])
    d.run_pack(d.claim(10))
    assert batches == [[11, 12, 13]] and sorted(singles) == [11, 12, 13]
    assert count(db, notifications) == 0
    assert count(db, notifications_history, notifications_history.c.processing_state == PROCESSED) == 9


def test_batch_subscription_sees_one_tenant_at_a_time(db_url: str, make_db: Any, make_bus: Any) -> None:
    db = make_db(db_url)
    bus = make_bus(db)
    calls: list[tuple[int, list[int], list[int]]] = []

    def pack(uow: Any, events: list[Ping]) -> None:
        calls.append((uow.tenant, sorted(e.tenant_record_id for e in events), sorted(e.seq for e in events)))

    bus.subscribe_batch(pack, Ping)
    post(db, 1, 10, 1)
    post(db, 2, 20, 2)
    post(db, 1, 11, 3)
    assert bus.run_until_idle(timeout_s=30)  # the inline drain runs the three rows as one pack
    assert sorted(calls) == [(1, [1, 1], [1, 3]), (2, [2], [2])]


def test_an_others_only_queue_goes_to_the_other_nodes_and_a_dead_takers_rows_to_any(db_url: str, make_db: Any,
                                                                                    make_bus: Any) -> None:
    """Billing-run helpers: a node's notification of such a queue is never claimed by that node; reaped from a dead
    node that had taken it, it goes to any live node, its creator included (its creating owner is the dead node)."""
    db_a, db_b = make_db(db_url), make_db(db_url)
    a = make_bus(db_a, node_name="node-a")
    b = make_bus(db_b, node_name="node-b", heartbeat_interval=timedelta(milliseconds=100),
                 reap_threshold=timedelta(seconds=5), reap_schedule=timedelta(milliseconds=100))
    for bus in (a, b):
        bus.register_queue("test:helpers", lambda n: None, transactional=False, others_only=True)
    with db_a.transaction(internal_context(1)) as uow:
        a.schedule_many(uow, "test:helpers", [({"n": i}, uow.now, None) for i in range(3)], tenant_record_id=1)
    da, db_ = Dispatcher(a), Dispatcher(b)
    da._beat()
    db_._beat()
    assert da.claim(5) == []  # node a never takes its own
    taken = db_.claim(1)
    assert len(taken) == 1 and taken[0][0].processing_owner == "node-b"
    # node b dies with it: its heartbeat is old
    with db_a.transaction(internal_context()) as uow:
        uow.conn.execute(update(node_infos).where(node_infos.c.node_name == "node-b").values(
            updated_date=b.wall_clock.utcnow() - timedelta(minutes=30)))
    assert da.reap() == 1  # node a's housekeeping gives the dead node's row back
    again = da.claim(5)  # the reaped row is now on behalf of node-b: node a takes it, not the two others
    assert [[e.processing_owner for e in g] for g in again] == [["node-a"]]
    assert count(db_a, notifications, notifications.c.creating_owner == "node-a",
                 notifications.c.processing_state == "AVAILABLE") == 2


def test_the_heartbeat_beats_with_every_pooled_connection_taken_and_during_a_slow_reap(
        pg_url: str, make_db: Any, make_bus: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose pooled connections are all held (a loaded server) and whose reaper is stuck still beats: its
    heartbeat has a connection and a thread of its own. Else the other nodes take it for dead and redo its work."""
    db = make_db(pg_url)
    bus = make_bus(db, node_name="loaded-node", heartbeat_interval=timedelta(milliseconds=100),
                   reap_schedule=timedelta(milliseconds=100))
    reaping = threading.Event()

    def stuck_reap(*_args: Any, **_kwargs: Any) -> int:
        reaping.set()
        time.sleep(3)
        return 0

    monkeypatch.setattr(store, "reap", stuck_reap)
    d = Dispatcher(bus)
    d.start(dispatch=False)
    assert reaping.wait(5)
    held = [db.engine.connect() for _ in range(db.pool_size * 2)]  # the pool and its overflow: all taken
    try:
        for conn in held:
            conn.exec_driver_sql("SELECT 1")

        outside = create_engine(db.url, poolclass=NullPool)  # the test's own reads, outside the node's pool

        def last_beat() -> datetime:
            with outside.connect() as c:
                return c.execute(select(node_infos.c.updated_date).where(
                    node_infos.c.node_name == "loaded-node")).scalar_one()

        before = last_beat()
        assert wait_for(lambda: last_beat() > before, timeout=2)
        again = last_beat()
        assert wait_for(lambda: last_beat() > again, timeout=2)
    finally:
        for conn in held:
            conn.close()
        d.stop()


def test_a_node_vacuums_the_queue_tables_after_claiming_enough_rows(db_url: str, make_db: Any,
                                                                      make_bus: Any) -> None:
    """Every row done is deleted: after `vacuum_after_rows` claimed rows a node vacuums the queue tables
    (PostgreSQL), so that claims do not walk the dead rows of a drained backlog. SQLite: nothing to do."""
    db = make_db(db_url)
    bus = make_bus(db, node_name="vacuuming-node", vacuum_after_rows=6)
    bus.subscribe(lambda uow, ev: None, Ping)
    d = Dispatcher(bus)
    d._beat()

    def vacuums() -> int:
        with create_engine(db.url, poolclass=NullPool).connect() as c:
            c.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return int(c.exec_driver_sql("SELECT vacuum_count FROM pg_stat_user_tables "
                                         "WHERE relname = 'bus_events'").scalar_one())

    post(db, 1, 1, 1, 2, 3)
    post(db, 1, 2, 4)
    assert sum(len(g) for g in d.claim(10)) == 4
    assert not d.vacuum_if_due()  # 4 claimed: not yet
    if db.is_sqlite:
        post(db, 1, 3, 5, 6)
        d.claim(10)
        assert not d.vacuum_if_due()
        return
    before = vacuums()
    post(db, 1, 3, 5, 6)
    assert sum(len(g) for g in d.claim(10)) == 2
    assert d.vacuum_if_due()  # 6 claimed
    assert wait_for(lambda: vacuums() == before + 1, timeout=10)
    assert not d.vacuum_if_due()  # counted again from there


def test_an_inline_drain_vacuums_the_queue_tables_too(pg_url: str, make_db: Any, make_bus: Any) -> None:
    """Without dispatcher threads (an embedding program, `billow bill`, the benches' `billow bill` months) there is
    no reaper: the drain itself vacuums after `vacuum_after_rows` claimed rows. A year of billing 10,000 accounts
    this way (and by a clock move whose processes each claimed less than the threshold) left 755,000 dead rows in
    `bus_events`, and each claim walked them."""
    db = make_db(pg_url)
    bus = make_bus(db, node_name="inline-vacuum", vacuum_after_rows=6)
    bus.subscribe(lambda uow, ev: None, Ping)

    def vacuums() -> int:
        with create_engine(db.url, poolclass=NullPool).connect() as c:
            c.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return int(c.exec_driver_sql("SELECT vacuum_count FROM pg_stat_user_tables "
                                         "WHERE relname = 'bus_events'").scalar_one())

    before = vacuums()
    post(db, 1, 1, 1, 2, 3)
    assert bus.run_until_idle(timeout_s=30)
    assert count(db, bus_events) == 0
    time.sleep(1.5)  # the statistics report lags
    assert vacuums() == before  # 3 claimed: not yet
    post(db, 1, 2, 4, 5, 6)
    post(db, 1, 3, 7)
    assert bus.run_until_idle(timeout_s=30)  # 7 claimed: the next pass of the drain vacuums
    assert wait_for(lambda: vacuums() == before + 1, timeout=10)


def test_the_reapers_pass_analyzes_stale_tables_but_never_the_queue_tables(db_url: str, make_db: Any,
                                                                             make_bus: Any) -> None:
    """`Dispatcher.upkeep` takes the statistics autovacuum would (here it is off) of a table that changed, and
    never those of the queue tables, however many rows they hold: taken at the wrong moment (empty), they would
    make the claims read every ready row. It looks every `analyze_check_every`; a table that only churns is
    analyzed at most every `analyze_every`, one that more than doubled since its last analysis at once."""
    db = make_db(db_url)
    bus = make_bus(db, node_name="upkeep-node", analyze_every=timedelta(0), analyze_check_every=timedelta(0))
    bus.subscribe(lambda uow, ev: None, Ping)
    d = Dispatcher(bus)
    d._beat()
    if db.is_sqlite:
        d.upkeep()  # nothing to analyze, nothing raised
        return

    def analyses() -> dict[str, int]:
        with create_engine(db.url, poolclass=NullPool).connect() as c:
            return {r[0]: int(r[1]) for r in c.exec_driver_sql(
                "SELECT relname, analyze_count FROM pg_stat_user_tables "
                "WHERE relname IN ('bus_events', 'notifications', 'bus_test_effects')")}

    def add_effects(n: int) -> None:
        with db.engine.begin() as c:
            c.execute(effects.insert(), [{"seq": i, "account": None} for i in range(n)])
            c.exec_driver_sql("SELECT pg_stat_force_next_flush()")  # counted at commit

    def analyzed_once_more(before: int) -> bool:
        return wait_for(lambda: (d.upkeep(), analyses()["bus_test_effects"] == before + 1)[1], timeout=10)

    post(db, 1, None, *range(200))
    add_effects(200)
    before = analyses()
    assert analyzed_once_more(before["bus_test_effects"])
    after = analyses()
    assert (after["bus_events"], after["notifications"]) == (before["bus_events"], before["notifications"])

    # churned, not grown past twice its rows (200 more of 400): left while analyzed within the hour
    d.cfg.analyze_every = timedelta(hours=1)
    add_effects(200)
    time.sleep(1.5)
    d.upkeep()
    assert analyses()["bus_test_effects"] == after["bus_test_effects"]
    # one row more and it has more than doubled since its analysis (401 of 200): analyzed at once
    add_effects(1)
    assert analyzed_once_more(after["bus_test_effects"])
    grown = analyses()["bus_test_effects"]

    # the look itself is every `analyze_check_every`
    d.cfg.analyze_every = timedelta(0)
    d.cfg.analyze_check_every = timedelta(hours=1)
    add_effects(1000)
    time.sleep(1.5)
    d.upkeep()
    assert analyses()["bus_test_effects"] == grown
    assert d._analyzed_at is not None
    d._analyzed_at -= 3601
    assert analyzed_once_more(grown)


def test_draining_without_threads_analyzes_a_grown_table_too(db_url: str, make_db: Any, make_bus: Any) -> None:
    """An embedded Billow that drains its bus in the caller's thread (`run_until_idle`, no reaper) looks for
    stale tables as the reaper would: without it a deployment loading its first accounts that way kept the plans
    made while its tables were empty (10,000 accounts: 126 s instead of 74 s)."""
    db = make_db(db_url)
    bus = make_bus(db, node_name="inline-node", analyze_check_every=timedelta(0))
    bus.subscribe(lambda uow, ev: None, Ping)
    if db.is_sqlite:
        assert bus.run_until_idle(timeout_s=5)
        return

    def analyses() -> int:
        with create_engine(db.url, poolclass=NullPool).connect() as c:
            return int(c.exec_driver_sql("SELECT analyze_count FROM pg_stat_user_tables "
                                         "WHERE relname = 'bus_test_effects'").scalar_one())

    before = analyses()
    with db.engine.begin() as c:
        c.execute(effects.insert(), [{"seq": i, "account": None} for i in range(500)])
        c.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    assert wait_for(lambda: (bus.run_until_idle(timeout_s=5), analyses() == before + 1)[1], timeout=10)


def test_a_claim_reads_a_few_pages_whatever_the_queues_statistics_say(pg_url: str, make_db: Any) -> None:
    """PostgreSQL. The queue tables swing between empty and full faster than any analysis follows: statistics
    taken when `bus_events` held 3 rows (of 20,003 just deleted) made the heads query look for each ready row's
    earlier rows through the primary key's range `record_id < x`, every row read for every row (1.9 s a claim
    at 5,000 events), and the claim's UPDATE walk every ready row through the state index. Whatever the
    statistics, a claim reads a few pages for each row it claims (`store._AVAILABLE`)."""
    db = make_db(pg_url)
    with db.engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO bus_events (class_name, event_json, created_date, creating_owner, processing_state, "
            "search_key1, search_key2) SELECT 'Ping', '{}', now(), 'old', "
            "CASE WHEN g <= 3 THEN 'IN_PROCESSING' ELSE 'DONE' END, g, 1 FROM generate_series(1, 20003) g")
        c.exec_driver_sql("DELETE FROM bus_events WHERE processing_state = 'DONE'")
    db.analyze(store.BUS)
    # a backlog: 3,000 ready events of 1,000 accounts, each account's three in posting order
    with db.engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO bus_events (class_name, event_json, created_date, creating_owner, processing_state, "
            "search_key1, search_key2) SELECT 'Ping', '{}', now(), 'n', 'AVAILABLE', 100000 + g %% 1000, 1 "
            "FROM generate_series(1, 3000) g")
    wall = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    # pages read of the queue table and its indexes (the backend's counts, which earlier transactions fed too)
    fetched = ("SELECT sum(pg_stat_get_xact_blocks_fetched(c.oid)) FROM pg_class c "
               "WHERE c.relname LIKE 'bus_events%%' AND c.relname NOT LIKE 'bus_events_history%%'")
    with db.engine.begin() as conn:
        before = conn.exec_driver_sql(fetched).scalar_one()
        groups = store.claim(conn, store.BUS, owner="claimer", now=wall, wall=wall, claim_time=timedelta(minutes=5),
                             rows=300, group_size=10, skip_locked=True)
        pages = conn.exec_driver_sql(fetched).scalar_one() - before
    assert [len(g) for g in groups] == [3] * 100
    assert all(e.search_key1 == g[0].search_key1 for g in groups for e in g)
    assert pages < 10_000, pages  # measured 2,745; the statements before (state index, key range): 30,656
