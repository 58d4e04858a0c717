"""End-to-end figures of the persistent bus: events/s (post -> handled) and delivery latency.

    python bench/bus.py                                   # SQLite (a temporary file)
    python bench/bus.py --pg postgresql://postgres@127.0.0.1/billow_bench   # and PostgreSQL

The PostgreSQL database should be a scratch one: it is migrated and the bench leaves its
rows in the history tables. Throughput: N events posted in transactions of --batch events
over --accounts accounts while the dispatcher runs, timed until the last one is handled.
Latency: single-event transactions posted one after the other at a steady pace, measured
from just before commit to the handler's start (p50 / p99).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billow.core.bus import Bus, BusConfig  # noqa: E402
from billow.core.bus.event import BusEvent  # noqa: E402
from billow.core.bus.outbox import Outbox  # noqa: E402
from billow.core.context import internal_context  # noqa: E402
from billow.core.db.engine import Database  # noqa: E402
from billow.core.db.uow import UnitOfWork  # noqa: E402


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchEvent(BusEvent):
    event_type = "ACCOUNT_CHANGE"
    object_type = "ACCOUNT"
    posted_ns: int = 0
    phase: str = "throughput"


def run(url: str, events: int, accounts: int, batch: int, workers: int, latency_samples: int) -> None:
    db = Database(url, outbox=Outbox(BusConfig(workers=workers)))
    db.upgrade()
    bus = Bus(db)
    lock = threading.Lock()
    done = threading.Event()
    handled = {"throughput": 0, "latency": 0}
    latencies: list[float] = []
    target = {"throughput": events, "latency": latency_samples}

    def handler(uow: UnitOfWork, ev: BusEvent) -> None:
        now = time.time_ns()
        assert isinstance(ev, BenchEvent)
        with lock:
            handled[ev.phase] += 1
            if ev.phase == "latency":
                latencies.append((now - ev.posted_ns) / 1e6)
            if handled[ev.phase] >= target[ev.phase]:
                done.set()

    bus.subscribe(handler, BenchEvent)
    bus.run_until_idle(timeout_s=60)  # leftovers of an earlier run
    bus.start()
    try:
        t0 = time.perf_counter()
        posted = 0
        while posted < events:
            with db.transaction(internal_context(1)) as uow:
                for _ in range(min(batch, events - posted)):
                    uow.post(BenchEvent(tenant_record_id=1, account_record_id=1 + posted % accounts,
                                        posted_ns=time.time_ns()))
                    posted += 1
        t_posted = time.perf_counter() - t0
        if not done.wait(600):
            raise SystemExit(f"  timed out: {handled['throughput']}/{events} handled")
        elapsed = time.perf_counter() - t0
        done.clear()
        for i in range(latency_samples):
            with db.transaction(internal_context(1)) as uow:
                uow.post(BenchEvent(tenant_record_id=1, account_record_id=1 + i % accounts,
                                    posted_ns=time.time_ns(), phase="latency"))
            time.sleep(0.01)
        done.wait(120)
    finally:
        bus.stop()
        db.dispose()
    lat = sorted(latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    print(f"  throughput: {events} events in {elapsed:.2f} s = {events / elapsed:,.0f} events/s "
          f"(posting alone {events / t_posted:,.0f} events/s; {workers} workers, {accounts} accounts, "
          f"{batch} events per posting transaction)")
    print(f"  latency (post -> handler, {len(lat)} single-event commits): p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pg", help="PostgreSQL URL of a scratch database")
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--latency-samples", type=int, default=300)
    p.add_argument("--skip-sqlite", action="store_true")
    a = p.parse_args()
    if not a.skip_sqlite:
        with tempfile.TemporaryDirectory() as d:
            print("SQLite:")
            run(f"sqlite:///{d}/bench.db", a.events, a.accounts, a.batch, a.workers, a.latency_samples)
    if a.pg:
        print("PostgreSQL:")
        run(a.pg, a.events, a.accounts, a.batch, a.workers, a.latency_samples)


if __name__ == "__main__":
    main()
