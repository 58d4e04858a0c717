"""Running the API: one process, or several HTTP worker processes sharing one socket and the database.

Stopping is bounded. The first SIGTERM (or SIGINT) stops accepting connections, lets the requests in flight
finish for up to `graceful_timeout` seconds, then stops the bus: running handlers get the bus's
`shutdownTimeout` and the claims still held are released for the other nodes. A second signal stops the
process at once (what is left is reaped by the other nodes, as after a crash).

Uvicorn's own server, after a graceful stop, raises the signal again with the default handler, which ends
the process before Billow could release its bus claims; `BillowServer` keeps the signal handled instead.

With `processes` > 1 each worker process builds its own `Billow` (its own pool and bus workers, sharing the
work through the bus's claims, as nodes do) from the settings the parent passes in the environment; the
parent supervises them (uvicorn's `Multiprocess`: a dead worker is replaced) and forwards the signals.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Generator
from dataclasses import asdict, dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from billow.core.gcpause import freeze_start_up

if TYPE_CHECKING:
    from fastapi import FastAPI

    from billow.app import Billow
    from billow.rest.admission import AdmissionLimits

log = logging.getLogger("billow")

WORKER_SETTINGS_ENV = "BILLOW_SERVE_WORKER"
DEFAULT_GRACEFUL_TIMEOUT = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process needs to build its own Billow and API (passed as JSON in the environment)."""

    database_url: str
    bus_workers: int
    billing_processes: int
    max_body_bytes: int | None
    concurrency: int | None
    queue_size: int | None
    queue_timeout: float | None
    log_level: str
    access_log: bool


class BillowServer(uvicorn.Server):
    """Uvicorn's server with Billow's stop: the signal stays handled, a second one ends the process now."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            log.warning("second stop signal: stopping now")
            os._exit(1)
        log.info("stop signal: finishing the requests in flight, then stopping the bus")
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            signal.signal(sig, self.handle_exit)
        try:
            yield
        finally:
            # not restored: until the process ends, a further signal means "now" (Billow.close may be under way)
            for sig in handled:
                signal.signal(sig, _exit_now)


def _exit_now(sig: int, frame: FrameType | None) -> None:
    log.warning("stop signal while stopping: stopping now")
    os._exit(1)


def config(app: Any, *, host: str, port: int, processes: int = 1,
           graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT, factory: bool = False) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, workers=processes,
                          factory=factory, timeout_graceful_shutdown=int(max(1, graceful_timeout)))


def serve_one(billow: Billow, *, host: str, port: int, max_body_bytes: int | None = None,
              admission: AdmissionLimits | None = None,
              graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT) -> None:
    """Serve `billow` in this process until a stop signal; its bus is started here and closed on the way out."""
    from billow.rest.app import create_app

    billow.start()
    try:
        app = create_app(billow, max_body_bytes=max_body_bytes, admission=admission)
        freeze_start_up()
        BillowServer(config(app, host=host, port=port, graceful_timeout=graceful_timeout)).run()
    finally:
        billow.close()


def serve_many(settings: WorkerSettings, *, host: str, port: int, processes: int,
               graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT) -> None:
    """Serve with `processes` worker processes on one socket; each builds its Billow from `settings`."""
    os.environ[WORKER_SETTINGS_ENV] = json.dumps(asdict(settings))
    cfg = config("billow.rest.server:worker_app", host=host, port=port, processes=processes,
                 graceful_timeout=graceful_timeout, factory=True)
    _Supervisor(cfg, sockets=[cfg.bind_socket()]).run()


class _Supervisor(Multiprocess):
    """Uvicorn's supervisor (replaces a dead worker; the first signal stops the workers gracefully), where a
    second signal kills the workers and ends at once."""

    def __init__(self, cfg: uvicorn.Config, sockets: list[Any]) -> None:
        super().__init__(cfg, sockets)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit.is_set():
            log.warning("second stop signal: killing the worker processes")
            for process in self.processes:
                with contextlib.suppress(Exception):
                    process.kill()
            os._exit(1)
        self.signal_queue.append(sig)


def worker_app() -> FastAPI:
    """The app of one worker process of `serve_many` (uvicorn calls it in the child, `factory=True`)."""
    from billow.app import Billow
    from billow.core.db.engine import DEFAULT_POOL_SIZE
    from billow.core.logs import configure
    from billow.rest.admission import AdmissionLimits
    from billow.rest.app import create_app
    from billow.tenant.settings import read_properties_file

    s = WorkerSettings(**json.loads(os.environ[WORKER_SETTINGS_ENV]))
    configure(s.log_level, access_log=s.access_log)
    path = os.environ.get("BILLOW_PROPERTIES")
    billow = Billow(s.database_url, worker_threads=s.bus_workers, billing_processes=s.billing_processes,
                    bus_processes=0, properties=read_properties_file(path) if path else {}, migrate=False)
    limits = AdmissionLimits.from_environment(DEFAULT_POOL_SIZE, concurrency=s.concurrency,
                                              queue_size=s.queue_size, queue_timeout=s.queue_timeout)
    app = create_app(billow, max_body_bytes=s.max_body_bytes, admission=limits)
    freeze_start_up()

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        billow.start()
        log.info("worker process %d serving", os.getpid())
        try:
            yield
        finally:
            await run_in_threadpool(billow.close)

    app.router.lifespan_context = lifespan
    return app
