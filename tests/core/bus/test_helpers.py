"""Bus helper processes (billow.core.bus.helpers): a node's bus in more processes, sharing the tables' work through
claims as nodes do, on the parent's test clock; a killed helper is replaced and its claims taken over; a helper
without its parent stops."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from billow.core.bus import store
from billow.core.bus.admin import nodes_info
from billow.core.bus.config import BusConfig
from billow.core.bus.helpers import BusHelpers, default_bus_processes
from billow.core.bus.tables import bus_events
from billow.core.clock import SharedClock, SystemClock, TestClock, to_micros
from tests.core.bus.bus_worker_support import alive, effects, helper_probe
from tests.core.bus.test_multiprocess import post_many, scalar, wait_until

REPO = Path(__file__).resolve().parents[3]
START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
# a dead helper is found after 1.5 s of silent heartbeats, and its claims reaped within 0.3 s
FAST = {"heartbeat_interval": timedelta(seconds=0.2), "reap_threshold": timedelta(seconds=1.5),
        "reap_schedule": timedelta(seconds=0.3), "poll_interval": 0.2}


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_a_shared_clock_reads_the_instant_to_the_microsecond(instant: datetime) -> None:
    shared = multiprocessing.get_context("spawn").RawValue("q", to_micros(instant))
    assert SharedClock(shared).utcnow() == instant


def test_a_shared_clock_is_moved_only_by_its_owner() -> None:
    clock = TestClock(START)
    helpers = BusHelpers(helper_probe, "postgresql://unused", processes=1, clock=clock, config=BusConfig())
    clock.add(timedelta(days=3, microseconds=7))
    shared = SharedClock(helpers._shared)
    assert shared.utcnow() == START + timedelta(days=3, microseconds=7)
    clock.add_months(1)
    assert shared.utcnow() == datetime(2024, 2, 4, 12, 0, 0, 7, tzinfo=UTC)
    with pytest.raises(RuntimeError, match="moved by the process that owns it"):
        shared.set(START)
    # on the system clock there is nothing to share: helpers read their own
    assert BusHelpers(helper_probe, "postgresql://unused", processes=1, clock=SystemClock(),
                      config=BusConfig())._shared is None


def test_how_many_helpers_by_default() -> None:
    assert default_bus_processes(server=False, environ={}) == 0
    assert default_bus_processes(server=True, environ={}) == max(0, min(4, (os.cpu_count() or 1) // 2))
    assert default_bus_processes(server=True, environ={"BILLOW_BUS_PROCESSES": "3"}) == 3
    assert default_bus_processes(server=False, environ={"BILLOW_BUS_PROCESSES": "0"}) == 0
    with pytest.raises(ValueError, match="BILLOW_BUS_PROCESSES: 'two' is not a whole number"):
        default_bus_processes(server=True, environ={"BILLOW_BUS_PROCESSES": "two"})


def _effects(db: Any) -> list[Any]:
    with db.read_connection() as conn:
        return list(conn.execute(select(effects).order_by(effects.c.id)))


def _delivered_once_in_order(rows: list[Any], total: int) -> None:
    assert sorted(r.seq for r in rows) == list(range(total))
    by_account: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        by_account[r.account].append(r.seq)
    assert all(seqs == sorted(seqs) for seqs in by_account.values())


def test_helpers_share_a_backlog_once_in_order_on_the_parents_test_clock(pg_url: str, make_db: Any) -> None:
    clock = TestClock(START)
    db = make_db(pg_url, clock)
    db.outbox.config.node_name = "poster"  # writes only: every event is the helpers' to deliver
    helpers = BusHelpers(helper_probe, pg_url, processes=2, clock=clock, config=BusConfig(workers=2, pack_rows=16))
    helpers.start()
    try:
        assert helpers.wait_ready(60)
        moved = clock.add(timedelta(days=10, hours=1))  # after they started: they follow each move
        post_many(db, 2000, accounts=50, per_txn=100)
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(effects)) >= 2000
                          and scalar(db, select(func.count()).select_from(bus_events)) == 0, timeout=120)
        rows = _effects(db)
        _delivered_once_in_order(rows, 2000)
        assert {r.node for r in rows} == set(helpers.node_names)  # both helpers took a share
        assert {r.at for r in rows} == {moved.isoformat()}
        assert all(r.frozen > 0 for r in rows)  # each froze its start-up heap (gcpause.freeze_start_up)
        with db.read_connection() as conn:  # they beat as nodes, but nodesInfo lists nodes, not their helpers
            beating = {r.node_name for r in store.node_rows(conn)}
            listed = {n["nodeName"] for n in nodes_info(conn)}
            live = store.live_nodes(conn, datetime.now(UTC), timedelta(minutes=1))  # whom a billing run asks
        assert set(helpers.node_names) <= beating and not set(helpers.node_names) & (listed | live)
        pids = helpers.pids()
    finally:
        t = time.monotonic()
        helpers.stop()
    assert time.monotonic() - t < 30
    assert not any(alive(pid) for pid in pids)


def test_a_killed_helper_is_replaced_and_its_claims_are_taken_over(pg_url: str, make_db: Any) -> None:
    db = make_db(pg_url)
    db.outbox.config.node_name = "poster"
    helpers = BusHelpers(helper_probe, pg_url, processes=1, clock=SystemClock(), extra=0.02, restart_after=0.5,
                         config=BusConfig(workers=2, pack_rows=10, **FAST))  # type: ignore[arg-type]
    helpers.start()
    try:
        assert helpers.wait_ready(60)
        [first], [victim] = helpers.node_names, helpers.pids()
        post_many(db, 400, accounts=20, per_txn=50)
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(effects)) >= 40, timeout=60)
        os.kill(victim, signal.SIGKILL)  # mid-backlog, holding claims
        assert wait_until(lambda: bool(helpers.pids()) and helpers.pids()[0] != victim, timeout=30)
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(effects)) >= 400
                          and scalar(db, select(func.count()).select_from(bus_events)) == 0, timeout=120)
        rows = _effects(db)
        _delivered_once_in_order(rows, 400)
        [second] = helpers.node_names
        assert second != first and {r.node for r in rows} == {first, second}
    finally:
        helpers.stop()


ORPHANING_PARENT = """
import sys, time
sys.path[:0] = [{repo!r}]
from billow.core.bus import store
from billow.core.bus.admin import nodes_info
from billow.core.bus.config import BusConfig
from billow.core.bus.helpers import BusHelpers
from billow.core.clock import SystemClock
from tests.core.bus.bus_worker_support import helper_probe

if __name__ == "__main__":
    helpers = BusHelpers(helper_probe, {url!r}, processes=1, clock=SystemClock(), config=BusConfig(workers=1))
    helpers.start()
    assert helpers.wait_ready(60)
    print(helpers.pids()[0], flush=True)
    time.sleep(600)
"""


def test_a_helper_whose_parent_was_killed_stops(pg_url: str, make_db: Any, tmp_path: Path) -> None:
    make_db(pg_url)  # migrated, with the test tables
    script = tmp_path / "parent.py"
    script.write_text(ORPHANING_PARENT.format(repo=str(REPO), url=pg_url))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    helper = int(parent.stdout.readline())
    assert alive(helper)
    parent.kill()
    parent.wait()
    assert wait_until(lambda: not alive(helper), timeout=30)
