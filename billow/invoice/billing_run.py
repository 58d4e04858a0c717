"""Invoice runs for one account or for thousands: load set-based, generate in memory, write in bulk.

Kill Bill runs one account at a time (`InvoiceDispatcher.processAccount`: lock, billing events,
existing invoices, `generateInvoice`, CBA, persist, CTD, future notifications, bus events). Billow
does the same work for a *batch* of accounts in one transaction: a few queries read the accounts,
subscriptions, blocking states and invoices of the whole batch; each account's runs are computed in
memory; the batch's invoices, items, audit and history rows, schedule rows and bus events are
written with multi-row inserts. A batch that fails is retried one account per transaction, and an
account that keeps failing is parked (its schedule rows turn FAILED) without holding up the others.
On PostgreSQL several batches run at once: in worker processes (`billing_pool`) for runs bigger than
one batch when configured, else two threads.

`BillingRun` holds what a run needs, given to it once: the database, the internal APIs of the services
it reads (accounts, entitlements, catalog), the bus it schedules on, and the generator's configuration.

Next billing dates (`SubscriptionFutureNotificationDates`) are rows of `invoice_schedule`; one bus
notification per tenant and instant (queue `invoice-service:next-billing-date-queue`) wakes the
batch runner, which bills every account due by then. When several dates of one account are due
(a long clock move), they are billed in ascending order, one invoice per date, as Kill Bill's
one-notification-per-date would.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.internal import CatalogInternalApi
from billow.catalog.model import Catalog
from billow.core.bus.bus import Bus
from billow.core.clock import Clock, SystemClock, TestClock
from billow.core.context import internal_context
from billow.core.db import Database, UnitOfWork, leases
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.model import BlockingState, Subscription
from billow.invoice import store, store_checkpoints, store_lookup, store_parent, store_payments
from billow.invoice.billing_pool import BillingPool, WorkerFactory
from billow.invoice.config import generator_config
from billow.invoice.control_tags import ControlTags, no_control_tags, with_written_off
from billow.invoice.credit import credit_items
from billow.invoice.events import invoice_created, nothing_invoiced
from billow.invoice.generator import (
    AccountBillingInfo,
    GeneratorConfig,
    InvoicingError,
    UsageItemGenerator,
    charged_through_instants,
    generate_invoice,
)
from billow.invoice.incremental import BillingCheckpoint, advance, checkpoint_after, fingerprint, generate_next
from billow.invoice.model import Invoice, InvoiceItem, InvoiceStatus
from billow.invoice.usage_items import UsageRating, usage_read_start
from billow.junction.engine import AccountBillingContext, billing_events
from billow.junction.model import BillingEvent
from billow.tag.model import AUTO_INVOICING_DRAFT, AUTO_INVOICING_OFF, AUTO_INVOICING_REUSE_DRAFT
from billow.tenant.settings import TenantSettings
from billow.usage.internal import UsageInternalApi

# a tenant's settings, read in a unit of work (the tenant service's `TenantInternalApi.settings`)
Settings = Callable[[UnitOfWork], TenantSettings]

log = logging.getLogger("billow.invoice")

TRIGGER_QUEUE = "invoice-service:next-billing-date-queue"
# Billow's: a run bigger than one batch asks the other nodes to bill with it (one notification per live node,
# carrying the run's instant); each runs the same claim loop, so every account is billed once, and a helper
# that dies mid-run is redelivered by the bus to a live node, which takes the dead node's claims over
HELPER_QUEUE = "invoice-service:billing-run-helper-queue"
# upcoming-invoice notices (`dryRunNotificationSchedule`): a dry run some time before a next billing date
DRY_RUN_NOTICE_QUEUE = "invoice-service:dry-run-notification-queue"
VACUUM_AFTER_ACCOUNTS = 500
# what a run adds to and the bus handlers after it read by id: analyzed when stale at a big run's start
INVOICE_TABLES = (store.INV.name, store.IT.name, store_payments.IP.name)


@dataclass
class AccountState:
    """Everything one account's runs read, kept up to date in memory across the runs of a batch."""

    account: Account
    subscriptions: list[Subscription]
    blocking: list[BlockingState]
    invoices: list[Invoice]
    tags: Collection[str] = frozenset()
    usage: UsageItemGenerator | None = None  # the account's raw usage, read for the runs of a batch (load_usage)
    # the incremental run (incremental.py): a valid checkpoint lets a run skip the invoices, which are then not
    # read (`invoices` holds only those this batch makes until `history_loaded`)
    checkpoint: BillingCheckpoint | None = None
    fingerprint: str | None = None
    history_loaded: bool = True
    last_target: date | None = None  # the adjusted target of the last run in this batch

    def info(self) -> AccountBillingInfo:
        a = self.account
        return AccountBillingInfo(a.id, a.currency or "USD", a.time, a.bill_cycle_day_local)


class HistoryNeeded(Exception):
    """A run without the account's invoices found that it needs them (its checkpoint does not apply)."""


