"""Invoice runs for one account or for thousands: load set-based, generate in memory, write in bulk.

Kill Bill runs one account at a time (`InvoiceDispatcher.processAccount`: lock, billing events,
existing invoices, `generateInvoice`, CBA, persist, CTD, future notifications, bus events). Billow
does the same work for a *batch* of accounts in one transaction: a few queries read the accounts,
subscriptions, blocking states and invoices of the whole batch; each account's runs are computed in
memory; the batch's invoices, items, audit and history rows, schedule rows and bus events are
written with multi-row inserts. A batch that fails is retried one account per transaction, and an
account that keeps failing is parked (its schedule rows turn FAILED) without holding up the others.
On PostgreSQL several batches run at once: in worker processes (`billing_pool`) for runs bigger than
one batch when the service has them, else two threads.

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
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from billow.account.model import Account
from billow.catalog.model import Catalog
from billow.core.context import CallContext
from billow.core.db import UnitOfWork
from billow.entitlement.model import BlockingState, Subscription
from billow.invoice import store
from billow.invoice.credit import credit_items
from billow.invoice.events import InvoiceCreationEvent, NullInvoiceEvent
from billow.invoice.generator import (
    AccountBillingInfo,
    GeneratorConfig,
    charged_through_dates,
    generate_invoice,
)
from billow.invoice.model import Invoice, InvoiceItem, InvoiceStatus
from billow.junction.engine import AccountBillingContext, billing_events
from billow.junction.model import BillingEvent

if TYPE_CHECKING:
    from billow.invoice.service import InvoiceService

log = logging.getLogger("billow.invoice")

TRIGGER_QUEUE = "invoice-service:next-billing-date-queue"
VACUUM_AFTER_ACCOUNTS = 500
AUTO_INVOICING_OFF = "AUTO_INVOICING_OFF"
AUTO_INVOICING_DRAFT = "AUTO_INVOICING_DRAFT"
AUTO_INVOICING_REUSE_DRAFT = "AUTO_INVOICING_REUSE_DRAFT"

ControlTags = Callable[[CallContext, Account], Collection[str]]


def no_control_tags(ctx: CallContext, account: Account) -> Collection[str]:
    """Until the tag service exists, no account carries a control tag."""
    return frozenset()


@dataclass
class AccountState:
    """Everything one account's runs read, kept up to date in memory across the runs of a batch."""

    account: Account
    subscriptions: list[Subscription]
    blocking: list[BlockingState]
    invoices: list[Invoice]
    tags: Collection[str] = frozenset()

    def info(self) -> AccountBillingInfo:
        a = self.account
        return AccountBillingInfo(a.id, a.currency or "USD", a.time_zone, a.reference_time, a.bill_cycle_day_local)


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


# ---------------------------------------------------------------------------------------------- loading
def load_states(service: InvoiceService, conn: Connection, ctx: CallContext, account_record_ids: Sequence[int]
                ) -> dict[int, AccountState]:
    """Accounts, subscriptions with their events, blocking states and invoices of many accounts: a few
    queries whatever the batch size, through each service's API."""
    ids = list(account_record_ids)
    if not ids:
        return {}
    tenant = ctx.tenant
    accounts = service.accounts.by_record_ids(conn, ctx, ids)
    inputs = service.entitlements.billing_inputs_many(conn, ctx, ids)
    invoices = store.invoices_of_accounts(conn, tenant, ids)
    out: dict[int, AccountState] = {}
    for rid in ids:
        account = accounts.get(rid)
        if account is None:
            continue
        subs, blocking = inputs[rid]
        out[rid] = AccountState(account, subs, blocking, invoices.get(rid, []), service.control_tags(ctx, account))
    return out


