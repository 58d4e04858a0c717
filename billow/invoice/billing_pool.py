"""Worker processes for big billing runs (PostgreSQL).

A billing run is bound by Python (reading each account's invoices, generating, building rows), so one process
uses one core whatever the number of threads. DESIGN.md lets billing runs partition by account: the run that
claimed a batch of accounts (their `invoice_schedule` rows carry the run as owner) hands it to one of a few
processes, each with its own connections and services, which bills it exactly as `bill_batch` does in the
caller (one transaction per batch; account by account, then parked, on failure). The pool is started at the
first run big enough to need it and kept for the next ones; `InvoiceService.close` stops it.

Children use a settable clock set to the caller's time for each batch when the caller runs on a test clock
(so test-clock runs stamp the same instants), and the system clock otherwise. What a child runs is built by
a *worker factory* the application hands over (its `billing_worker`, a module-level function so that
"spawn" can find it by name): this module never imports the application.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from billow.core.gcpause import freeze_start_up

if TYPE_CHECKING:
    from billow.core.clock import Clock
    from billow.invoice.billing_run import RunReport
    from billow.invoice.generator import GeneratorConfig


class BillingWorker(Protocol):
    """What a worker process bills with (a `BillingRun` and its database's clock)."""

    def bill_batch(self, tenant: int, claimed: dict[int, list[tuple[str, date]]], owner: str,
                   report: RunReport) -> None: ...

    @property
    def clock(self) -> Clock: ...


# (database url, test clock?, generator config, max errors) -> the worker's billing run
WorkerFactory = Callable[[str, bool, "GeneratorConfig", int], BillingWorker]

_child: Any = None  # the BillingWorker of a worker process


def default_processes(*, server: bool) -> int:
    """`BILLOW_BILLING_PROCESSES` when set; else, for `billow serve` and `billow bill`, the number of CPUs (at
    most 8); else 1 (no worker process): an embedding program opts in, because worker processes are started
    with multiprocessing's "spawn", which imports the program's main module again (it needs the usual
    `if __name__ == "__main__":` guard)."""
    value = os.environ.get("BILLOW_BILLING_PROCESSES")
    if value:
        return max(1, int(value))
    return max(1, min(8, os.cpu_count() or 1)) if server else 1


def _init(factory: WorkerFactory, url: str, test_clock: bool, config: GeneratorConfig, max_errors: int) -> None:
    global _child
    threading.Thread(target=_end_with_parent, name="billow-billing-parent", daemon=True).start()
    _child = factory(url, test_clock, config, max_errors)
    freeze_start_up()


def _end_with_parent() -> None:
    """End this worker when the process that started it is gone: killed (SIGKILL, a crash), it never says so, and
    the executor's queue, whose pipe this worker holds both ends of, would keep it waiting forever with its
    database connections. Its batch, if any, is rolled back with its connection and billed again once the dead
    node's claims are reaped."""
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always a child
        return
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(1)


def _bill(tenant: int, claimed: dict[int, list[tuple[str, date]]], owner: str, now: datetime | None) -> RunReport:
    from billow.core.clock import TestClock
    from billow.invoice.billing_run import RunReport

    worker = _child
    assert worker is not None, "billing worker not initialised"
    if now is not None and isinstance(worker.clock, TestClock):
        worker.clock.set(now)
    report = RunReport()
    worker.bill_batch(tenant, claimed, owner, report)
    return report


class BillingPool:
    def __init__(self, factory: WorkerFactory, url: str, *, processes: int, test_clock: bool,
                 config: GeneratorConfig, max_errors: int) -> None:
        self.processes = processes
        self._args = (factory, url, test_clock, config, max_errors)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the caller runs bus and server threads whose locks a fork would copy
                self._executor = ProcessPoolExecutor(max_workers=self.processes,
                                                     mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_init, initargs=self._args)
            return self._executor

    def start(self) -> None:
        """Start every worker process now (each imports Billow and opens its pool: about a second), rather than
        on the first big run."""
        executor = self._started()
        for f in [executor.submit(time.sleep, 0.5) for _ in range(self.processes)]:
            f.result()

    def bill(self, tenant: int, claimed: dict[int, list[tuple[str, date]]], owner: str,
             now: datetime | None) -> RunReport:
        """Bill one claimed batch in a worker process; blocks until it is done."""
        return self._started().submit(_bill, tenant, claimed, owner, now).result()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
