"""The invoice service: invoice runs, reads, DRAFT/COMMITTED/VOID, external charges, taxes, credits,
item adjustments, dry runs and account balances.

Kill Bill sources (killbill/killbill 0.24, `invoice/src/main/java/org/killbill/billing/invoice/`):
`InvoiceDispatcher.java` (runs, dry runs, target dates), `api/user/DefaultInvoiceUserApi.java`
(commit, void, charges, credits, adjustments), `dao/DefaultInvoiceDao.java` and `dao/CBADao.java`
(persistence, account balance and CBA). Specification: billing-semantics.md Part 4.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billow.account.model import Account
from billow.account.service import AccountService
from billow.catalog.service import CatalogService
from billow.core.clock import Clock, SystemClock, TestClock
from billow.core.context import CallContext, internal_context
from billow.core.db import Database, UnitOfWork
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import BillowError, InvalidInput, NotFound
from billow.core.money import round_money
from billow.entitlement.model import BillingActionPolicy
from billow.entitlement.service import EntitlementService, SubscriptionRequest
from billow.invoice import store
from billow.invoice.billing_pool import BillingPool
from billow.invoice.billing_run import (
    TRIGGER_QUEUE,
    AccountState,
    ControlTags,
    Outcome,
    RunReport,
    Writer,
    account_events,
    load_states,
    no_control_tags,
    run_due,
    run_once,
)
from billow.invoice.credit import account_balance, account_cba, credit_items
from billow.invoice.events import InvoiceAdjustmentEvent, InvoiceCreationEvent
from billow.invoice.generator import AccountBillingInfo, GeneratorConfig, InvoicingError, charged_through_dates
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

INVOICE_EXCEPTION = "org.killbill.billing.invoice.api.InvoiceApiException"
_ZERO = Decimal(0)


def invoice_error(code: int, message: str, status: int = 400) -> BillowError:
    return BillowError(message, code=code, class_name=INVOICE_EXCEPTION, status=status)


def invoice_not_found(invoice_id: object) -> NotFound:
    return NotFound(f"No invoice could be found for id {invoice_id}.", code=4006, class_name=INVOICE_EXCEPTION)


class NothingToInvoice(BillowError):
    """`INVOICE_NOTHING_TO_DO`: REST answers 404 (createFutureInvoice) or 204 (dry run)."""

    status = 404

    def __init__(self, account_id: str, target: date | None) -> None:
        super().__init__(f"No invoice to generate for account {account_id} and date {target}", code=4007,
                         class_name=INVOICE_EXCEPTION)


@dataclass(frozen=True, slots=True)
class ItemInput:
    """An item a caller gives (InvoiceItemJson): external charge, tax, credit or adjustment."""

    account_id: str | None = None
    invoice_id: str | None = None
    invoice_item_id: str | None = None
    linked_item_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    description: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    subscription_id: str | None = None
    bundle_id: str | None = None
    plan_name: str | None = None
    product_name: str | None = None
    phase_name: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    item_details: str | None = None


@dataclass(frozen=True, slots=True)
class DryRunRequest:
    """InvoiceDryRunJson: TARGET_DATE, UPCOMING_INVOICE or SUBSCRIPTION_ACTION (spec 4.9)."""

    dry_run_type: str = "TARGET_DATE"
    subscription_id: str | None = None
    bundle_id: str | None = None
    # SUBSCRIPTION_ACTION: START_BILLING, CHANGE or STOP_BILLING, the plan asked for, its date or policy
    action: str | None = None
    plan: SubscriptionRequest | None = None
    effective_date: date | None = None
    billing_policy: BillingActionPolicy | None = None


class InvoiceService:
    def __init__(self, db: Database, accounts: AccountService, entitlements: EntitlementService,
                 catalogs: CatalogService, *, config: GeneratorConfig | None = None,
                 control_tags: ControlTags = no_control_tags, wall_clock: Clock | None = None,
                 max_errors: int = 3, batch_size: int = 500, processes: int | None = None) -> None:
        self.db = db
        self.accounts = accounts
        self.entitlements = entitlements
        self.catalogs = catalogs
        self.config = config or GeneratorConfig()
        self.control_tags = control_tags
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.max_errors = max_errors
        self.batch_size = batch_size
        # worker processes for billing runs bigger than one batch (PostgreSQL; see billing_pool). 1: none.
        self.processes = processes if processes is not None else 1
        self._pool: BillingPool | None = None
        self._pool_lock = threading.Lock()
        self.bus: Any = None  # set by listeners.install

    # ============================================================ scheduling
    def schedule_triggers(self, uow: UnitOfWork, tenant: int, instants: Sequence[datetime]) -> None:
        """One next-billing-date notification per tenant and instant wakes the batch runner."""
        for when in store.add_triggers(uow.conn, tenant, instants):
            if self.bus is not None:
                self.bus.schedule(uow, TRIGGER_QUEUE, {"fireAt": when.isoformat()}, when, tenant_record_id=tenant)

    def on_trigger(self, tenant: int, fire_at: datetime) -> RunReport:
        """A next-billing-date notification came due: bill every account of the tenant due by now."""
        ctx = internal_context(tenant)
        with self.db.transaction(ctx) as uow:
            now = uow.now
            # this run bills every account due by now: the other wake-ups due by now have nothing left to do
            store.forget_triggers_due(uow.conn, tenant, now)
            if self.bus is not None:
                self.bus.remove_due(uow, TRIGGER_QUEUE, tenant, now)
        return self.run_due(tenant=tenant, now=now)

    def run_due(self, *, tenant: int | None = None, now: datetime | None = None, batch_size: int | None = None,
                progress: Any = None) -> RunReport:
        """The billing run: every account with a billing date due by `now` (default: the clock), in batches."""
        return run_due(self, lambda t: internal_context(t or None), tenant=tenant, now=now or self.db.clock.utcnow(),
                       batch_size=batch_size or self.batch_size, progress=progress)

    def billing_pool(self) -> BillingPool | None:
        """The worker processes of big billing runs: PostgreSQL only, more than one process configured, and
        the default control-tag rule (a custom rule is a function of this process)."""
        if self.db.is_sqlite or self.processes <= 1 or self.control_tags is not no_control_tags:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = BillingPool(self.db.url, processes=self.processes,
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

    # ============================================================ runs
    def run_in(self, uow: UnitOfWork, ctx: CallContext, account_record_id: int, target: date | None, *,
               api: bool) -> Outcome | None:
        """One run for one account in the caller's transaction (under the account lock)."""
        uow.lock_account(account_record_id)
        if not api and store.is_parked(uow.conn, account_record_id):
            return None
        state = load_states(self, uow.conn, ctx, [account_record_id]).get(account_record_id)
        if state is None:
            return None
        if target is None:
            target = _local_today(state, uow.now)
        catalog = self.catalogs.catalog(ctx) if state.subscriptions else None
        out = run_once(state, catalog, target, uow.now, self.config, api=api)
        if out is None:
            return None
        writer = Writer(self, uow, ctx)
        writer.add(out)
        writer.flush()
        if writer.created and out.invoice is not None:
            out.invoice = writer.created[0]
        return out

    def on_event(self, uow: UnitOfWork, ctx: CallContext, account_record_id: int, target: date | None) -> None:
        """A bus event asks for a run; an illegal invoicing state parks the account (Kill Bill's
        `ParkedAccountsManager`) instead of failing the event forever."""
        try:  # the generator raises before anything is written
            self.run_in(uow, ctx, account_record_id, target, api=False)
        except InvoicingError as e:
            store.add_schedule(uow.conn, [{
                "tenant_record_id": ctx.tenant, "account_record_id": account_record_id, "subscription_id": "",
                "target_date": target or uow.now.date(), "fire_at": uow.now, "state": store.FAILED, "owner": None,
                "claimed_at": None, "error_count": self.max_errors, "last_error": str(e), "created_date": uow.now}])

    def trigger(self, ctx: CallContext, account_id: str, target: date | None) -> Invoice:
        """`triggerInvoiceGeneration` (REST createFutureInvoice): raises NothingToInvoice."""
        account = self.accounts.get(ctx, account_id)
        with self.db.transaction(ctx) as uow:
            out = self.run_in(uow, ctx, account.record_id, target, api=True)
            if out is not None and out.invoice is not None:
                # a successful API run unparks the account
                from sqlalchemy import delete

                uow.conn.execute(delete(store.SC).where(store.SC.c.account_record_id == account.record_id,
                                                        store.SC.c.state == store.FAILED))
        if out is None or out.invoice is None:
            raise NothingToInvoice(account_id, target)
        return out.invoice

    # ============================================================ dry runs
    def dry_run(self, ctx: CallContext, account_id: str, target: date | None,
                request: DryRunRequest | None = None) -> Invoice | None:
        """`triggerDryRunInvoiceGeneration` (spec 4.9): nothing is written. None = nothing to invoice."""
        request = request or DryRunRequest()
        account = self.accounts.get(ctx, account_id)
        with self.db.read() as conn:
            state = load_states(self, conn, ctx, [account.record_id])[account.record_id]
            pending = store.pending_dates(conn, account.record_id)
        now = self.db.clock.utcnow()
        if (request.dry_run_type or "").upper() == "SUBSCRIPTION_ACTION":
            if not request.action:
                raise InvalidInput("dryRunAction: needs to be set for a SUBSCRIPTION_ACTION dry run")
            # the account as it would be after the action; invoiced as of the action's date
            state.subscriptions, state.blocking = self.entitlements.what_if(
                ctx, state.account, request.action, subscription_id=request.subscription_id,
                bundle_id=request.bundle_id, req=request.plan, effective=request.effective_date,
                billing_policy=request.billing_policy)
            if target is None:
                target = request.effective_date or _local_today(state, now)
        catalog = self.catalogs.catalog(ctx) if state.subscriptions else None
        events, bcd = account_events(state, catalog)
        if bcd is not None:
            state.account = dataclasses.replace(state.account, bill_cycle_day_local=bcd)
        info = state.info()
        next_events: dict[str, date] = {}
        for ev in events:
            if ev.effective_date > now and ev.subscription_id not in next_events:
                next_events[ev.subscription_id] = info.to_local_date(ev.effective_date)
        candidates = sorted({d for _, d in pending} | set(next_events.values()))

        def run(st: AccountState, day: date) -> Outcome | None:
            return run_once(st, catalog, day, now, self.config, api=True, events=events)

        def replay(day: date) -> Invoice | None:
            st = dataclasses.replace(state, invoices=list(state.invoices))
            latest = max((inv for inv in st.invoices if inv.target_date is not None),
                         key=lambda inv: inv.target_date or date.min, default=None)
            queue = set(candidates)
            for ev in events:
                d = info.to_local_date(ev.effective_date)
                if latest is None or (latest.target_date is not None and latest.target_date < d):
                    queue.add(d)
            last: Invoice | None = None
            prev: date | None = None
            while queue:
                cur = min(queue)
                queue.discard(cur)
                if cur > day:
                    break
                out = run(st, cur)
                last = out.invoice if out is not None else None
                if out is not None and out.invoice is not None:
                    queue.update(k for _, k in out.next_dates if cur < k < day)
                prev = cur
            if prev == day:
                return last
            out = run(st, day)
            return out.invoice if out is not None and out.invoice is not None else last

        kind = (request.dry_run_type or "TARGET_DATE").upper()
        if kind == "UPCOMING_INVOICE":
            subs: set[str] = set()
            if request.subscription_id:
                subs = {request.subscription_id}
            elif request.bundle_id:
                subs = {ev.subscription_id for ev in events if ev.bundle_id == request.bundle_id}
            if not subs:
                for day in candidates:
                    st = dataclasses.replace(state, invoices=list(state.invoices))
                    out = run(st, day)
                    if out is not None and out.invoice is not None:
                        return out.invoice
                return None
            filtered = sorted({d for s, d in pending if s in subs} | {d for s, d in next_events.items() if s in subs})
            for day in filtered:
                found = replay(day)
                if found is not None:
                    return found
            return None
        if kind not in ("TARGET_DATE", "SUBSCRIPTION_ACTION"):
            raise InvalidInput(f"dryRunType: '{request.dry_run_type}' is not one of TARGET_DATE, UPCOMING_INVOICE, "
                               "SUBSCRIPTION_ACTION")
        return replay(target or _local_today(state, now))

    # ============================================================ reads
    def get(self, ctx: CallContext, invoice_id: str) -> Invoice:
        with self.db.read() as conn:
            row = store.invoice_record(conn, ctx.tenant, invoice_id=invoice_id)
            if row is None:
                raise invoice_not_found(invoice_id)
            return self._with_items(conn, ctx, row)

    def by_number(self, ctx: CallContext, number: int) -> Invoice:
        with self.db.read() as conn:
            row = store.invoice_record(conn, ctx.tenant, number=number)
            if row is None:
                raise invoice_error(4018, f"No invoice could be found for number {number}.", 404)
            return self._with_items(conn, ctx, row)

    def _with_items(self, conn: Any, ctx: CallContext, row: Any) -> Invoice:
        invoices = store.invoices_of_accounts(conn, ctx.tenant, [row["account_record_id"]])[row["account_record_id"]]
        return next(inv for inv in invoices if inv.id == row["id"])

    def of_account(self, ctx: CallContext, account_id: str) -> list[Invoice]:
        account = self.accounts.get(ctx, account_id)
        with self.db.read() as conn:
            return store.invoices_of_accounts(conn, ctx.tenant, [account.record_id])[account.record_id]

    def account_balances(self, ctx: CallContext, account: Account) -> tuple[Decimal, Decimal]:
        """(accountBalance, accountCBA) as `DefaultInvoiceDao.getAccountBalance` / `getAccountCBA`."""
        with self.db.read() as conn:
            invoices = store.invoices_of_accounts(conn, ctx.tenant, [account.record_id])[account.record_id]
        currency = account.currency or "USD"
        return round_money(account_balance(invoices), currency), round_money(account_cba(invoices), currency)

    def credit(self, ctx: CallContext, credit_id: str) -> InvoiceItem:
        with self.db.read() as conn:
            row = store.item_record(conn, ctx.tenant, credit_id)
        if row is None or row["type"] != InvoiceItemType.CREDIT_ADJ.value:
            raise invoice_error(4008, f"Credit Item {credit_id} does not exist", 404)
        return store.to_item(row)

    def audit_logs(self, ctx: CallContext, invoices: Sequence[Invoice], level: str
                   ) -> tuple[dict[str, list[AuditLogEntry]], dict[str, list[AuditLogEntry]]]:
        """Audit entries of invoices and of their items, keyed by id."""
        if level == "NONE" or not invoices:
            return {}, {}
        with self.db.read() as conn:
            inv_ids = {r.record_id: r.id for r in conn.execute(store.INV.select().with_only_columns(
                store.INV.c.record_id, store.INV.c.id).where(store.INV.c.id.in_([i.id for i in invoices])))}
            item_ids = {r.record_id: r.id for r in conn.execute(store.IT.select().with_only_columns(
                store.IT.c.record_id, store.IT.c.id).where(store.IT.c.invoice_id.in_([i.id for i in invoices])))}
            a = audit_logs(conn, ctx.tenant, "invoices", list(inv_ids), level=level)
            b = audit_logs(conn, ctx.tenant, "invoice_items", list(item_ids), level=level)
        return ({inv_ids[k]: v for k, v in a.items()}, {item_ids[k]: v for k, v in b.items()})

    # ============================================================ status changes
    def _locked(self, uow: UnitOfWork, ctx: CallContext, invoice_id: str) -> tuple[Any, AccountState]:
        row = store.invoice_record(uow.conn, ctx.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        uow.lock_account(arid)
        state = load_states(self, uow.conn, ctx, [arid])[arid]
        return row, state

    def commit(self, ctx: CallContext, invoice_id: str) -> None:
        """`commitInvoice`: DRAFT → COMMITTED; CTDs set, credit applied, INVOICE_CREATION published."""
        with self.db.transaction(ctx) as uow:
            row, state = self._locked(uow, ctx, invoice_id)
            status = InvoiceStatus(row["status"])
            if status is InvoiceStatus.COMMITTED:
                return
            if status is InvoiceStatus.VOID:
                raise invoice_error(4002, f"Invoice {invoice_id} is VOID and cannot be committed")
            uow.update("invoices", row["record_id"], {"status": InvoiceStatus.COMMITTED.value})
            invoices = [dataclasses.replace(inv, status=InvoiceStatus.COMMITTED) if inv.id == invoice_id else inv
                        for inv in state.invoices]
            invoice = next(inv for inv in invoices if inv.id == invoice_id)
            self._credit(uow, state, invoice, invoices)
            info = state.info()
            ctd = {sub: info.to_instant(d) for sub, d in charged_through_dates(invoice.items).items()}
            if ctd:
                self.entitlements.update_charged_through_dates(uow, ctx, ctd)
            uow.post(InvoiceCreationEvent(tenant_record_id=ctx.tenant, account_record_id=state.account.record_id,
                                          account_id=state.account.id, object_id=invoice_id,
                                          user_token=ctx.user_token, currency=invoice.currency))

    def void(self, ctx: CallContext, invoice_id: str) -> None:
        """`voidInvoice` (DefaultInvoiceUserApi): refused when paid, repaired or its credit was used."""
        with self.db.transaction(ctx) as uow:
            row, state = self._locked(uow, ctx, invoice_id)
            invoice = next(inv for inv in state.invoices if inv.id == invoice_id)
            if invoice.status is InvoiceStatus.VOID:
                return
            if invoice.paid_amount > 0:
                raise invoice_error(4035, f"Cannot void invoice {invoice_id} that is paid")
            own = {it.id for it in invoice.items}
            if invoice.status is InvoiceStatus.COMMITTED and any(
                    it.type is InvoiceItemType.REPAIR_ADJ and it.linked_item_id in own
                    for inv in state.invoices if inv.id != invoice_id and inv.status is not InvoiceStatus.VOID
                    for it in inv.items):
                raise invoice_error(4036, f"Cannot void invoice {invoice_id} that is repaired")
            generated = sum((it.amount for it in invoice.items if it.type is InvoiceItemType.CBA_ADJ
                             and it.amount > 0), _ZERO)
            if generated > 0 and generated > account_cba(state.invoices):
                raise invoice_error(4037, f"Cannot void invoice {invoice_id} that generated credit already used")
            uow.update("invoices", row["record_id"], {"status": InvoiceStatus.VOID.value})
            uow.post(InvoiceAdjustmentEvent(tenant_record_id=ctx.tenant, account_record_id=state.account.record_id,
                                            account_id=state.account.id, object_id=invoice_id,
                                            user_token=ctx.user_token))

    # ============================================================ items from the API
    def _credit(self, uow: UnitOfWork, state: AccountState, invoice: Invoice, invoices: list[Invoice]) -> None:
        """CBA after a change (`CBADao.doCBAComplexityFromTransaction`): write the CBA_ADJ items."""
        cba = credit_items([invoice], invoices, now=uow.now)
        if cba:
            uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in cba])

    def _account_for_items(self, ctx: CallContext, account_id: str | None, items: Sequence[ItemInput]) -> Account:
        ids = {it.account_id for it in items if it.account_id} | ({account_id} if account_id else set())
        if not ids:
            raise InvalidInput("accountId: needs to be set")
        if len(ids) > 1:
            raise InvalidInput("accountId: all items must belong to the same account")
        return self.accounts.get(ctx, ids.pop())

    def add_items(self, ctx: CallContext, account_id: str | None, items: Sequence[ItemInput],
                  item_type: InvoiceItemType, *, requested: date | None, auto_commit: bool) -> list[InvoiceItem]:
        """External charges (`insertExternalCharges`), taxes (`insertTaxItems`) and credits (`insertCredits`).

        Items naming an invoice go onto it (a DRAFT only: INVOICE_ALREADY_COMMITTED otherwise); the others go
        onto one new invoice, COMMITTED when `auto_commit`, else DRAFT. A credit is stored negated
        (CREDIT_ADJ −x) and its invoice gets CBA_ADJ +x.
        """
        if not items:
            raise InvalidInput("body: at least one invoice item is needed")
        account = self._account_for_items(ctx, account_id, items)
        currency = account.currency or "USD"
        for it in items:
            if it.amount is None or it.amount <= 0:
                if item_type is InvoiceItemType.CREDIT_ADJ:
                    raise invoice_error(4009, f"Credit amount {it.amount} should be strictly positive")
                raise invoice_error(4015, f"{item_type.value} amount {it.amount} should be strictly positive")
            if it.currency is not None and it.currency != currency:
                raise invoice_error(4020, f"Currency {it.currency} does not match the account currency {currency}")
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            state = load_states(self, uow.conn, ctx, [account.record_id])[account.record_id]
            today = requested or _local_today(state, uow.now)
            by_id = {inv.id: inv for inv in state.invoices}
            new_invoice: Invoice | None = None
            created: list[InvoiceItem] = []
            targets: dict[str, Invoice] = {}
            for it in items:
                if it.invoice_id:
                    inv = by_id.get(it.invoice_id)
                    if inv is None:
                        raise invoice_not_found(it.invoice_id)
                    if inv.status is not InvoiceStatus.DRAFT:
                        raise invoice_error(4022, f"Invoice {inv.id} is already COMMITTED")
                else:
                    if new_invoice is None:
                        status = InvoiceStatus.COMMITTED if auto_commit else InvoiceStatus.DRAFT
                        new_invoice = Invoice(id=str(uuid.uuid4()), account_id=account.id, invoice_date=today,
                                              target_date=None, currency=currency, status=status,
                                              created_date=uow.now)
                        by_id[new_invoice.id] = new_invoice
                    inv = new_invoice
                amount = round_money(it.amount or _ZERO, currency)
                item = InvoiceItem(
                    id=str(uuid.uuid4()), invoice_id=inv.id, account_id=account.id, type=item_type,
                    start_date=it.start_date or today,
                    end_date=it.end_date if item_type is not InvoiceItemType.CREDIT_ADJ else (it.end_date or today),
                    amount=-amount if item_type is InvoiceItemType.CREDIT_ADJ else amount, currency=currency,
                    subscription_id=it.subscription_id, bundle_id=it.bundle_id, product_name=it.product_name,
                    plan_name=it.plan_name, phase_name=it.phase_name, linked_item_id=it.linked_item_id,
                    quantity=it.quantity, rate=it.rate, item_details=it.item_details, description=it.description,
                    created_date=uow.now)
                inv = dataclasses.replace(inv, items=inv.items + (item,))
                by_id[inv.id] = inv
                targets[inv.id] = inv
                if new_invoice is not None and inv.id == new_invoice.id:
                    new_invoice = inv
                created.append(item)
            if new_invoice is not None:
                rows = uow.insert_many("invoices", [store.invoice_row(new_invoice, account.record_id)])
                new_invoice = dataclasses.replace(new_invoice, invoice_number=rows[0]["record_id"])
            uow.insert_many("invoice_items", [store.item_row(it, account.record_id) for it in created])
            invoices = list(by_id.values())
            for inv in targets.values():
                self._credit(uow, state, inv, invoices)
                if inv.status is InvoiceStatus.COMMITTED:
                    uow.post(InvoiceCreationEvent(tenant_record_id=ctx.tenant, account_record_id=account.record_id,
                                                  account_id=account.id, object_id=inv.id,
                                                  user_token=ctx.user_token, currency=currency))
        return created

    def adjust_item(self, ctx: CallContext, invoice_id: str, item: ItemInput, *,
                    requested: date | None) -> Invoice:
        """`insertInvoiceItemAdjustment`: ITEM_ADJ (−amount, or the whole adjustable amount) linked to the item."""
        if not item.invoice_item_id:
            raise InvalidInput("invoiceItemId: needs to be set")
        if item.amount is not None and item.amount <= 0:
            raise invoice_error(4010, f"Adjustment amount {item.amount} should be strictly positive")
        with self.db.transaction(ctx) as uow:
            row, state = self._locked(uow, ctx, invoice_id)
            invoice = next(inv for inv in state.invoices if inv.id == invoice_id)
            target = next((it for it in invoice.items if it.id == item.invoice_item_id), None)
            if target is None:
                raise invoice_error(4011, f"No invoice item could be found for id {item.invoice_item_id}.", 404)
            if not target.type.is_charge and target.type is not InvoiceItemType.PARENT_SUMMARY:
                raise invoice_error(4017, f"Invoice item {target.id} cannot be adjusted")
            if item.currency is not None and item.currency != invoice.currency:
                raise invoice_error(4020, f"Currency {item.currency} does not match {invoice.currency}")
            already = sum((it.amount for inv in state.invoices if inv.status is not InvoiceStatus.VOID
                           for it in inv.items if it.linked_item_id == target.id
                           and it.type in (InvoiceItemType.ITEM_ADJ, InvoiceItemType.REPAIR_ADJ)), _ZERO)
            available = target.amount + already
            amount = available if item.amount is None else round_money(item.amount, invoice.currency)
            if amount > available or amount <= 0:
                raise invoice_error(4019, f"Invoice item {target.id} can be adjusted by at most {available}")
            day = requested or _local_today(state, uow.now)
            adj = InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice.id, account_id=invoice.account_id,
                              type=InvoiceItemType.ITEM_ADJ, start_date=day, end_date=day, amount=-amount,
                              currency=invoice.currency, linked_item_id=target.id, description=item.description,
                              created_date=uow.now)
            uow.insert_many("invoice_items", [store.item_row(adj, state.account.record_id)])
            invoice = dataclasses.replace(invoice, items=invoice.items + (adj,))
            invoices = [invoice if inv.id == invoice.id else inv for inv in state.invoices]
            self._credit(uow, state, invoice, invoices)
            uow.post(InvoiceAdjustmentEvent(tenant_record_id=ctx.tenant, account_record_id=state.account.record_id,
                                            account_id=state.account.id, object_id=invoice.id,
                                            user_token=ctx.user_token))
        return self.get(ctx, invoice_id)


def _local_today(state: AccountState, now: datetime) -> date:
    info: AccountBillingInfo = state.info()
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(info.tz).date()