@dataclass
class Outcome:
    """What one run decided: the invoice to write (new, or a DRAFT it adds to), its items, the items it adds
    to other invoices (CBA), charged-through dates, next billing dates and a BCD to store on the account."""

    state: AccountState
    target_date: date
    invoice: Invoice | None = None
    new_invoice: bool = True
    items: list[InvoiceItem] = field(default_factory=list)
    ctd: dict[str, datetime] = field(default_factory=dict)
    next_dates: list[tuple[str, date]] = field(default_factory=list)
    bcd_to_set: int | None = None


@dataclass
class RunReport:
    accounts: int = 0
    invoices: int = 0
    null_runs: int = 0
    failed: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)

    def add(self, other: RunReport) -> None:
        self.accounts += other.accounts
        self.invoices += other.invoices
        self.null_runs += other.null_runs
        self.failed += other.failed
        self.parked += other.parked


# ---------------------------------------------------------------------------------------------- one run (pure)
def account_events(state: AccountState, catalog: Catalog | None,
                   extra: Sequence[BillingEvent] = ()) -> tuple[list[BillingEvent], int | None]:
    """The junction's billing events; the BCD to store on the account when the junction fixed it."""
    if catalog is None or not state.subscriptions:
        return list(extra), None
    a = state.account
    result = billing_events(AccountBillingContext(a.id, a.currency or "USD", a.time, a.bill_cycle_day_local),
                            state.subscriptions, state.blocking, catalog)
    return result.events + list(extra), result.account_bcd_to_set


def run_once(state: AccountState, catalog: Catalog | None, target: date, now: datetime, config: GeneratorConfig,
             *, api: bool, events: list[BillingEvent] | None = None, bcd_to_set: int | None = None
             ) -> Outcome | None:
    """One invoice run at `target` (`InvoiceDispatcher.processAccountWithLockAndInputTargetDate`).

    Returns None when the account is under AUTO_INVOICING_OFF and this is not an API call; otherwise an
    `Outcome` whose `invoice` is None when there is nothing new to invoice (a null invoice).
    """
    if events is None:
        events, bcd_to_set = account_events(state, catalog)
    if bcd_to_set is not None:
        state.account = dataclasses.replace(state.account, bill_cycle_day_local=bcd_to_set)
    if not api and AUTO_INVOICING_OFF in state.tags:
        return None
    info = state.info()
    # Kill Bill (`DefaultInvoiceGenerator`): DRAFT under AUTO_INVOICING_DRAFT, else COMMITTED, also when the items
    # go to an existing draft (AUTO_INVOICING_REUSE_DRAFT), which that commits (`DefaultInvoiceDao.createInvoices`)
    status = InvoiceStatus.DRAFT if AUTO_INVOICING_DRAFT in state.tags else InvoiceStatus.COMMITTED
    reuse = None
    if AUTO_INVOICING_REUSE_DRAFT in state.tags:
        reuse = next((inv for inv in state.invoices if inv.status is InvoiceStatus.DRAFT), None)
    invoice_id = reuse.id if reuse is not None else str(uuid.uuid4())
    checkpoint = state.checkpoint
    result = None
    if checkpoint is not None and reuse is None:
        result = generate_next(info, events, checkpoint, target, config, invoice_id=invoice_id, now=now,
                               fingerprint_now=state.fingerprint)
    if result is None:
        state.checkpoint = checkpoint = None
        if not state.history_loaded:
            raise HistoryNeeded
        result = generate_invoice(info, events, state.invoices, target, config, invoice_id=invoice_id, now=now,
                                  usage=state.usage)
    else:
        state.checkpoint = advance(checkpoint, result, info, now) if checkpoint is not None else None
    state.last_target = result.target_date
    out = Outcome(state, result.target_date, bcd_to_set=bcd_to_set)
    for sub_id, nd in result.notification_dates.items():
        if nd.next_recurring_date is not None:
            out.next_dates.append((sub_id, nd.next_recurring_date))
        for when in nd.next_usage_dates.values():
            out.next_dates.append((sub_id, when))
    if not result.items:
        return out
    items = result.items
    if reuse is not None:  # its target date only moves forward
        later = result.target_date if reuse.target_date is None else max(reuse.target_date, result.target_date)
        invoice = dataclasses.replace(reuse, items=reuse.items + tuple(items), target_date=later, status=status)
        out.new_invoice = False
    else:
        invoice = Invoice(id=invoice_id, account_id=info.account_id, invoice_date=info.time.local_date(now),
                          target_date=result.target_date, currency=info.currency, status=status, items=tuple(items),
                          created_date=now)
    # without its history (an incremental run) the account has no credit, which a checkpoint requires, and the
    # new items are not negative: no CBA item here, as with the whole history
    others = [inv for inv in state.invoices if inv.id != invoice.id]
    cba = credit_items([invoice], [*others, invoice], now=now)
    out.items = list(items) + cba
    # apply every new item to the in-memory state (later runs of this batch see them)
    by_invoice: dict[str, list[InvoiceItem]] = {}
    for it in cba:
        by_invoice.setdefault(it.invoice_id, []).append(it)
    invoice = dataclasses.replace(invoice, items=invoice.items + tuple(by_invoice.pop(invoice.id, ())))
    state.invoices = [dataclasses.replace(inv, items=inv.items + tuple(by_invoice[inv.id]))
                      if inv.id in by_invoice else inv for inv in others] + [invoice]
    out.invoice = invoice
    if invoice.status is InvoiceStatus.COMMITTED:
        out.ctd = charged_through_instants(info.time, items)
    return out


