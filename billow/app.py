"""Wiring: one `Billow` holds the database, the clock and every service, built once.

This is also the embedded library API:

    from billow import Billow
    kb = Billow(database_url="sqlite:///billing.db")
    tenant = kb.tenants.create(ctx, "key", "secret")

The REST layer calls exactly these services.
"""

from __future__ import annotations

import os

from billow.account.service import AccountService
from billow.catalog.service import CatalogService
from billow.core.bus.bus import Bus
from billow.core.bus.wiring import wire
from billow.core.clock import Clock, SystemClock, TestClock
from billow.core.db import Database
from billow.entitlement import listeners as entitlement_listeners
from billow.entitlement.service import EntitlementService
from billow.invoice import listeners as invoice_listeners
from billow.invoice.billing_pool import default_processes
from billow.invoice.service import InvoiceService
from billow.security.service import SecurityService
from billow.tenant.service import TenantService


def _load_tables() -> None:
    # Importing the stores registers their tables in the shared metadata.
    import billow.account.store  # noqa: F401
    import billow.entitlement.store  # noqa: F401
    import billow.invoice.store  # noqa: F401
    import billow.security.store  # noqa: F401
    import billow.tenant.store  # noqa: F401


def _timeline_invoices(invoices: InvoiceService):  # type: ignore[no-untyped-def]
    def render(ctx, account):  # type: ignore[no-untyped-def]
        from billow.rest.routes.invoices import timeline_invoices_json

        return timeline_invoices_json(invoices, ctx, account)

    return render


class Billow:
    def __init__(self, database_url: str | None = None, clock: Clock | None = None, *,
                 migrate: bool = True, start_workers: bool = False, worker_threads: int = 2,
                 billing_processes: int | None = None) -> None:
        _load_tables()
        self.clock: Clock = clock or SystemClock()
        self.db = Database(database_url or os.environ.get("BILLOW_DATABASE_URL"), self.clock)
        if migrate:
            self.db.upgrade()
        self.tenants = TenantService(self.db)
        self.accounts = AccountService(self.db)
        self.security = SecurityService(self.db)
        self.catalogs = CatalogService(self.tenants)
        self.entitlements = EntitlementService(self.db, self.accounts, self.catalogs)
        # the bus becomes db.bus: events posted in a unit of work are written in its transaction
        self.bus: Bus = wire(self, worker_threads=worker_threads)
        entitlement_listeners.install(self.entitlements, self.bus)
        # big billing runs use worker processes (see billow.invoice.billing_pool)
        processes = billing_processes if billing_processes is not None else default_processes(server=False)
        self.invoices = InvoiceService(self.db, self.accounts, self.entitlements, self.catalogs,
                                       wall_clock=self.bus.wall_clock, processes=processes)
        invoice_listeners.install(self.invoices, self.bus)
        self.account_balances = self.invoices.account_balances
        self.timeline_invoices = _timeline_invoices(self.invoices)
        if start_workers:
            self.start()

    @property
    def test_mode(self) -> bool:
        return isinstance(self.clock, TestClock)

    def start(self) -> None:
        """Start the bus workers (dispatch of events and due notifications)."""
        self.bus.start()

    def stop(self) -> None:
        self.bus.stop()

    def run_until_idle(self, timeout_s: float = 5.0, tenant_record_id: int | None = None) -> bool:
        """Fire due notifications and drain the bus (of one tenant, or all). True when nothing is left."""
        return bool(self.bus.run_until_idle(tenant_record_id=tenant_record_id, timeout_s=timeout_s))

    def close(self) -> None:
        self.stop()
        self.invoices.close()
        self.db.dispose()