# ---------------------------------------------------------------------------------------------- one run
def account_events(state: AccountState, catalog: Catalog | None,
                   extra: Sequence[BillingEvent] = ()) -> tuple[list[BillingEvent], int | None]:
    """The junction's billing events; the BCD to store on the account when the junction fixed it."""
    if catalog is None or not state.subscriptions:
        return list(extra), None
    a = state.account
    result = billing_events(AccountBillingContext(a.id, a.currency or "USD", a.time_zone, a.bill_cycle_day_local),
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
    draft = AUTO_INVOICING_DRAFT in state.tags
    reuse = None
    if AUTO_INVOICING_REUSE_DRAFT in state.tags:
        reuse = next((inv for inv in state.invoices if inv.status is InvoiceStatus.DRAFT), None)
    invoice_id = reuse.id if reuse is not None else str(uuid.uuid4())
    result = generate_invoice(info, events, state.invoices, target, config, invoice_id=invoice_id, now=now)
    out = Outcome(state, result.target_date, bcd_to_set=bcd_to_set)
    for sub_id, nd in result.notification_dates.items():
        if nd.next_recurring_date is not None:
            out.next_dates.append((sub_id, nd.next_recurring_date))
        for when in nd.next_usage_dates.values():
            out.next_dates.append((sub_id, when))
    if not result.items:
        return out
    items = result.items
    local_today = now.astimezone(info.tz).date()
    if reuse is not None:
        invoice = dataclasses.replace(reuse, items=reuse.items + tuple(items), target_date=result.target_date)
        out.new_invoice = False
    else:
        status = InvoiceStatus.DRAFT if draft or reuse is not None else InvoiceStatus.COMMITTED
        if AUTO_INVOICING_REUSE_DRAFT in state.tags:
            status = InvoiceStatus.DRAFT
        invoice = Invoice(id=invoice_id, account_id=info.account_id, invoice_date=local_today,
                          target_date=result.target_date, currency=info.currency, status=status, items=tuple(items),
                          created_date=now)
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
        out.ctd = {sub: info.to_instant(d) for sub, d in charged_through_dates(items).items()}
    return out


# ---------------------------------------------------------------------------------------------- writing
@dataclass
class Writer:
    """Collects a batch's writes and flushes them with one multi-row insert per table."""

    service: InvoiceService
    uow: UnitOfWork
    ctx: CallContext
    post_null_events: bool = True
    invoices: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    ctd: dict[str, datetime] = field(default_factory=dict)
    schedule: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    created: list[Invoice] = field(default_factory=list)
    null_runs: int = 0

    def add(self, out: Outcome) -> None:
        state = out.state
        account = state.account
        arid = account.record_id
        uow = self.uow
        if out.bcd_to_set is not None:
            state.account = self.service.accounts.set_bill_cycle_day(uow, account, out.bcd_to_set)
        for sub_id, when in out.next_dates:
            self.schedule.append({"tenant_record_id": self.ctx.tenant, "account_record_id": arid,
                                  "subscription_id": sub_id, "target_date": when,
                                  "fire_at": state.info().to_instant(when), "state": store.AVAILABLE,
                                  "owner": None, "claimed_at": None, "error_count": 0, "created_date": uow.now})
        inv = out.invoice
        if inv is None:
            self.null_runs += 1
            if self.post_null_events:
                self.events.append(NullInvoiceEvent(tenant_record_id=self.ctx.tenant, account_record_id=arid,
                                                    account_id=account.id, user_token=self.ctx.user_token))
            return
        if out.new_invoice:
            self.invoices.append(store.invoice_row(inv, arid))
            self.created.append(inv)
        self.items.extend(store.item_row(it, arid) for it in out.items)
        self.ctd.update(out.ctd)
        if inv.status is InvoiceStatus.COMMITTED:
            self.events.append(InvoiceCreationEvent(
                tenant_record_id=self.ctx.tenant, account_record_id=arid, account_id=account.id, object_id=inv.id,
                user_token=self.ctx.user_token, currency=inv.currency))

    def flush(self) -> None:
        uow = self.uow
        if self.invoices:
            rows = uow.insert_many("invoices", self.invoices)
            numbers = {r["id"]: r["record_id"] for r in rows}
            self.created = [dataclasses.replace(inv, invoice_number=numbers.get(inv.id)) for inv in self.created]
        if self.items:
            uow.insert_many("invoice_items", self.items)
        if self.ctd:
            self.service.entitlements.update_charged_through_dates(uow, self.ctx, self.ctd)
        if self.schedule:
            store.add_schedule(uow.conn, self.schedule)
            self.service.schedule_triggers(uow, self.ctx.tenant, [r["fire_at"] for r in self.schedule])
        for ev in self.events:
            uow.post(ev)


# ---------------------------------------------------------------------------------------------- batches
@dataclass
class RunReport:
    accounts: int = 0
    invoices: int = 0
    null_runs: int = 0
    failed: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)


def bill_batch(service: InvoiceService, ctx: CallContext, claimed: dict[int, list[tuple[str, date]]],
               owner: str, report: RunReport) -> None:
    """Bill the claimed accounts in one transaction; on failure, one transaction per account."""
    try:
        _bill(service, ctx, list(claimed), owner, report)
        return
    except Exception:  # noqa: BLE001 - isolate the failing account(s) below
        log.warning("billing batch of %d accounts failed; billing them one by one", len(claimed), exc_info=True)
    for arid in claimed:
        try:
            _bill(service, ctx, [arid], owner, report)
        except Exception as e:  # noqa: BLE001
            log.exception("billing account record %s failed", arid)
            with service.db.transaction(ctx) as uow:
                parked = store.release_failed(uow.conn, arid, owner, repr(e), service.max_errors)
            (report.parked if parked else report.failed).append(arid)