# ---------------------------------------------------------------------------------------------- writing
@dataclass
class Writer:
    """Collects a batch's writes and flushes them with one multi-row insert per table."""

    run: BillingRun
    uow: UnitOfWork
    post_null_events: bool = True
    notice: timedelta = timedelta(0)  # dryRunNotificationSchedule: how long before a next billing date (0: none)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    ctd: dict[str, datetime] = field(default_factory=dict)
    schedule: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    created: list[Invoice] = field(default_factory=list)
    reused: dict[int, dict[str, Any]] = field(default_factory=dict)  # drafts given items: record id -> new values
    bcds: list[tuple[Account, int]] = field(default_factory=list)  # accounts' first BCDs, as they were before
    null_runs: int = 0

    def add(self, out: Outcome) -> None:
        state = out.state
        account = state.account
        arid = account.record_id
        uow = self.uow
        if out.bcd_to_set is not None:  # written by `flush`, with the others of the batch
            self.bcds.append((account, out.bcd_to_set))
            state.account = account = dataclasses.replace(account, bill_cycle_day_local=out.bcd_to_set)
        for sub_id, when in out.next_dates:
            self.schedule.append(store.schedule_row(uow.tenant, arid, sub_id, when, account.time.instant(when),
                                                    uow.now))
        inv = out.invoice
        if inv is None:
            self.null_runs += 1
            if self.post_null_events:
                self.events.append(nothing_invoiced(uow, account))
            return
        if out.new_invoice:
            self.invoices.append(store.invoice_row(inv, arid))
            self.created.append(inv)
        else:  # a draft given items (AUTO_INVOICING_REUSE_DRAFT): its status and target date may change
            changes = {"status": inv.status.value, "target_date": inv.target_date}
            row = next((r for r in self.invoices if r["id"] == inv.id), None)  # made earlier in this batch
            if row is not None:
                row.update(changes)
            elif inv.invoice_number is not None:
                self.reused[inv.invoice_number] = changes
        self.items.extend(store.item_row(it, arid) for it in out.items)
        self.ctd.update(out.ctd)
        if inv.status is InvoiceStatus.COMMITTED:
            self.events.append(invoice_created(uow, account, inv.id, inv.currency))

    def flush(self) -> None:
        uow = self.uow
        if self.bcds:
            self.run.accounts.set_bill_cycle_days(uow, self.bcds)
        if self.invoices:
            rows = uow.insert_many("invoices", self.invoices)
            numbers = {r["id"]: r["record_id"] for r in rows}
            self.created = [dataclasses.replace(inv, invoice_number=numbers.get(inv.id)) for inv in self.created]
        if self.reused:
            uow.update_many("invoices", self.reused)
        if self.items:
            uow.insert_many("invoice_items", self.items)
        if self.ctd:
            self.run.entitlements.update_charged_through_dates(uow, self.ctd)
        if self.schedule:
            if self.notice > timedelta(0):
                self.schedule_notices()
            store.add_schedule(uow.conn, self.schedule)
            self.run.schedule_triggers(uow, [r["fire_at"] for r in self.schedule])
        for ev in self.events:
            uow.post(ev)

    def schedule_notices(self) -> None:
        """One upcoming-invoice notice per new next billing date of an account (a date already pending has one),
        `notice` before it, when that is still ahead (Kill Bill's `DefaultNextBillingDatePoster`)."""
        uow = self.uow
        known = store.pending_pairs(uow.conn, sorted({r["account_record_id"] for r in self.schedule}))
        for r in self.schedule:
            pair = (r["account_record_id"], r["target_date"])
            if pair in known:
                continue
            known.add(pair)
            fire = r["fire_at"] - self.notice
            if fire > uow.now:
                self.run.bus.schedule(uow, DRY_RUN_NOTICE_QUEUE, {"targetDate": r["target_date"].isoformat()}, fire,
                                      account_record_id=r["account_record_id"], tenant_record_id=uow.tenant)


