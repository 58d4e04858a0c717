"""Wiring: one `Billow` holds the database, the clock and every service, built once.

This is also the embedded library API:

    from billow import Billow
    kb = Billow(database_url="sqlite:///billing.db")
    tenant = kb.tenants.create(ctx, "key", "secret")

The REST layer calls exactly these services.
"""

from __future__ import annotations

import os
from typing import Any

from billow.account.service import AccountService
from billow.catalog.service import CatalogService
from billow.core.clock import Clock, SystemClock, TestClock
from billow.core.db import Database
from billow.security.service import SecurityService
from billow.tenant.service import TenantService


def _load_tables() -> None:
    # Importing the stores registers their tables in the shared metadata.
    import billow.account.store  # noqa: F401
    import billow.security.store  # noqa: F401
    import billow.tenant.store  # noqa: F401


class Billow:
    def __init__(self, database_url: str | None = None, clock: Clock | None = None, *,
                 migrate: bool = True, start_workers: bool = False, worker_threads: int = 2) -> None:
        _load_tables()
        self.clock: Clock = clock or SystemClock()
        self.db = Database(database_url or os.environ.get("BILLOW_DATABASE_URL"), self.clock)
        if migrate:
            self.db.upgrade()
        self.tenants = TenantService(self.db)
        self.accounts = AccountService(self.db)
        self.security = SecurityService(self.db)
        self.catalogs = CatalogService(self.tenants)
        self.bus: Any = None
        self._wire_bus(worker_threads)
        if start_workers:
            self.start()

    @property
    def test_mode(self) -> bool:
        return isinstance(self.clock, TestClock)

    def _wire_bus(self, worker_threads: int) -> None:
        """Attach the persistent bus when it is installed (billow.core.bus)."""
        try:
            from billow.core.bus.wiring import wire  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            self.db.bus = _InlineOutbox()
            return
        self.bus = wire(self, worker_threads=worker_threads)

    def start(self) -> None:
        if self.bus is not None and hasattr(self.bus, "start"):
            self.bus.start()

    def stop(self) -> None:
        if self.bus is not None and hasattr(self.bus, "stop"):
            self.bus.stop()

    def run_until_idle(self, timeout_s: float = 5.0) -> bool:
        """Fire due notifications and drain the bus (test clock). True when nothing is left."""
        if self.bus is not None and hasattr(self.bus, "run_until_idle"):
            return bool(self.bus.run_until_idle(timeout_s=timeout_s))
        return True

    def close(self) -> None:
        self.stop()
        self.db.dispose()


class _InlineOutbox:
    """Stand-in until the persistent bus is installed: keeps posted events in memory (tests)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def write(self, uow: Any, events: list[Any]) -> None:
        self.events.extend(events)

    def wake(self) -> None:
        return None