def _bill(service: InvoiceService, ctx: CallContext, account_record_ids: list[int], owner: str,
          report: RunReport) -> None:
    with service.db.transaction(ctx) as uow:
        uow.lock_accounts(account_record_ids)
        claimed = store.claimed_rows(uow.conn, account_record_ids, owner)
        if not claimed:
            return
        states = load_states(service, uow.conn, ctx, list(claimed))
        catalog = service.catalogs.catalog(ctx) if any(s.subscriptions for s in states.values()) else None
        writer = Writer(service, uow, ctx, post_null_events=False)
        now = uow.now
        invoices = nulls = 0
        for arid, rows in claimed.items():
            state = states.get(arid)
            if state is None:
                continue
            pending = sorted({d for _, d in rows})
            done: set[date] = set()
            events, bcd = account_events(state, catalog)
            info = state.info()
            while pending:
                target = pending.pop(0)
                done.add(target)
                out = run_once(state, catalog, target, now, service.config, api=False, events=events,
                               bcd_to_set=bcd)
                bcd = None
                if out is None:
                    break
                later = []
                for sub_id, when in out.next_dates:
                    if when > target and when not in done and info.to_instant(when) <= now:
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
        store.done(uow.conn, list(claimed), owner)
    report.accounts += len(claimed)
    report.invoices += invoices
    report.null_runs += nulls


def run_due(service: InvoiceService, ctx_for: Callable[[int], CallContext], *, tenant: int | None, now: datetime,
            batch_size: int = 500, progress: Callable[[int, int], None] | None = None,
            owner: str | None = None) -> RunReport:
    """Bill every account with a next billing date due by `now` (of one tenant, or all), in batches.

    On PostgreSQL several batches run at once, each in its own transaction on disjoint accounts: in the
    service's worker processes (`billing_pool`) when the run is bigger than one batch, else two in this
    process (while one waits for the database the other computes). SQLite has one writer: one batch."""
    owner = owner or f"run-{uuid.uuid4().hex[:12]}"
    report = RunReport()
    lock = threading.Lock()
    wall = service.wall_clock.utcnow()
    stale = wall - timedelta(minutes=10)
    workers = 1 if service.db.is_sqlite else 2
    pool = None
    broken = threading.Event()

    def bill(t: int, claimed: dict[int, list[tuple[str, date]]]) -> None:
        part = RunReport()
        if pool is not None and not broken.is_set():
            try:
                part = pool.bill(t, claimed, owner, service.clock_for_workers())
            except BrokenProcessPool:  # a worker died (killed, out of memory): bill here, start afresh next run
                log.exception("billing worker process died; this run goes on in this process")
                broken.set()
                service.close()
                bill_batch(service, ctx_for(t), claimed, owner, part)
        else:
            bill_batch(service, ctx_for(t), claimed, owner, part)
        with lock:
            report.accounts += part.accounts
            report.invoices += part.invoices
            report.null_runs += part.null_runs
            report.failed += part.failed
            report.parked += part.parked
            if progress is not None:
                progress(report.accounts, report.invoices)

    threads = max(workers, 1 if service.db.is_sqlite else service.processes)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="billow-billing-run") as executor:
        running: set[Future[None]] = set()
        while True:
            with service.db.transaction(ctx_for(tenant or 0)) as uow:
                claimed_all = store.claim_due(uow.conn, tenant, now, owner, wall, stale, batch_size)
            if not claimed_all:
                break
            if pool is None and not running and len(claimed_all) >= batch_size:
                pool = service.billing_pool()  # more than one batch due: use the worker processes
                if pool is not None:
                    workers = max(workers, pool.processes)
            by_tenant: dict[int, dict[int, list[tuple[str, date]]]] = {}
            if tenant is not None:
                by_tenant[tenant] = claimed_all
            else:
                with service.db.read() as conn:
                    tenants = store.tenants_of(conn, list(claimed_all))
                for arid, rows in claimed_all.items():
                    by_tenant.setdefault(tenants[arid], {})[arid] = rows
            for t, claimed in by_tenant.items():
                if len(running) >= workers:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for f in finished:
                        f.result()
                running.add(executor.submit(bill, t, claimed))
        for f in running:
            f.result()
    if report.accounts >= VACUUM_AFTER_ACCOUNTS:
        # every billed account deleted its schedule rows and wrote new ones (see Database.vacuum)
        service.db.vacuum(store.SC.name)
    return report


def due_accounts(conn: Connection, tenant: int | None, now: datetime) -> int:
    return store.count_due(conn, tenant, now)
