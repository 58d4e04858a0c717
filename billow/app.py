"""Wiring: one `Billow` holds the database, the clock, the bus and every service, built once.

This is also the embedded library API:

    from billow import Billow
    kb = Billow(database_url="sqlite:///billing.db")
    tenant = kb.tenants.create(ctx, "key", "secret")

Each service gets what it uses through its constructor, built here bottom-up (DESIGN.md's stack): a
service's *user API* (`kb.accounts`, `kb.entitlements`, ...) is what REST, the CLI and embedding programs
call; services above it get its *internal API* (`kb.accounts.internal`, ...), whose methods join the
caller's unit of work. Bus listeners are installed here too. The REST layer calls exactly these services.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.account.service import AccountService
from billow.catalog.internal import CatalogInternalApi
from billow.catalog.service import CatalogService
from billow.core.bus.admin import QueueAdmin
from billow.core.bus.bus import Bus
from billow.core.bus.config import BusConfig
from billow.core.bus.helpers import BusHelpers, default_bus_processes
from billow.core.bus.outbox import Outbox
from billow.core.clock import Clock, SystemClock, TestClock
from billow.core.db import Database, UnitOfWork
from billow.core.objects import ObjectOwner, ObjectType, OwnerResolvers, owner_resolver
from billow.custom_field.internal import CustomFieldInternalApi
from billow.custom_field.service import CustomFieldService
from billow.email import listeners as email_listeners
from billow.email.service import EmailService
from billow.entitlement import listeners as entitlement_listeners
from billow.entitlement.announce import Announcer
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.service import EntitlementService
from billow.invoice import listeners as invoice_listeners
from billow.invoice.billing_pool import BillingWorker, default_processes
from billow.invoice.billing_run import HELPER_QUEUE, TRIGGER_QUEUE, BillingRun
from billow.invoice.generator import GeneratorConfig
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.parent import ParentInvoices
from billow.invoice.presentation.service import InvoicePresenter
from billow.invoice.service import InvoiceService
from billow.operations.bulk import BulkLoader
from billow.operations.caches import CacheAdmin
from billow.operations.close_account import AccountClosing
from billow.operations.export import AccountExport
from billow.operations.nodes import ROTATION_CHECK, NodeOperations, NodeRotation
from billow.overdue import listeners as overdue_listeners
from billow.overdue.applicator import OverdueApplicator
from billow.overdue.configs import OverdueConfigs
from billow.overdue.service import OverdueService
from billow.payment.stack import PaymentExport, PaymentStack
from billow.push.service import PushNotificationService
from billow.security.service import SecurityService
from billow.tag.internal import TagInternalApi
from billow.tag.service import TagService
from billow.tenant.internal import TenantInternalApi
from billow.tenant.service import TenantService
from billow.tenant.settings import server_properties_from_environment
from billow.usage.internal import UsageInternalApi
from billow.usage.service import UsageService

log = logging.getLogger("billow")

# the notifications of billing runs: the node's (a bus helper process leaves them to it)
BILLING_RUN_QUEUES = (TRIGGER_QUEUE, HELPER_QUEUE)


def _load_tables() -> None:
    # Importing the stores registers their tables in the shared metadata.
    import billow.account.store  # noqa: F401
    import billow.core.db.leases  # noqa: F401
    import billow.custom_field.store  # noqa: F401
    import billow.email.store  # noqa: F401
    import billow.entitlement.store  # noqa: F401
    import billow.invoice.store  # noqa: F401
    import billow.invoice.store_parent  # noqa: F401
    import billow.invoice.store_payments  # noqa: F401
    import billow.payment.store  # noqa: F401
    import billow.security.store  # noqa: F401
    import billow.tag.store  # noqa: F401
    import billow.tenant.store  # noqa: F401
    import billow.usage.store  # noqa: F401


class Billow:
    def __init__(self, database_url: str | None = None, clock: Clock | None = None, *,
                 migrate: bool = True, start_workers: bool = False, worker_threads: int = 2,
                 billing_processes: int | None = None, bus_processes: int | None = None,
                 bus_config: BusConfig | None = None, properties: Mapping[str, str] | None = None) -> None:
        _load_tables()
        self.clock: Clock = clock or SystemClock()
        # the bus's outbox: events posted in a unit of work are written in its transaction
        outbox = Outbox(bus_config or BusConfig.from_environment(workers=worker_threads))
        self.db = Database(database_url or os.environ.get("BILLOW_DATABASE_URL"), self.clock, outbox=outbox)
        if migrate:
            self.db.upgrade()
        self.bus = Bus(self.db)
        self.queues = QueueAdmin(self.bus)

        # the foundation: tenants, accounts, users, catalogs, push notifications, and the tags' internal API
        # (the invoice billing run reads control tags)
        tenants = TenantInternalApi(server_properties_from_environment() if properties is None else properties)
        accounts = AccountInternalApi()
        catalogs = CatalogInternalApi(tenants)
        tags = TagInternalApi()
        self.tenants = TenantService(self.db, tenants)
        self.accounts = AccountService(self.db, accounts)
        self.security = SecurityService(self.db)
        self.catalogs = CatalogService(self.db, self.tenants, catalogs)
        self.push = PushNotificationService(self.db, self.bus, tenants)
        self.push.install()

        # entitlement
        entitlements = EntitlementInternalApi(accounts, catalogs, Announcer(self.bus))
        self.entitlements = EntitlementService(self.db, entitlements)
        entitlement_listeners.install(entitlements, self.bus)

        # usage: recorded here, rated by the invoice generator with the tenant's settings
        usage = UsageInternalApi(entitlements)
        self.usage = UsageService(self.db, usage)

        # invoice: big billing runs use worker processes (see billow.invoice.billing_pool)
        processes = billing_processes if billing_processes is not None else default_processes(server=False)
        run = BillingRun(self.db, accounts, entitlements, catalogs, self.bus, wall_clock=self.bus.wall_clock,
                         control_tags=tags.control_tags_of_accounts, processes=processes,
                         worker_factory=billing_worker, usage=usage, settings=tenants.settings)
        self._billing_run = run
        invoices = InvoiceInternalApi(run)
        self.invoices = InvoiceService(self.db, run, invoices, accounts, entitlements, catalogs)
        invoice_listeners.install(invoices, run, accounts, self.bus)
        self.invoices.install_notices(self.bus)
        ParentInvoices(invoices, accounts, tenants, self.bus).install()
        self.presentation = InvoicePresenter(self.db, invoices, accounts, catalogs, tenants, tags)

        # payment: gateways found through entry points (billow.payment_plugins); pays invoices on INVOICE_CREATION
        self.payment = PaymentStack(self.db, self.bus, accounts, tenants, invoices, tags, properties_of(tenants))

        # overdue: accounts evaluated on invoice, payment and tag events and at their states' intervals
        overdue_configs = OverdueConfigs(tenants)
        overdue = OverdueApplicator(self.bus, overdue_configs, accounts, entitlements, invoices, tags)
        self.overdue = OverdueService(self.db, overdue_configs, overdue, accounts)
        overdue_listeners.install(self.bus, overdue, accounts)

        # emails: what invoice, payment and overdue events ask for, sent from the notification queue
        self.emails = EmailService(self.db, self.bus, tenants, accounts, invoices, self.presentation)
        email_listeners.install(self.bus, self.emails, accounts, overdue_configs)

        # tags and custom fields hang on objects of the services above them: the owners of those objects
        owners = {**object_owners(accounts, entitlements, invoices), **{
            kind: owner_resolver(kind, lookup) for kind, lookup in (
                (ObjectType.PAYMENT, self.payment.owner_of_payment),
                (ObjectType.PAYMENT_METHOD, self.payment.owner_of_method),
                (ObjectType.TRANSACTION, self.payment.owner_of_transaction))}}
        self.tags = TagService(self.db, tags, owners,
                               lambda uow, record_id: accounts.by_record_id(uow, record_id).payment_method_id)
        self.custom_fields = CustomFieldService(self.db, CustomFieldInternalApi(), owners)

        # operations that span services (billow.operations)
        self.export = AccountExport(self.db, accounts, entitlements, invoices, PaymentExport())
        self.closing = AccountClosing(self.db, self.bus, accounts, entitlements, invoices, tags)
        # many accounts and their subscriptions, a batch per transaction (migrations, large loads)
        self.bulk = BulkLoader(self.db, accounts, entitlements)
        self.caches = CacheAdmin(by_tenant={"tenant-catalog": catalogs.forget,
                                            "tenant-overdue-config": overdue_configs.forget,
                                            "tenant-kv": self.emails.forget})
        self.rotation = NodeRotation()
        self.nodes = NodeOperations(self.db, self.rotation)
        # more of this node's bus in processes of their own (PostgreSQL; see billow.core.bus.helpers)
        helpers = bus_processes if bus_processes is not None else default_bus_processes(server=False)
        self.helpers: BusHelpers | None = None
        if helpers > 0 and self.db.is_sqlite:
            log.info("bus helper processes share a PostgreSQL database, not SQLite: none started")
        elif helpers > 0:
            self.helpers = BusHelpers(bus_helper, self.db.url, processes=helpers, clock=self.clock,
                                      config=self.bus.config, extra=None if properties is None else dict(properties))
        if start_workers:
            self.start()

    @property
    def test_mode(self) -> bool:
        return isinstance(self.clock, TestClock)

    def start(self) -> None:
        """Start the bus workers (dispatch of events and due notifications), and the bus helper processes."""
        self.bus.start()
        if self.helpers is not None:
            self.helpers.start()
        self.check_lock_table()

    def account_locks_at_most(self) -> int:
        """The account locks this process and its helpers may hold at once: every bus worker's pack (its own and
        each helper's), and every billing run batch (one per worker process, or one in this process; helpers leave
        billing runs to the node)."""
        cfg, run = self.bus.config, self._billing_run
        packs = max(1, cfg.workers) * max(1, cfg.pack_rows)
        helpers = self.helpers.processes if self.helpers is not None else 0
        return (1 + helpers) * packs + max(1, run.processes) * run.batch_size

    def check_lock_table(self) -> bool:
        """Warn when two processes like this one could fill PostgreSQL's shared lock table: account locks are
        advisory locks held until their transaction commits, and a full table fails every transaction that asks
        for one more lock ("out of shared memory"). False when the warning was logged."""
        try:
            size = self.db.lock_table_size()
        except Exception:  # noqa: BLE001 - a diagnostic: the node starts whatever it could read
            log.warning("could not read PostgreSQL's lock table size", exc_info=True)
            return True
        held = self.account_locks_at_most()
        if size is None or 2 * held <= size:
            return True
        log.warning("this process may hold up to %s account locks at once (bus workers x pack rows + billing "
                    "processes x batch size), and PostgreSQL's lock table holds %s for the whole server "
                    "(max_locks_per_transaction x (max_connections + max_prepared_transactions)): with a second "
                    "such process, transactions can fail with 'out of shared memory'; raise "
                    "max_locks_per_transaction, or lower BILLOW_BUS_PACK_ROWS or BILLOW_BILLING_PROCESSES", held, size)
        return False

    def stop(self) -> None:
        if self.helpers is not None:
            self.helpers.stop_begin()  # they stop beside this process's bus, not after it
        self.bus.stop()
        if self.helpers is not None:
            self.helpers.stop()

    def run_until_idle(self, timeout_s: float = 5.0, tenant_record_id: int | None = None) -> bool:
        """Fire due notifications and drain the bus (of one tenant, or all). True when nothing is left."""
        return bool(self.bus.run_until_idle(tenant_record_id=tenant_record_id, timeout_s=timeout_s))

    def health(self) -> dict[str, dict[str, object]]:
        """`GET /1.0/healthcheck`: the node is in rotation (Kill Bill's `KillbillHealthcheck`), the database is
        reachable and its schema is at the migrations' head."""
        out: dict[str, dict[str, object]] = {ROTATION_CHECK: self.rotation.check()}
        try:
            self.db.ping()
            out["database"] = {"healthy": True, "message": None}
        except Exception:  # noqa: BLE001 - the check reports any failure
            # the body is public: the driver's message (host names, users) goes to the log only
            log.warning("health check: the database is unreachable", exc_info=True)
            out["database"] = {"healthy": False, "message": "the database is unreachable (see the server's log)"}
            return out
        current, head = self.db.current_revision(), self.db.head_revision()
        out["migrations"] = {"healthy": current == head, "message": f"at {current}, head {head}"}
        return out

    def close(self) -> None:
        self.stop()
        self.invoices.close()
        self.payment.close()
        self.push.close()
        self.db.dispose()


def object_owners(accounts: AccountInternalApi, entitlements: EntitlementInternalApi,
                  invoices: InvoiceInternalApi) -> OwnerResolvers:
    """For each object type tags and custom fields hang on, how to find an object's account (payments, payment
    methods and transactions join when their services exist)."""

    def owner(account: Account) -> ObjectOwner:
        return ObjectOwner(account.record_id, account.id)

    def of_account(uow: UnitOfWork, account_id: str) -> ObjectOwner:
        return owner(accounts.get(uow, account_id))

    def of_bundle(uow: UnitOfWork, bundle_id: str) -> ObjectOwner:
        return owner(entitlements.account_of_bundle(uow, bundle_id))

    def of_subscription(uow: UnitOfWork, subscription_id: str) -> ObjectOwner:
        return owner(entitlements.account_of_subscription(uow, subscription_id))

    lookups = {ObjectType.ACCOUNT: of_account, ObjectType.BUNDLE: of_bundle, ObjectType.SUBSCRIPTION: of_subscription,
               ObjectType.INVOICE: invoices.owner_of_invoice, ObjectType.INVOICE_ITEM: invoices.owner_of_item}
    return {kind: owner_resolver(kind, lookup) for kind, lookup in lookups.items()}


def bus_helper(url: str, clock: Clock, config: BusConfig, properties: Mapping[str, str] | None) -> Billow:
    """What a bus helper process runs (`billow.core.bus.helpers`): a Billow of its own on the same database, with
    the node's bus settings under the helper's node name. Billing runs stay with the node and its billing worker
    processes: a helper billing a run's batches in its own process, beside its bus work, made the run's last
    batch late (bench/billing_run.py 2000, clock move: 341-667 invoices/s against 629-901 without helpers)."""
    kb = Billow(url, clock, migrate=False, worker_threads=config.workers, billing_processes=1, bus_processes=0,
                bus_config=config, properties=properties)
    for queue in BILLING_RUN_QUEUES:
        kb.bus.unregister_queue(queue)
    return kb


def properties_of(tenants: TenantInternalApi) -> Callable[[UnitOfWork], Mapping[str, str]]:
    """A tenant's configuration properties as one mapping (its own over the server's), for services that read
    properties by name (payment's `PaymentConfig`)."""

    def read(uow: UnitOfWork) -> Mapping[str, str]:
        settings = tenants.settings(uow)
        return {**settings.server, **settings.tenant}

    return read


def billing_worker(url: str, test_clock: bool, config: GeneratorConfig, max_errors: int) -> BillingWorker:
    """What a billing worker process bills with (`billow.invoice.billing_pool`): a Billow of its own, on the
    same database, with the caller's generator configuration."""
    kb = Billow(url, TestClock() if test_clock else SystemClock(), migrate=False)
    kb.invoices.run.config = config
    kb.invoices.run.max_errors = max_errors
    return kb.invoices.run
