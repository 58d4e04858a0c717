"""A dead node's work is taken over in under a minute with the default settings, and a slow one's never.

Two dispatcher processes on one PostgreSQL database. A node is dead when its heartbeat has been silent for
3 intervals of 10 s (BusConfig defaults); a live node beats from its own thread even while a handler runs,
and a row whose handler has begun is locked in that handler's transaction, out of the reaper's reach."""

from __future__ import annotations

import signal
import time
from typing import Any

from sqlalchemy import func, select

from billow.core.bus.config import BusConfig
from billow.core.bus.tables import IN_PROCESSING, REAPED, bus_events, bus_events_history
from tests.core.bus.bus_worker_support import effects
from tests.core.bus.test_multiprocess import post_many, scalar, start_worker, stop, wait_until


def test_the_default_takeover_is_under_a_minute() -> None:
    cfg = BusConfig()
    assert cfg.dead_after.total_seconds() == 30 and cfg.reap_every.total_seconds() == 10


def test_a_killed_nodes_claims_are_delivered_once_within_a_minute(pg_url: str, make_db: Any) -> None:
    db = make_db(pg_url)
    db.outbox.config.node_name = "poster"
    post_many(db, 600, accounts=60, per_txn=60)
    # small packs: the victim commits some effects while it still holds claims (its whole claim would otherwise
    # run in one pack per worker, committed at the same moment)
    victim = start_worker(pg_url, "victim", sleep=0.05, timing=(), pack_rows=20)
    survivor = None
    try:
        held = select(func.count()).select_from(bus_events).where(
            bus_events.c.processing_owner == "victim", bus_events.c.processing_state == IN_PROCESSING)
        assert wait_until(lambda: scalar(db, held) > 0
                          and scalar(db, select(func.count()).select_from(effects)) > 0, timeout=60)
        survivor = start_worker(pg_url, "survivor", sleep=0.01, timing=())
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(timeout=30)
        assert scalar(db, held) > 0  # the dead node still holds claims
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(bus_events)) == 0, timeout=90)
        took = time.monotonic() - killed_at
    finally:
        stop(victim)
        if survivor is not None:
            stop(survivor)
    print(f"takeover: every event delivered {took:.1f} s after the kill")
    assert took < 60
    assert scalar(db, select(func.count()).select_from(effects)) == 600
    assert scalar(db, select(func.count(effects.c.seq.distinct()))) == 600
    with db.read_connection() as conn:
        reaped = conn.execute(select(bus_events_history.c.processing_owner).where(
            bus_events_history.c.processing_state == REAPED)).scalars().all()
    assert reaped and set(reaped) == {"victim"}


def test_a_slow_handler_on_a_live_node_is_not_taken_over(pg_url: str, make_db: Any) -> None:
    # dead after 3 silent beats of 0.2 s; the handler runs 3 s, five times the threshold
    db = make_db(pg_url)
    db.outbox.config.node_name = "poster"
    short = ("--heartbeat", "0.2", "--reap-schedule", "0.2")
    slow = start_worker(pg_url, "slow", sleep=3.0, workers=1, timing=short)
    other = None
    try:
        post_many(db, 1, accounts=1, per_txn=1)
        taken = select(func.count()).select_from(bus_events)
        assert wait_until(lambda: scalar(db, taken) == 0 or _in_processing(db, "slow"), timeout=30)
        other = start_worker(pg_url, "other", timing=short)
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(effects)) == 1, timeout=60)
        time.sleep(1.0)  # the other node's reaper ran several times meanwhile
    finally:
        stop(slow)
        if other is not None:
            stop(other)
    with db.read_connection() as conn:
        nodes = conn.execute(select(effects.c.node)).scalars().all()
        reaped = conn.execute(select(func.count()).select_from(bus_events_history).where(
            bus_events_history.c.processing_state == REAPED)).scalar_one()
    assert nodes == ["slow"] and reaped == 0


def _in_processing(db: Any, node: str) -> bool:
    return bool(scalar(db, select(func.count()).select_from(bus_events).where(
        bus_events.c.processing_owner == node, bus_events.c.processing_state == IN_PROCESSING)))
