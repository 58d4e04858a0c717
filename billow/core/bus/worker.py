"""A standalone dispatcher process: `python -m billow.core.bus.worker --url URL --setup module:function`.

`setup(bus)` registers the subscribers and queues (what `billow serve` does through the
application wiring). Used by the multi-process tests and the benchmark; it runs until
SIGTERM/SIGINT and prints `ready <node name>` once dispatching.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from datetime import timedelta
from typing import Any

from billow.core.bus.bus import Bus
from billow.core.bus.config import BusConfig
from billow.core.bus.outbox import Outbox
from billow.core.db.engine import Database


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "setup")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m billow.core.bus.worker")
    p.add_argument("--url", required=True)
    p.add_argument("--setup", required=True, help="module:function called with the Bus")
    p.add_argument("--path", action="append", default=[], help="added to sys.path first")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--claimed", type=int, default=10)
    p.add_argument("--pack-rows", type=int, default=None, help="rows a worker runs in one transaction "
                   "(default: BusConfig's)")
    p.add_argument("--node-name")
    p.add_argument("--heartbeat", type=float, default=None, help="seconds (default: BusConfig's)")
    p.add_argument("--reap-threshold", type=float, default=None, help="seconds (default: dead after 3 beats)")
    p.add_argument("--reap-schedule", type=float, default=None, help="seconds (default: one heartbeat)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    sys.path[:0] = args.path

    def seconds(value: float | None) -> timedelta | None:
        return None if value is None else timedelta(seconds=value)

    cfg = BusConfig(workers=args.workers, claimed=args.claimed, reap_threshold=seconds(args.reap_threshold),
                    reap_schedule=seconds(args.reap_schedule), poll_interval=args.poll)
    if args.pack_rows is not None:
        cfg.pack_rows = args.pack_rows
    if args.heartbeat is not None:
        cfg.heartbeat_interval = timedelta(seconds=args.heartbeat)
    if args.node_name:
        cfg.node_name = args.node_name
    db = Database(args.url, outbox=Outbox(cfg))
    bus = Bus(db)
    _load(args.setup)(bus)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    bus.start()
    print(f"ready {cfg.node_name}", flush=True)
    stop.wait()
    bus.stop()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
