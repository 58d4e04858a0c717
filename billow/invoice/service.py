"""The invoice service: invoice runs, reads, DRAFT/COMMITTED/VOID, external charges, taxes, credits,
item adjustments, dry runs and account balances.

Kill Bill sources (killbill/killbill 0.24, `invoice/src/main/java/org/killbill/billing/invoice/`):
`InvoiceDispatcher.java` (runs, dry runs, target dates), `api/user/DefaultInvoiceUserApi.java`
(commit, void, charges, credits, adjustments), `dao/DefaultInvoiceDao.java` and `dao/CBADao.java`
(persistence, account balance and CBA). Specification: billing-semantics.md Part 4.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.internal import CatalogInternalApi
from billow.core.bus.bus import Bus, Notification
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork, leases
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import InvalidInput
from billow.core.limits import check_amount, check_date, check_text
from billow.core.money import round_money
from billow.entitlement.internal import EntitlementInternalApi
from billow.invoice import store
from billow.invoice.billing_run import DRY_RUN_NOTICE_QUEUE, AccountState, BillingRun, RunReport, account_events
from billow.invoice.corrections import InvoiceCorrections, MigrationItem
from billow.invoice.credit import account_cba, balance, credit_items
from billow.invoice.dry_run import DryRunRequest, Replay, dry_run
from billow.invoice.errors import NothingToInvoice, invoice_error, invoice_not_found
from billow.invoice.events import InvoiceNotificationEvent, invoice_adjusted, invoice_created
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.lookups import InvoiceLookups
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.triggers import InvoiceTriggers

_ZERO = Decimal(0)


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


def check_item_input(item: ItemInput) -> None:
    """What an item needs to be stored, before anything is read (Kill Bill's InvoiceItemJson fields): amounts
    within the money columns, dates within 1970-9999, names within their columns (invoice_items)."""
    for field, value in (("amount", item.amount), ("rate", item.rate), ("quantity", item.quantity)):
        check_amount(field, value)
    check_date("startDate", item.start_date)
    check_date("endDate", item.end_date)
    for field, text, limit in (("description", item.description, 255), ("productName", item.product_name, 255),
                               ("planName", item.plan_name, 255), ("phaseName", item.phase_name, 255),
                               ("itemDetails", item.item_details, None)):
        check_text(field, text, limit)


def rounded_amount(amount: Decimal, currency: str) -> Decimal:
    """An amount rounded to the currency (HALF_UP, as Kill Bill's `InvoiceItemBase`): 0.001 USD is 0.00, as
    there; refused when rounding carries it out of the money columns (999999.995 USD)."""
    rounded = round_money(amount, currency)
    check_amount("amount", rounded)
    return rounded


class InvoiceService(InvoiceLookups, InvoiceCorrections, InvoiceTriggers):
    """The user API: each call is one unit of work. Runs go through `run` (`BillingRun`); services above use
    `internal` (`InvoiceInternalApi`) in their own unit of work. Look-ups across invoices, corrections and API
    runs beyond `trigger` are in `lookups.py`, `corrections.py` and `triggers.py`."""

    def __init__(self, db: Database, run: BillingRun, internal: InvoiceInternalApi, accounts: AccountInternalApi,
                 entitlements: EntitlementInternalApi, catalogs: CatalogInternalApi) -> None:
        self.db = db
        self.run = run
        self.internal = internal
        self.accounts = accounts
        self.entitlements = entitlements
        self.catalogs = catalogs

    # ============================================================ runs
    def run_due(self, *, tenant: int | None = None, now: datetime | None = None, batch_size: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> RunReport:
        """The billing run: every account with a billing date due by `now` (default: the clock), in batches."""
        return self.run.run_due(tenant=tenant, now=now, batch_size=batch_size, progress=progress)

    def run_shared(self, *, tenant: int | None = None, now: datetime | None = None, batch_size: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> RunReport:
        """The billing run with the help of the other live nodes (`billow bill`): see `BillingRun.run_shared`."""
        return self.run.run_shared(tenant=tenant, now=now, batch_size=batch_size, progress=progress)

    def count_due(self, tenant: int | None, now: datetime) -> int:
        return self.run.count_due(tenant, now)

    @leases.waits_while_busy
    def trigger(self, ctx: CallContext, account_id: str, target: date | None) -> Invoice:
        """`triggerInvoiceGeneration` (REST createFutureInvoice): raises NothingToInvoice."""
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            out = self.run.run_account(uow, account.record_id, target, api=True)
            if out is not None:  # an API run that went through unparks the account, invoice or not
                store.unpark(uow.conn, account.record_id)
        if out is None or out.invoice is None:
            raise NothingToInvoice(account_id, target)
        return out.invoice

    def dry_run(self, ctx: CallContext, account_id: str, target: date | None,
                request: DryRunRequest | None = None) -> Invoice | None:
        """`triggerDryRunInvoiceGeneration` (spec 4.9): nothing is written. None = nothing to invoice."""
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            return self.dry_run_in(uow, account.record_id, target, request)

    def dry_run_in(self, uow: UnitOfWork, account_record_id: int, target: date | None,
                   request: DryRunRequest | None = None) -> Invoice | None:
        """A dry run in the caller's unit of work (the API's, or a dry-run notification's)."""
        request = request or DryRunRequest()
        kind = request.kind
        state = self.run.load_states(uow, [account_record_id])[account_record_id]
        account = state.account
        pending = store.pending_dates(uow.conn, account.record_id)
        now = uow.now
        if kind == "SUBSCRIPTION_ACTION":
            if not request.action:
                raise InvalidInput("dryRunAction: needs to be set for a SUBSCRIPTION_ACTION dry run")
            # the account as it would be after the action; invoiced as of the action's date
            state.subscriptions, state.blocking = self.entitlements.what_if(
                uow, state.account, request.action, subscription_id=request.subscription_id,
                bundle_id=request.bundle_id, req=request.plan, effective=request.effective_date,
                billing_policy=request.billing_policy)
            if target is None:
                target = request.effective_date or account.time.local_date(now)
        catalog = self.catalogs.catalog(uow) if state.subscriptions else None
        events, bcd = account_events(state, catalog)
        # the replay may run from the account's first billing event: read its usage from there
        first = min((account.time.local_date(ev.effective_date) for ev in events), default=None)
        config = self.run.config_for(uow)
        if first is not None:
            self.run.load_usage(uow, [(state, events, first)], config, dry_run=True)
        if bcd is not None:
            state.account = dataclasses.replace(state.account, bill_cycle_day_local=bcd)
        return dry_run(Replay(state, catalog, events, pending, now, config), request, target)

    def install_notices(self, bus: Bus) -> None:
        """Upcoming-invoice notices (`org.killbill.invoice.dryRunNotificationSchedule`): at the instant the billing
        run scheduled ahead of a next billing date, a dry run at that date; INVOICE_NOTIFICATION announces what it
        would invoice (Kill Bill's `InvoiceNotificationInternalEvent`: target date, amount owed, currency)."""

        def on_notice(uow: UnitOfWork, notification: Notification) -> None:
            arid = notification.account_record_id
            if arid is None or store.is_parked(uow.conn, arid):
                return
            target = date.fromisoformat(notification.payload["targetDate"])
            invoice = self.dry_run_in(uow, arid, target)
            if invoice is None:
                return
            account = self.accounts.by_record_id(uow, arid)
            uow.post(InvoiceNotificationEvent(
                tenant_record_id=uow.tenant, account_record_id=arid, account_id=account.id,
                user_token=uow.ctx.user_token, target_date=target.isoformat(),
                amount_owed=balance(invoice), currency=invoice.currency))

        bus.register_queue(DRY_RUN_NOTICE_QUEUE, on_notice)

    # ============================================================ reads
    def get(self, ctx: CallContext, invoice_id: str) -> Invoice:
        with self.db.read(ctx) as uow:
            row = store.invoice_record(uow.conn, ctx.tenant, invoice_id=invoice_id)
            if row is None:
                raise invoice_not_found(invoice_id)
            return self._with_items(uow, row)

    def by_number(self, ctx: CallContext, number: int) -> Invoice:
        with self.db.read(ctx) as uow:
            row = store.invoice_record(uow.conn, ctx.tenant, number=number)
            if row is None:
                raise invoice_error(4018, f"No invoice could be found for number {number}.", 404)
            return self._with_items(uow, row)

    def _with_items(self, uow: UnitOfWork, row: Any) -> Invoice:
        return self.internal.get(uow, row["id"])

    def of_account(self, ctx: CallContext, account_id: str) -> list[Invoice]:
        with self.db.read(ctx) as uow:
            return self.internal.invoices(uow, self.accounts.get(uow, account_id))

    def account_balances(self, ctx: CallContext, account: Account) -> tuple[Decimal, Decimal]:
        """(accountBalance, accountCBA) as `DefaultInvoiceDao.getAccountBalance` / `getAccountCBA`."""
        with self.db.read(ctx) as uow:
            return self.internal.balances(uow, account)

    def credit(self, ctx: CallContext, credit_id: str) -> InvoiceItem:
        with self.db.read(ctx) as uow:
            row = store.item_record(uow.conn, ctx.tenant, credit_id)
        if row is None or row["type"] != InvoiceItemType.CREDIT_ADJ.value:
            raise invoice_error(4008, f"Credit Item {credit_id} does not exist", 404)
        return store.to_item(row)

    def audit_logs(self, ctx: CallContext, invoices: Sequence[Invoice], level: str
                   ) -> tuple[dict[str, list[AuditLogEntry]], dict[str, list[AuditLogEntry]]]:
        """Audit entries of invoices and of their items, keyed by id."""
        if level == "NONE" or not invoices:
            return {}, {}
        with self.db.read(ctx) as uow:
            inv_ids, item_ids = store.record_ids_of(uow.conn, ctx.tenant, [i.id for i in invoices])
            a = audit_logs(uow.conn, ctx.tenant, "invoices", list(inv_ids), level=level)
            b = audit_logs(uow.conn, ctx.tenant, "invoice_items", list(item_ids), level=level)
        return ({inv_ids[k]: v for k, v in a.items()}, {item_ids[k]: v for k, v in b.items()})

    # ============================================================ status changes
    def _locked_invoice_account(self, uow: UnitOfWork, invoice_id: str) -> None:
        """The invoice's account locked and free of payments at their gateway (before an internal API changes it)."""
        owner = self.internal.owner_of_invoice(uow, invoice_id)
        uow.lock_account(owner.account_record_id)
        self.run.ensure_free(uow, [owner.account_record_id])

    def _locked(self, uow: UnitOfWork, invoice_id: str) -> tuple[Any, AccountState]:
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        uow.lock_account(arid)
        self.run.ensure_free(uow, [arid])
        state = self.run.load_states(uow, [arid])[arid]
        return row, state

    @leases.waits_while_busy
    def commit(self, ctx: CallContext, invoice_id: str) -> None:
        """`commitInvoice`: DRAFT → COMMITTED; CTDs set, credit applied, INVOICE_CREATION published."""
        with self.db.transaction(ctx) as uow:
            self._locked_invoice_account(uow, invoice_id)
            self.internal.commit(uow, invoice_id)

    @leases.waits_while_busy
    def void(self, ctx: CallContext, invoice_id: str) -> None:
        """`voidInvoice` (DefaultInvoiceUserApi): refused when paid, repaired or its credit was used."""
        with self.db.transaction(ctx) as uow:
            row, state = self._locked(uow, invoice_id)
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
            uow.post(invoice_adjusted(uow, state.account, invoice_id))

    # ============================================================ items from the API
    @staticmethod
    def _credit(uow: UnitOfWork, state: AccountState, invoice: Invoice, invoices: list[Invoice]) -> None:
        """CBA after a change (`CBADao.doCBAComplexityFromTransaction`): write the CBA_ADJ items."""
        cba = credit_items([invoice], invoices, now=uow.now)
        if cba:
            uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in cba])

    def _account_for_items(self, uow: UnitOfWork, account_id: str | None, items: Sequence[ItemInput]) -> Account:
        ids = {it.account_id for it in items if it.account_id} | ({account_id} if account_id else set())
        if not ids:
            raise InvalidInput("accountId: needs to be set")
        if len(ids) > 1:
            raise InvalidInput("accountId: all items must belong to the same account")
        return self.accounts.get(uow, ids.pop())

    @leases.waits_while_busy
    def add_items(self, ctx: CallContext, account_id: str | None, items: Sequence[ItemInput],
                  item_type: InvoiceItemType, *, requested: date | None, auto_commit: bool) -> list[InvoiceItem]:
        """External charges (`insertExternalCharges`), taxes (`insertTaxItems`) and credits (`insertCredits`).

        Items naming an invoice go onto it (a DRAFT only: INVOICE_ALREADY_COMMITTED otherwise); the others go
        onto one new invoice, COMMITTED when `auto_commit`, else DRAFT. A credit is stored negated
        (CREDIT_ADJ −x) and its invoice gets CBA_ADJ +x.
        """
        if not items:
            raise InvalidInput("body: at least one invoice item is needed")
        for it in items:
            check_item_input(it)
        with self.db.transaction(ctx) as uow:
            account = self._account_for_items(uow, account_id, items)
            currency = account.currency or "USD"
            for it in items:
                if it.amount is None or it.amount <= 0:
                    if item_type is InvoiceItemType.CREDIT_ADJ:
                        raise invoice_error(4009, f"Credit amount {it.amount} should be strictly positive")
                    raise invoice_error(4015, f"{item_type.value} amount {it.amount} should be strictly positive")
                if it.currency is not None and it.currency != currency:
                    raise invoice_error(4020, f"Currency {it.currency} does not match the account currency "
                                              f"{currency}")
            uow.lock_account(account.record_id)
            self.run.ensure_free(uow, [account.record_id])
            state = self.run.load_states(uow, [account.record_id])[account.record_id]
            today = requested or account.time.local_date(uow.now)
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
                amount = rounded_amount(it.amount or _ZERO, currency)
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
                    uow.post(invoice_created(uow, account, inv.id, currency))
        return created

    @leases.waits_while_busy
    def adjust_item(self, ctx: CallContext, invoice_id: str, item: ItemInput, *,
                    requested: date | None) -> Invoice:
        """`insertInvoiceItemAdjustment`: ITEM_ADJ (−amount, or the whole adjustable amount) linked to the item."""
        if not item.invoice_item_id:
            raise InvalidInput("invoiceItemId: needs to be set")
        check_item_input(item)
        if item.amount is not None and item.amount <= 0:
            raise invoice_error(4010, f"Adjustment amount {item.amount} should be strictly positive")
        with self.db.transaction(ctx) as uow:
            self._locked_invoice_account(uow, invoice_id)
            self.internal.adjust_item(uow, invoice_id, item.invoice_item_id, amount=item.amount,
                                      currency=item.currency, description=item.description, day=requested)
        return self.get(ctx, invoice_id)

    # ============================================================ account credit
    @leases.waits_while_busy
    def rebalance_credit(self, ctx: CallContext, account_id: str) -> None:
        """`consumeExistingCBAOnAccountWithUnpaidInvoices` (PUT /accounts/{id}/cbaRebalancing): the account's
        credit pays its unpaid COMMITTED invoices, oldest invoice date first (`CBADao.doCBAComplexity`);
        nothing is announced."""
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            self.run.ensure_free(uow, [account.record_id])
            invoices = self.internal.invoices(uow, account)
            cba = credit_items([], invoices, now=uow.now)
            if cba:
                uow.insert_many("invoice_items", [store.item_row(it, account.record_id) for it in cba])

    @leases.waits_while_busy
    def transfer_child_credit_to_parent(self, ctx: CallContext, child_account_id: str) -> None:
        """`transferChildCreditToParent` (DefaultInvoiceUserApi, DefaultInvoiceDao): the child's whole credit
        moves to its parent in one transaction. The child gets a COMMITTED invoice with an EXTERNAL_CHARGE of the
        credit, which its credit pays; the parent one with a CREDIT_ADJ of it, which becomes its credit. Both are
        dated today (invoice date in each account's time, target and item dates the UTC day) and announced."""
        with self.db.transaction(ctx) as uow:
            child = self.accounts.get(uow, child_account_id)
            if child.parent_account_id is None:
                raise invoice_error(3009, f"The Account {child.id} does not have a Parent Account associated")
            parent = self.accounts.get(uow, child.parent_account_id)
            uow.lock_accounts([child.record_id, parent.record_id])
            self.run.ensure_free(uow, [child.record_id, parent.record_id])
            child_invoices = self.internal.invoices(uow, child)
            credit = account_cba(child_invoices)
            if credit <= 0:
                raise invoice_error(4027, f"Child account {child.id} does not have credit")
            currency = child.currency or "USD"
            credit = round_money(credit, currency)
            now = uow.now
            day = now.astimezone(UTC).date()
            moves = (
                (child, child_invoices, InvoiceItemType.EXTERNAL_CHARGE, credit,
                 "Charge to move credit from child to parent account"),
                (parent, self.internal.invoices(uow, parent), InvoiceItemType.CREDIT_ADJ, -credit,
                 f"Credit migrated from child account {child.id}"),
            )
            for account, invoices, item_type, amount, description in moves:
                invoice_id = str(uuid.uuid4())
                item = InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice_id, account_id=account.id, type=item_type,
                                   start_date=day, end_date=day, amount=amount, currency=currency,
                                   description=description, created_date=now)
                invoice = Invoice(id=invoice_id, account_id=account.id, invoice_date=account.time.local_date(now),
                                  target_date=day, currency=currency, status=InvoiceStatus.COMMITTED, items=(item,),
                                  created_date=now)
                uow.insert_many("invoices", [store.invoice_row(invoice, account.record_id)])
                cba = credit_items([invoice], [*invoices, invoice], now=now)
                uow.insert_many("invoice_items", [store.item_row(it, account.record_id) for it in (item, *cba)])
                uow.post(invoice_created(uow, account, invoice_id, currency))

    def close(self) -> None:
        self.run.close()


__all__ = ["DryRunRequest", "InvoiceService", "ItemInput", "MigrationItem", "NothingToInvoice"]
