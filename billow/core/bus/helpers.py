"""Bus helper processes: more of one node's bus, in processes of their own (PostgreSQL).

The bus's handlers are Python (an invoice run after each new subscription, a payment after each new invoice), so a
process delivers on one core whatever its number of worker threads: during a bulk load's first invoices the main
process ran at 95% of a core while PostgreSQL used 45% of the other. A helper is a process that builds the
application again (through the factory the application hands over, as `billing_pool` does: this module never
imports the application) on the same database, and starts its bus. It claims from the same tables as another node
would, under a node name of its own, so order per account, delivery once and the takeover of a dead helper's claims
are those of nodes (`billow.core.bus.dispatcher`). What a unit of work posts in the main process is still handed to
the main process's dispatcher (STICKY_EVENTS); helpers share what goes to the tables (a backlog, a bulk load, the
events of billing worker processes, due notifications) and run in their own process what their handlers post.

On a test clock, helpers read the parent's clock from shared memory (`SharedClock`) and see each move at once. A
helper that dies is started again a few seconds later under a new name (its claims are taken over once its
heartbeat is silent, as a dead node's); a helper whose parent is gone stops by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from billow.core.bus.config import BusConfig, default_node_name
from billow.core.clock import SharedClock, SystemClock, TestClock, to_micros
from billow.core.gcpause import freeze_start_up
from billow.core.logs import JsonFormatter, configure

if TYPE_CHECKING:
    from datetime import datetime
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess

    from billow.core.clock import Clock

log = logging.getLogger("billow.bus")

ENVIRONMENT = "BILLOW_BUS_PROCESSES"


class HelperApp(Protocol):
    """What a helper process runs: the application built again, its bus started by `start`."""

    def start(self) -> None: ...

    def close(self) -> None: ...


# (database url, clock, bus settings with the helper's node name, the application's own argument) -> the app
HelperFactory = Callable[[str, "Clock", BusConfig, Any], HelperApp]


def default_bus_processes(*, server: bool, environ: dict[str, str] | None = None) -> int:
    """`BILLOW_BUS_PROCESSES` when set (0 for none); else, for `billow serve` in one process, half the CPUs beside
    the main process (at most 4: 1 on 2 CPUs); else 0: an embedding program opts in, as for billing worker
    processes (helpers are started with multiprocessing's "spawn", which imports the program's main module again).
    A value that is not a whole number raises ValueError naming the variable."""
    value = (os.environ if environ is None else environ).get(ENVIRONMENT, "").strip()
    if value:
        if not value.isdigit():
            raise ValueError(f"{ENVIRONMENT}: {value!r} is not a whole number of processes (0 for none)")
        return int(value)
    return max(0, min(4, (os.cpu_count() or 1) // 2)) if server else 0


def _parents_logs() -> str | None:
    """The level of this process's JSON logs (`billow.core.logs.configure`, as `billow serve` sets them), which a
    helper takes too; None when the program logs its own way (a helper then keeps Python's defaults)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return logging.getLevelName(root.level)
    return None


def _run(factory: HelperFactory, url: str, shared: Any, config: BusConfig, extra: Any, parent: Connection,
         logs: str | None) -> None:
    """A helper process's main: its app until the parent says stop, sends SIGTERM/SIGINT, or is gone.

    The parent talks through a pipe of its own per helper, not a shared `multiprocessing.Event`: a process killed
    while it held such an Event's lock would block every other process that waits on it, and a pipe's end of file
    also says that the parent died (SIGKILL) without stopping it."""
    if logs is not None:
        configure(logs, access_log=False)
    asked = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: asked.set())
    clock: Clock = SharedClock(shared) if shared is not None else SystemClock()
    app = factory(url, clock, config, extra)
    freeze_start_up()
    app.start()
    try:
        parent.send("ready")
        while not asked.is_set():
            if parent.poll(0.5):
                parent.recv()  # "stop"
                break
    except (EOFError, OSError):  # nobody would stop us
        log.warning("bus helper %s: its parent process is gone, stopping", config.node_name)
    finally:
        app.close()  # the bus finishes its packs and releases the claims not begun


