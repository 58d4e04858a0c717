"""Back-pressure: a saturated server refuses quickly with 503 and `Retry-After` instead of queueing without end.

Every request (but the health check and the metrics, which a load balancer must always reach) takes one of
`concurrency` slots before anything else runs, authentication included (it reads the database). A request
that finds no free slot waits in line for at most `queue_timeout` seconds, behind at most `queue_size` others;
past either bound it is answered at once with 503, Kill Bill's error JSON and `Retry-After`, and nothing ran.

Why: without a bound, an overloaded server accepts every connection, each request waits for a thread and
then a pooled connection, latency grows without limit, and requests end in the pool's timeout as 500s.
With it, the accepted requests keep a latency near their service time, the database pool is never asked for
more connections than the slots (so waiting for one cannot pile up), and a client knows to come back.

The slots are per process: `billow serve --processes N` has N gates. Settings (environment, or the
`billow serve` options of the same names): BILLOW_MAX_CONCURRENT_REQUESTS (default: the database pool's
size), BILLOW_REQUEST_QUEUE_SIZE (default 200), BILLOW_REQUEST_QUEUE_TIMEOUT (seconds, default 1).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from billow.core.errors import InvalidInput
from billow.rest.errors import error_body
from billow.rest.jsonio import dumps

log = logging.getLogger("billow.rest")

# Always answered: a load balancer's probe must tell "busy" from "dead", and metrics matter most under load.
EXEMPT_PATHS = frozenset({"/1.0/healthcheck", "/metrics"})

CONCURRENCY_ENV = "BILLOW_MAX_CONCURRENT_REQUESTS"
QUEUE_SIZE_ENV = "BILLOW_REQUEST_QUEUE_SIZE"
QUEUE_TIMEOUT_ENV = "BILLOW_REQUEST_QUEUE_TIMEOUT"


@dataclass(frozen=True)
class AdmissionLimits:
    concurrency: int
    queue_size: int = 200
    queue_timeout: float = 1.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise InvalidInput(f"the number of concurrent requests must be at least 1, not {self.concurrency}")
        if self.queue_size < 0:
            raise InvalidInput(f"the request queue's size cannot be negative ({self.queue_size})")
        if not (0 <= self.queue_timeout <= 300) or math.isnan(self.queue_timeout):
            raise InvalidInput(f"the request queue's timeout must be between 0 and 300 s, not {self.queue_timeout}")

    @property
    def retry_after(self) -> int:
        """Seconds a refused client is asked to wait: about what a place in the line would have cost."""
        return max(1, math.ceil(self.queue_timeout))

    @classmethod
    def from_environment(cls, default_concurrency: int, *, concurrency: int | None = None,
                         queue_size: int | None = None, queue_timeout: float | None = None) -> AdmissionLimits:
        """The limits from the arguments given, else the environment, else the defaults."""

        def env(name: str, parse: Callable[[str], float]) -> float | None:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return None
            try:
                return parse(raw)
            except ValueError:
                raise InvalidInput(f"{name}: '{raw}' is not a number") from None

        c = concurrency if concurrency is not None else env(CONCURRENCY_ENV, int)
        q = queue_size if queue_size is not None else env(QUEUE_SIZE_ENV, int)
        t = queue_timeout if queue_timeout is not None else env(QUEUE_TIMEOUT_ENV, float)
        return cls(concurrency=int(c) if c is not None else default_concurrency,
                   queue_size=int(q) if q is not None else 200,
                   queue_timeout=float(t) if t is not None else 1.0)


class Admission:
    """The gate (ASGI middleware, outermost but for the error barrier). `on_refusal` counts refusals."""

    def __init__(self, app: ASGIApp, limits: AdmissionLimits, on_refusal: Callable[[], None] | None = None) -> None:
        self.app = app
        self.limits = limits
        self.on_refusal = on_refusal
        self._slots: asyncio.Semaphore | None = None
        self.waiting = 0
        self.running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the server's event loop
            self._slots = asyncio.Semaphore(self.limits.concurrency)
        if not await self._enter(self._slots):
            await self._refuse(send)
            return
        self.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1
            self._slots.release()

    async def _enter(self, slots: asyncio.Semaphore) -> bool:
        if not slots.locked():
            await slots.acquire()  # a free slot: taken without waiting
            return True
        if self.waiting >= self.limits.queue_size:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(), self.limits.queue_timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1

    async def _refuse(self, send: Send) -> None:
        if self.on_refusal is not None:
            self.on_refusal()
        retry = self.limits.retry_after
        body = dumps(error_body(None, 503, f"the server is busy: retry in {retry} s")).encode("utf-8")
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})