# ---------------------------------------------------------------------------------------------- the runner
class BillingRun:
    """Invoice runs: one account in a caller's unit of work, or every account due, in batches."""

    def __init__(self, db: Database, accounts: AccountInternalApi, entitlements: EntitlementInternalApi,
                 catalogs: CatalogInternalApi, bus: Bus, config: GeneratorConfig | None = None, *,
                 control_tags: ControlTags = no_control_tags, wall_clock: Clock | None = None,
                 max_errors: int = 3, batch_size: int = 500, processes: int = 1,
                 worker_factory: WorkerFactory | None = None, usage: UsageInternalApi | None = None,
                 settings: Settings | None = None) -> None:
        self.db = db
        self.accounts = accounts
        self.entitlements = entitlements
        self.catalogs = catalogs
        self.bus = bus
        # the configuration of a run without a settings reader; with one, each tenant's (config_for)
        self.config = config or GeneratorConfig()
        self.settings = settings
        self._configs: dict[int, tuple[TenantSettings, GeneratorConfig]] = {}
        self.control_tags = control_tags
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.max_errors = max_errors
        self.batch_size = batch_size
        # worker processes for runs bigger than one batch (PostgreSQL; see billing_pool). 1: none.
        self.processes = processes
        self.worker_factory = worker_factory
        self.usage = usage
        self._pool: BillingPool | None = None
        self._pool_lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self.db.clock

    def config_for(self, uow: UnitOfWork) -> GeneratorConfig:
        """The generator configuration of the unit of work's tenant: its per-tenant properties over the server's
        (one read of its settings, which the tenant service parses once per change)."""
        if self.settings is None:
            return self.config
        settings = self.settings(uow)
        cached = self._configs.get(uow.tenant)
        if cached is not None and cached[0] is settings:
            return cached[1]
        config = generator_config(settings)
        self._configs[uow.tenant] = (settings, config)
        return config

    # -- loading ----------------------------------------------------------------------------------
    def load_states(self, uow: UnitOfWork, account_record_ids: Sequence[int], *,
                    without_history: Collection[int] = ()) -> dict[int, AccountState]:
        """Accounts, subscriptions with their events, blocking states, invoices and control tags of many
        accounts: a few queries whatever the batch size, through each service's internal API. The invoices of
        the accounts in `without_history` are not read (`load_history` reads them if a run needs them)."""
        ids = list(account_record_ids)
        if not ids:
            return {}
        accounts = self.accounts.by_record_ids(uow, ids)
        inputs = self.entitlements.billing_inputs(uow, ids)
        # a child account's invoices carry their parent invoices: credit follows them (credit.py)
        invoices = store_parent.with_parents(uow.conn, uow.tenant, store.invoices_of_accounts(
            uow.conn, uow.tenant, [rid for rid in ids if rid not in without_history]))
        tags = self.control_tags(uow, ids)
        out: dict[int, AccountState] = {}
        for rid in ids:
            account = accounts.get(rid)
            if account is None:
                continue
            subs, blocking = inputs[rid]
            out[rid] = AccountState(account, subs, blocking, with_written_off(invoices.get(rid, []), tags),
                                    tags.of_account(rid), history_loaded=rid not in without_history)
        return out

    def load_history(self, uow: UnitOfWork, states: Sequence[AccountState]) -> None:
        """Read the invoices of accounts loaded without them, ahead of those this batch made in memory."""
        todo = [s for s in states if not s.history_loaded]
        if not todo:
            return
        found = self.invoices_of(uow, [s.account.record_id for s in todo])
        for state in todo:
            state.invoices = found.get(state.account.record_id, []) + state.invoices
            state.history_loaded = True
            state.checkpoint = None

    def use_checkpoints(self, uow: UnitOfWork, states: Mapping[int, AccountState],
                        prepared: Mapping[int, tuple[list[BillingEvent], int | None]],
                        checkpoints: Mapping[int, BillingCheckpoint], config: GeneratorConfig) -> None:
        """Give each account its checkpoint when nothing the generator reads changed since it was made; read the
        invoices of the others now, in one query (a new catalog or configuration changes every fingerprint)."""
        stale = []
        for arid, state in states.items():
            cp = checkpoints.get(arid)
            if cp is None:
                continue
            events, bcd = prepared[arid]
            fp = fingerprint(state.info(), events, config)
            if bcd is not None or AUTO_INVOICING_REUSE_DRAFT in state.tags or fp != cp.fingerprint:
                stale.append(state)
            else:
                state.checkpoint, state.fingerprint = cp, fp
        self.load_history(uow, stale)

    def save_checkpoints(self, uow: UnitOfWork, states: Mapping[int, AccountState],
                         prepared: Mapping[int, tuple[list[BillingEvent], int | None]],
                         config: GeneratorConfig) -> None:
        """After the batch's writes: each billed account's checkpoint, advanced by its incremental runs or made
        from its whole history after a full one (`checkpoint_after`); none for the accounts that cannot have one."""
        made: dict[int, BillingCheckpoint] = {}
        forget: list[int] = []
        for arid, state in states.items():
            if state.last_target is None:
                continue  # not run (AUTO_INVOICING_OFF): its history and checkpoint are unchanged
            cp = state.checkpoint
            if state.account.parent_account_id is not None:
                cp = None  # a child account's invoices hang on its parent's: always the whole history
            elif cp is None and state.history_loaded:
                cp = checkpoint_after(state.info(), prepared[arid][0], state.invoices, state.last_target, config,
                                      uow.now)
            if cp is None:
                forget.append(arid)
            else:
                made[arid] = cp
        uow.flush_history()  # the history rows of this batch's writes, which the checkpoints' counts include
        store_checkpoints.save(uow.conn, uow.tenant, made, forget, uow.now)

    def invoices_of(self, uow: UnitOfWork, account_record_ids: Sequence[int]) -> dict[int, list[Invoice]]:
        """The accounts' invoices with their items (WRITTEN_OFF ones marked; a child account's with their parent
        invoices), oldest first."""
        ids = list(account_record_ids)
        invoices = store_parent.with_parents(uow.conn, uow.tenant, store.invoices_of_accounts(uow.conn, uow.tenant,
                                                                                               ids))
        tags = self.control_tags(uow, ids)
        return {rid: with_written_off(found, tags) for rid, found in invoices.items()}

    def invoices_by_ids(self, uow: UnitOfWork, owners: Mapping[str, int]) -> dict[int, list[Invoice]]:
        """Some invoices ({invoice id: account record id}) as `invoices_of` reads them (items, payments, parents,
        WRITTEN_OFF), without their accounts' other invoices: paying a pack of new invoices."""
        found = store_lookup.invoices_by_ids(uow.conn, uow.tenant, list(owners), owners)
        grouped: dict[int, list[Invoice]] = {}
        for invoice_id, arid in owners.items():
            if invoice_id in found:
                grouped.setdefault(arid, []).append(found[invoice_id])
        invoices = store_parent.with_parents(uow.conn, uow.tenant, grouped)
        tags = self.control_tags(uow, list(grouped))
        return {rid: with_written_off(group, tags) for rid, group in invoices.items()}

    def load_usage(self, uow: UnitOfWork, runs: Sequence[tuple[AccountState, Sequence[BillingEvent], date]],
                   config: GeneratorConfig, *, dry_run: bool = False) -> None:
        """Read the raw usage the accounts' runs rate, for all of them in one query ((state, billing events, earliest
        target) each); accounts without IN_ARREAR usage read nothing."""
        if self.usage is None:
            return
        starts: dict[int, tuple[AccountState, datetime]] = {}
        for state, events, target in runs:
            start = usage_read_start(events, state.invoices, target, config, uow.now)
            if start is not None:
                starts[state.account.record_id] = (state, start)
        if not starts:
            return
        records = self.usage.raw_usage(uow, {arid: start for arid, (_, start) in starts.items()})
        for arid, (state, _) in starts.items():
            state.usage = UsageRating(records.get(arid, []), dry_run=dry_run)

    def ensure_free(self, uow: UnitOfWork, account_record_ids: Iterable[int]) -> None:
        """Under their account locks: no payment of these accounts is at its gateway (`leases.ensure_free`, by the
        wall clock leases expire by); every invoice run and credit move of the service asks here."""
        leases.ensure_free(uow.conn, account_record_ids, self.wall_clock.utcnow())

    # -- one account, in the caller's unit of work ------------------------------------------------
    def run_account(self, uow: UnitOfWork, account_record_id: int, target: date | None, *, api: bool
                    ) -> Outcome | None:
        """One run for one account (under the account lock). Parked accounts are left alone unless `api`."""
        uow.lock_account(account_record_id)
        self.ensure_free(uow, [account_record_id])
        if not api and store.is_parked(uow.conn, account_record_id):
            return None
        state = self.load_states(uow, [account_record_id]).get(account_record_id)
        if state is None:
            return None
        if target is None:
            target = state.account.time.local_date(uow.now)
        catalog = self.catalogs.catalog(uow) if state.subscriptions else None
        events, bcd = account_events(state, catalog)
        config = self.config_for(uow)
        self.load_usage(uow, [(state, events, target)], config)
        out = run_once(state, catalog, target, uow.now, config, api=api, events=events, bcd_to_set=bcd)
        if out is None:
            return None
        writer = Writer(self, uow, notice=config.dry_run_notification)
        writer.add(out)
        writer.flush()
        if writer.created and out.invoice is not None:
            out.invoice = writer.created[0]
        return out

    def run_accounts(self, uow: UnitOfWork, targets: Mapping[int, date | None]) -> None:
        """One run for each of several accounts (one bus event each, in the caller's unit of work): what
        `run_account` does for each, with the reads and writes of all of them done once. An account in an illegal
        invoicing state is parked, the others billed. Parked accounts are left alone."""
        uow.lock_accounts(targets)
        self.ensure_free(uow, targets)
        parked = store.parked_among(uow.conn, list(targets))
        states = self.load_states(uow, [a for a in sorted(targets) if a not in parked])
        catalog = self.catalogs.catalog(uow) if any(s.subscriptions for s in states.values()) else None
        config = self.config_for(uow)
        runs: list[tuple[AccountState, list[BillingEvent], date, int | None]] = []
        for arid, state in states.items():
            target = targets[arid] or state.account.time.local_date(uow.now)
            try:
                events, bcd = account_events(state, catalog if state.subscriptions else None)
            except InvoicingError as e:
                self.park(uow, arid, target, str(e))
                continue
            runs.append((state, events, target, bcd))
        self.load_usage(uow, [(state, events, target) for state, events, target, _ in runs], config)
        writer = Writer(self, uow, notice=config.dry_run_notification)
        for state, events, target, bcd in runs:
            try:
                out = run_once(state, catalog if state.subscriptions else None, target, uow.now, config,
                               api=False, events=events, bcd_to_set=bcd)
            except InvoicingError as e:
                self.park(uow, state.account.record_id, target, str(e))
                continue
            if out is not None:
                writer.add(out)
        writer.flush()
        # the next scheduled run of these accounts can then be incremental
        self.save_checkpoints(uow, {s.account.record_id: s for s, *_ in runs},
                              {s.account.record_id: (events, bcd) for s, events, _, bcd in runs}, config)

    def park(self, uow: UnitOfWork, account_record_id: int, target: date, error: str) -> None:
        """Kill Bill's `ParkedAccountsManager`: an account in an illegal invoicing state waits for an operator
        (or an API run) instead of failing its events forever."""
        store.add_schedule(uow.conn, [store.schedule_row(
            uow.tenant, account_record_id, "", target, uow.now, uow.now, state=store.FAILED,
            error_count=self.max_errors, last_error=error)])

    # -- scheduling -------------------------------------------------------------------------------
    def schedule_triggers(self, uow: UnitOfWork, instants: Sequence[datetime]) -> None:
        """One next-billing-date notification per tenant and instant wakes the batch runner."""
        for when in store.add_triggers(uow.conn, uow.tenant, instants):
            self.bus.schedule(uow, TRIGGER_QUEUE, {"fireAt": when.isoformat()}, when, tenant_record_id=uow.tenant)

    def on_trigger(self, tenant: int) -> RunReport:
        """A next-billing-date notification came due: bill every account of the tenant due by now, with the help
        of the other live nodes when there is more than one batch to bill."""
        with self.db.transaction(internal_context(tenant)) as uow:
            now = uow.now
            # this run bills every account due by now: the other wake-ups due by now have nothing left to do
            store.forget_triggers_due(uow.conn, tenant, now)
            self.bus.remove_due(uow, TRIGGER_QUEUE, tenant, now)
            helpers = self.enlist_helpers(uow, tenant, now)
        report = self.run_due(tenant=tenant, now=now)
        if helpers:
            self._dismiss_helpers([tenant], now)
        return self._logged(report, tenant, helpers=helpers)

    def run_shared(self, *, tenant: int | None = None, now: datetime | None = None, batch_size: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> RunReport:
        """`run_due` with the help of the other live nodes, as a next-billing-date notification's run gets it
        (`billow bill`): each tenant with more than one batch due asks them first."""
        now = now or self.db.clock.utcnow()
        batch_size = batch_size or self.batch_size
        asked: dict[int, int] = {}
        if not self.db.is_sqlite:
            with self.db.read(internal_context(tenant)) as uow:
                due = store.due_by_tenant(uow.conn, tenant, now)
            for t in sorted(due):
                with self.db.transaction(internal_context(t)) as uow:
                    asked[t] = self.enlist_helpers(uow, t, now, batch_size=batch_size, due=due[t])
        report = self.run_due(tenant=tenant, now=now, batch_size=batch_size, progress=progress)
        self._dismiss_helpers([t for t, n in asked.items() if n], now)
        helped = sum(asked.values())
        if helped:
            log.info("billing run on %s: %d accounts, %d invoices, %d other nodes asked to help", self.bus.node_name,
                     report.accounts, report.invoices, helped)
        return report

    def _dismiss_helpers(self, tenants: Sequence[int], now: datetime) -> None:
        """The run is over: nothing is left to bill by `now`, so the helpers no node took would find nothing."""
        for t in tenants:
            with self.db.transaction(internal_context(t)) as uow:
                self.bus.remove_due(uow, HELPER_QUEUE, t, now)

    def enlist_helpers(self, uow: UnitOfWork, tenant: int, now: datetime, batch_size: int | None = None,
                       due: int | None = None) -> int:
        """Ask the other live nodes to bill with this run (in its transaction): one helper notification per
        node, fewer when the run has fewer batches (`due` accounts, counted here when not given). Returns how
        many were asked.

        The notification is due at the earlier of the run's instant and the wall clock: a run as of a later day
        (`billow bill --date`) is helped by nodes whose clocks are at today."""
        others = len(self.bus.live_nodes(uow.conn) - {self.bus.node_name})
        if others == 0 or self.db.is_sqlite:
            return 0
        if due is None:
            due = store.count_due(uow.conn, tenant, now)
        batches = -(-due // (batch_size or self.batch_size))
        helpers = min(others, batches - 1)
        if helpers > 0:
            at = min(uow.now, self.wall_clock.utcnow())
            self.bus.schedule_many(uow, HELPER_QUEUE, [({"now": now.isoformat()}, at, None)] * helpers,
                                   tenant_record_id=tenant)
        return max(helpers, 0)

    def on_helper(self, tenant: int, now: datetime) -> RunReport:
        """Another node's run asked this node to bill with it: the same claim loop, at that run's instant."""
        return self._logged(self.run_due(tenant=tenant, now=now), tenant, helping=True)

    def _logged(self, report: RunReport, tenant: int, *, helpers: int = 0, helping: bool = False) -> RunReport:
        if report.accounts:
            log.info("billing run of tenant %d on %s%s: %d accounts, %d invoices%s", tenant, self.bus.node_name,
                     " (helping)" if helping else "", report.accounts, report.invoices,
                     f", {helpers} other nodes asked to help" if helpers else "")
        return report

    # -- worker processes -------------------------------------------------------------------------
    def billing_pool(self) -> BillingPool | None:
        """The worker processes of big runs: PostgreSQL only, more than one process configured and a factory for
        them (which wires the same control-tag reader: the application's `billing_worker`)."""
        if self.db.is_sqlite or self.processes <= 1 or self.worker_factory is None:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = BillingPool(self.worker_factory, self.db.url, processes=self.processes,
                                         test_clock=isinstance(self.db.clock, TestClock), config=self.config,
                                         max_errors=self.max_errors)
            return self._pool

    def clock_for_workers(self) -> datetime | None:
        """The instant worker processes bill at: the test clock's, or None (their own system clock)."""
        return self.db.clock.utcnow() if isinstance(self.db.clock, TestClock) else None

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # -- batches ----------------------------------------------------------------------------------
    def bill_batch(self, tenant: int, claimed: dict[int, list[tuple[str, date]]], owner: str,
                   report: RunReport) -> None:
        """Bill the claimed accounts in one transaction; on failure, one transaction per account."""
        try:
            self._bill(tenant, list(claimed), owner, report)
            return
        except Exception:  # noqa: BLE001 - isolate the failing account(s) below
            log.warning("billing batch of %d accounts failed; billing them one by one", len(claimed),
                        exc_info=True)
        for arid in claimed:
            try:
                # a payment at its gateway holds the account's lease: wait for it as Kill Bill's dispatcher waits
                # for its lock (org.killbill.invoice.globalLock.retries)
                leases.retry_while_busy(lambda: self._bill(tenant, [arid], owner, report))  # noqa: B023
            except leases.AccountBusy:  # still held: a next-billing-date wake-up tries again (QueueRetryException)
                with self.db.transaction(internal_context(tenant)) as uow:
                    store.release_claim(uow.conn, arid, owner)
                    self.schedule_triggers(uow, [uow.now])
            except Exception as e:  # noqa: BLE001
                log.exception("billing account record %s failed", arid)
                # an illegal invoicing state parks the account at once, as on the bus path (Kill Bill's
                # ParkedAccountsManager); other failures are retried first
                attempts = 1 if isinstance(e, InvoicingError) else self.max_errors
                with self.db.transaction(internal_context(tenant)) as uow:
                    parked = store.release_failed(uow.conn, arid, owner, repr(e), attempts)
                (report.parked if parked else report.failed).append(arid)

    def _bill(self, tenant: int, account_record_ids: list[int], owner: str, report: RunReport) -> None:
        with self.db.transaction(internal_context(tenant)) as uow:
            uow.lock_accounts(account_record_ids)
            claimed = store.claimed_rows(uow.conn, account_record_ids, owner)
            if not claimed:
                return
            self.ensure_free(uow, claimed)
            checkpoints = store_checkpoints.valid(uow.conn, uow.tenant, list(claimed))
            states = self.load_states(uow, list(claimed), without_history=checkpoints)
            catalog = self.catalogs.catalog(uow) if any(s.subscriptions for s in states.values()) else None
            writer = Writer(self, uow, post_null_events=False)
            now = uow.now
            invoices = nulls = 0
            prepared = {arid: account_events(state, catalog) for arid, state in states.items()}
            config = self.config_for(uow)  # the batch's tenant's: one read for the whole batch
            self.use_checkpoints(uow, states, prepared, checkpoints, config)
            writer.notice = config.dry_run_notification
            self.load_usage(uow, [(states[arid], events, min(d for _, d in claimed[arid]))
                                  for arid, (events, _) in prepared.items()], config)
            for arid, rows in claimed.items():
                state = states.get(arid)
                if state is None:
                    continue
                pending = sorted({d for _, d in rows})
                done: set[date] = set()
                events, bcd = prepared[arid]
                time = state.account.time
                while pending:
                    target = pending.pop(0)
                    done.add(target)
                    try:
                        out = run_once(state, catalog, target, now, config, api=False, events=events,
                                       bcd_to_set=bcd)
                    except HistoryNeeded:
                        self.load_history(uow, [state])
                        out = run_once(state, catalog, target, now, config, api=False, events=events,
                                       bcd_to_set=bcd)
                    bcd = None
                    if out is None:
                        break
                    later = []
                    for sub_id, when in out.next_dates:
                        if when > target and when not in done and time.instant(when) <= now:
                            if when not in pending:
                                pending.append(when)
                        else:
                            later.append((sub_id, when))
                    pending.sort()
                    out.next_dates = later
                    writer.add(out)
                    if out.invoice is None:
                        nulls += 1
                    else:
                        invoices += 1
            writer.flush()
            self.save_checkpoints(uow, states, prepared, config)
            store.done(uow.conn, list(claimed), owner)
        report.accounts += len(claimed)
        report.invoices += invoices
        report.null_runs += nulls

    def run_due(self, *, tenant: int | None = None, now: datetime | None = None, batch_size: int | None = None,
                progress: Callable[[int, int], None] | None = None, owner: str | None = None) -> RunReport:
        """Bill every account with a next billing date due by `now` (of one tenant, or all), in batches.

        On PostgreSQL several batches run at once, each in its own transaction on disjoint accounts: in worker
        processes (`billing_pool`) when the run is bigger than one batch, else two in this process (while one
        waits for the database the other computes). SQLite has one writer: one batch at a time."""
        now = now or self.db.clock.utcnow()
        batch_size = batch_size or self.batch_size
        # the node's name first: if this process dies, its claims are free once its heartbeat stops
        owner = owner or f"{self.bus.node_name}/{uuid.uuid4().hex[:12]}"
        report = RunReport()
        lock = threading.Lock()
        wall = self.wall_clock.utcnow()
        stale = wall - timedelta(minutes=10)
        workers = 1 if self.db.is_sqlite else 2
        pool: BillingPool | None = None
        broken = threading.Event()

        def bill(t: int, claimed: dict[int, list[tuple[str, date]]]) -> None:
            part = RunReport()
            if pool is not None and not broken.is_set():
                try:
                    part = pool.bill(t, claimed, owner, self.clock_for_workers())
                except BrokenProcessPool:  # a worker died (killed, out of memory): bill here, afresh next run
                    log.exception("billing worker process died; this run goes on in this process")
                    broken.set()
                    self.close()
                    self.bill_batch(t, claimed, owner, part)
            else:
                self.bill_batch(t, claimed, owner, part)
            with lock:
                report.add(part)
                if progress is not None:
                    progress(report.accounts, report.invoices)

        threads = max(workers, 1 if self.db.is_sqlite else self.processes)
        after: int | None = None  # the last account claimed: each claim starts past it (`store.claim_due`)
        analyzed = False
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="billow-billing-run") as executor:
            running: set[Future[None]] = set()
            while True:
                with self.db.transaction(internal_context(tenant)) as uow:
                    others = store.claimed_owners(uow.conn, tenant, now) - {owner}
                    dead = self.bus.dead_nodes(uow.conn, {o.split("/", 1)[0] for o in others})
                    claimed_all = store.claim_due(uow.conn, tenant, now, owner, wall, stale, batch_size,
                                                  {o for o in others if o.split("/", 1)[0] in dead}, after=after)
                    tenants = store.tenants_of(uow.conn, list(claimed_all)) if tenant is None and claimed_all \
                        else {}
                if not claimed_all:
                    if after is None:
                        break
                    after = None  # accounts passed over (claimed by another run since freed): once more from the start
                    continue
                after = max(claimed_all)
                if not analyzed and len(claimed_all) >= batch_size:
                    # a big run: the schedule's statistics decide whether a claim walks the accounts in order
                    # (a batch's rows) or reads and sorts every due row; the bus fills it with no one analyzing
                    analyzed = True
                    self.db.analyze(store.SC.name)
                    # the payment handler reads the invoices this run makes by their ids; without statistics
                    # those reads test every invoice of the accounts (see `Database.analyze_stale`)
                    self.db.analyze_stale(*INVOICE_TABLES)
                if pool is None and not running and len(claimed_all) >= batch_size:
                    pool = self.billing_pool()  # more than one batch due: use the worker processes
                    if pool is not None:
                        workers = max(workers, pool.processes)
                by_tenant: dict[int, dict[int, list[tuple[str, date]]]] = {}
                for arid, rows in claimed_all.items():
                    by_tenant.setdefault(tenant if tenant is not None else tenants[arid], {})[arid] = rows
                for t, claimed in by_tenant.items():
                    if len(running) >= workers:
                        finished, running = wait(running, return_when=FIRST_COMPLETED)
                        for f in finished:
                            f.result()
                    running.add(executor.submit(bill, t, claimed))
            for f in running:
                f.result()
        if report.accounts >= VACUUM_AFTER_ACCOUNTS:
            # every billed account deleted its schedule rows and wrote new ones, and replaced its checkpoint (see
            # Database.vacuum); the checkpoints' history counts read the invoice and item history by account,
            # index-only once the new rows are marked visible
            self.db.vacuum(store.SC.name, store_checkpoints.checkpoints.name)
            self.db.vacuum(*(h.name for h in store_checkpoints.HISTORIES), analyze=False)
        return report

    def count_due(self, tenant: int | None, now: datetime) -> int:
        with self.db.read(internal_context(tenant)) as uow:
            return store.count_due(uow.conn, tenant, now)