class BusHelpers:
    """`processes` helper processes of this node's bus, started by `start` and stopped by `stop`."""

    def __init__(self, factory: HelperFactory, url: str, *, processes: int, clock: Clock, config: BusConfig,
                 extra: Any = None, restart_after: float = 5.0) -> None:
        self.processes = processes
        self._factory, self._url, self._config, self._extra = factory, url, config, extra
        self._ctx = multiprocessing.get_context("spawn")  # spawn, not fork: this process runs threads
        self._shared: Any = None
        if isinstance(clock, TestClock) and not isinstance(clock, SharedClock):
            # without a lock: a helper killed while holding one would stop this clock. One aligned 64-bit word
            # is read and written whole.
            self._shared = self._ctx.RawValue("q", to_micros(clock.utcnow()))
            clock.on_change(self._follow, first=True)
        self._procs: list[SpawnProcess | None] = [None] * processes
        self._pipes: list[Connection | None] = [None] * processes
        self._ready = [False] * processes
        self._names: list[str] = [""] * processes
        self._restart_after = restart_after
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None
        self._stopping = threading.Event()

    def _follow(self, now: datetime) -> None:
        self._shared.value = to_micros(now)

    @property
    def node_names(self) -> list[str]:
        """The node names the helpers claim under now (a restarted helper gets a new one)."""
        with self._lock:
            return [n for n in self._names if n]

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._procs if p is not None and p.pid is not None]

    def _spawn(self, slot: int) -> None:
        # a name of its own per start: a restarted helper must not answer for the dead one's claims
        name = f"{default_node_name()[:38]}-h{slot}-{uuid.uuid4().hex[:4]}"
        mine, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_run, name=f"billow-bus-helper-{slot}", daemon=True,
            args=(self._factory, self._url, self._shared,
                  replace(self._config, node_name=name, helper_of=self._config.node_name), self._extra, theirs,
                  _parents_logs()))
        proc.start()
        theirs.close()
        with self._lock:
            old = self._pipes[slot]
            self._procs[slot], self._pipes[slot], self._ready[slot], self._names[slot] = proc, mine, False, name
        if old is not None:
            old.close()

    def start(self) -> None:
        if self.processes <= 0 or self._watchdog is not None:
            return
        self._stopping.clear()
        for slot in range(self.processes):
            self._spawn(slot)
        self._watchdog = threading.Thread(target=self._watch, name="billow-bus-helpers", daemon=True)
        self._watchdog.start()
        log.info("bus helper processes started (%d): %s", self.processes, ", ".join(self.node_names))

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Until every helper has started its bus (True), or the timeout."""
        deadline = time.monotonic() + timeout
        for slot in range(self.processes):
            with self._lock:
                pipe, ready = self._pipes[slot], self._ready[slot]
            if ready:
                continue
            try:
                if pipe is None or not pipe.poll(max(0.0, deadline - time.monotonic())) or pipe.recv() != "ready":
                    return False
            except (EOFError, OSError):  # it died starting
                return False
            with self._lock:
                self._ready[slot] = self._ready[slot] or self._pipes[slot] is pipe
        return True

    def _watch(self) -> None:
        down: dict[int, float] = {}  # slot -> when its helper was found dead
        while not self._stopping.wait(0.5):
            for slot in range(self.processes):
                with self._lock:
                    proc, name = self._procs[slot], self._names[slot]
                if proc is None or proc.is_alive():
                    continue
                if slot not in down:
                    down[slot] = time.monotonic()
                    log.warning("bus helper %s ended (exit code %s): another starts in %.0f s", name, proc.exitcode,
                                self._restart_after)
                elif time.monotonic() - down[slot] >= self._restart_after and not self._stopping.is_set():
                    del down[slot]
                    self._spawn(slot)

    def stop_begin(self) -> None:
        """Ask every helper to stop (they finish their packs and release their other claims), without waiting."""
        self._stopping.set()
        with self._lock:
            pipes = [p for p in self._pipes if p is not None]
        for pipe in pipes:
            with contextlib.suppress(OSError):  # it is dead already
                pipe.send("stop")

    def stop(self, timeout: float | None = None) -> None:
        """Stop the helpers: each gets the bus's shutdown timeout (and a few seconds to start), then is killed."""
        self.stop_begin()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
            self.stop_begin()  # a helper the watchdog started meanwhile is told too (a second "stop" is ignored)
        deadline = time.monotonic() + (timeout if timeout is not None else self._config.shutdown_timeout + 10)
        with self._lock:
            procs = [p for p in self._procs if p is not None]
            pipes = [p for p in self._pipes if p is not None]
            self._procs, self._pipes = [None] * self.processes, [None] * self.processes
            self._names, self._ready = [""] * self.processes, [False] * self.processes
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("bus helper process %s did not stop in time: killed", proc.pid)
                proc.kill()
                proc.join(5)
        for pipe in pipes:
            pipe.close()
