"""Several dispatcher processes on one PostgreSQL database: shared work, exactly-once effects,
and redelivery of a SIGKILLed worker's claims after reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from billow.core.bus.tables import IN_PROCESSING, REAPED, bus_events, bus_events_history
from billow.core.context import internal_context
from tests.core.bus.bus_worker_support import Ping, effects

REPO = Path(__file__).resolve().parents[3]  # the repository (tests/core/bus/ is three levels down)


FAST_TAKEOVER = ("--heartbeat", "0.2", "--reap-threshold", "1.5", "--reap-schedule", "0.3")


def start_worker(url: str, node: str, *, sleep: float = 0.0, workers: int = 4,
                 timing: tuple[str, ...] = FAST_TAKEOVER, pack_rows: int | None = None) -> subprocess.Popen[str]:
    """A dispatcher process; `timing` are its heartbeat/reaper options (() for the defaults)."""
    env = dict(os.environ, BUS_TEST_SLEEP=str(sleep), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "billow.core.bus.worker", "--url", url, "--node-name", node,
         "--setup", "tests.core.bus.bus_worker_support:setup", "--path", str(REPO), "--workers", str(workers),
         *timing, *(("--pack-rows", str(pack_rows)) if pack_rows else ()), "--poll", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


def scalar(db: Any, q: Any) -> Any:
    with db.read_connection() as conn:
        return conn.execute(q).scalar_one()


def wait_until(cond: Any, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return bool(cond())


def post_many(db: Any, total: int, accounts: int, per_txn: int) -> None:
    seq = 0
    while seq < total:
        with db.transaction(internal_context(1)) as uow:
            for _ in range(min(per_txn, total - seq)):
                uow.post(Ping(tenant_record_id=1, account_record_id=1 + seq % accounts, seq=seq))
                seq += 1


def test_two_worker_processes_handle_10000_events_exactly_once(pg_url: str, make_db: Any) -> None:
    db = make_db(pg_url)
    db.outbox.config.node_name = "poster"  # writes only
    procs = [start_worker(pg_url, "worker-a"), start_worker(pg_url, "worker-b")]
    try:
        post_many(db, 10_000, accounts=200, per_txn=100)
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(effects)) >= 10_000
                          and scalar(db, select(func.count()).select_from(bus_events)) == 0)
    finally:
        for p in procs:
            stop(p)
    assert scalar(db, select(func.count()).select_from(effects)) == 10_000
    assert scalar(db, select(func.count(effects.c.seq.distinct()))) == 10_000
    with db.read_connection() as conn:
        owners = dict(conn.execute(select(bus_events_history.c.processing_owner, func.count())
                                   .group_by(bus_events_history.c.processing_owner)).all())
        rows = conn.execute(select(effects.c.account, effects.c.seq).order_by(effects.c.id)).all()
    assert set(owners) == {"worker-a", "worker-b"} and sum(owners.values()) == 10_000
    last: dict[int, int] = {}
    for account, seq in rows:  # per-account posting order held across both processes
        assert seq > last.get(account, -1), (account, seq)
        last[account] = seq


def test_sigkilled_worker_claims_are_reaped_and_redelivered(pg_url: str, make_db: Any) -> None:
    db = make_db(pg_url)
    db.outbox.config.node_name = "poster"
    post_many(db, 400, accounts=40, per_txn=40)  # all pending before the victim starts
    # small packs: the victim commits some effects while it still holds claims (its whole claim would otherwise
    # run in one pack per worker, committed at the same moment)
    victim = start_worker(pg_url, "victim", sleep=0.05, pack_rows=20)
    survivor = None
    try:
        claimed = select(func.count()).select_from(bus_events).where(
            bus_events.c.processing_owner == "victim", bus_events.c.processing_state == IN_PROCESSING)
        assert wait_until(lambda: scalar(db, claimed) > 0
                          and scalar(db, select(func.count()).select_from(effects)) > 0, timeout=60)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert scalar(db, claimed) > 0  # the dead node still holds claims
        survivor = start_worker(pg_url, "survivor")
        assert wait_until(lambda: scalar(db, select(func.count()).select_from(bus_events)) == 0)
    finally:
        stop(victim)
        if survivor is not None:
            stop(survivor)
    assert scalar(db, select(func.count()).select_from(effects)) == 400
    assert scalar(db, select(func.count(effects.c.seq.distinct()))) == 400
    with db.read_connection() as conn:
        reaped = conn.execute(select(bus_events_history.c.processing_owner).where(
            bus_events_history.c.processing_state == REAPED)).scalars().all()
        rows = conn.execute(select(effects.c.account, effects.c.seq).order_by(effects.c.id)).all()
    assert reaped and set(reaped) == {"victim"}
    last: dict[int, int] = {}
    for account, seq in rows:
        assert seq > last.get(account, -1), (account, seq)
        last[account] = seq
