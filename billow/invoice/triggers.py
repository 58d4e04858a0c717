"""Invoice runs asked for through the API beyond `trigger` (part of the invoice service's user API,
`InvoiceService`): a run that may make a group of invoices, and the re-run of parked accounts.

Kill Bill: `DefaultInvoiceUserApi.triggerInvoiceGroupGeneration` (without invoice plugins a run makes one
invoice, which is its own group: `grp_id` = its id), `AdminResource.triggerInvoiceGenerationForParkedAccounts`
(each parked account, in turn, gets an API run at today's UTC date; an API run that goes through unparks the
account, whether it invoiced or not: `InvoiceDispatcher.processAccountInternal`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork, leases
from billow.core.errors import BillowError
from billow.invoice import store
from billow.invoice.billing_run import BillingRun
from billow.invoice.errors import NothingToInvoice, error_name
from billow.invoice.model import Invoice

log = logging.getLogger("billow.invoice")

OK = "OK"


@dataclass(frozen=True, slots=True)
class ParkedRuns:
    """What the re-run of one page of parked accounts did: account id → OK or a Kill Bill error name."""

    offset: int
    limit: int
    total: int
    results: dict[str, str] = field(default_factory=dict)


class InvoiceTriggers:
    db: Database
    run: BillingRun
    accounts: AccountInternalApi

    def _run_for_api(self, uow: UnitOfWork, account: Account, target: date | None) -> Invoice:
        out = self.run.run_account(uow, account.record_id, target, api=True)
        if out is not None:
            store.unpark(uow.conn, account.record_id)
        if out is None or out.invoice is None:
            raise NothingToInvoice(account.id, target)
        return out.invoice

    @leases.waits_while_busy
    def trigger_group(self, ctx: CallContext, account_id: str, target: date | None) -> tuple[str, list[Invoice]]:
        """`triggerInvoiceGroupGeneration`: (group id, invoices); raises NothingToInvoice."""
        outcome: Invoice | None = None
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            with contextlib.suppress(NothingToInvoice):  # (the unpark still commits, as in Kill Bill)
                outcome = self._run_for_api(uow, account, target)
        if outcome is None:
            raise NothingToInvoice(account_id, target)
        return outcome.id, [outcome]

    def parked_accounts(self, ctx: CallContext, offset: int, limit: int) -> tuple[list[str], int]:
        """One page of the tenant's parked accounts (ids, oldest account first) and how many there are."""
        with self.db.read(ctx) as uow:
            record_ids = sorted(store.parked_accounts(uow.conn, ctx.tenant))
            page = record_ids[offset:offset + limit]
            accounts = self.accounts.by_record_ids(uow, page)
        return [accounts[r].id for r in page if r in accounts], len(record_ids)

    def run_parked(self, ctx: CallContext, offset: int = 0, limit: int = 100) -> ParkedRuns:
        """Run each parked account of one page at today's UTC date, each in its own unit of work (Kill Bill
        makes one API call per account: one failing account leaves the others' runs)."""
        account_ids, total = self.parked_accounts(ctx, offset, limit)
        results: dict[str, str] = {}

        def run_one(account_id: str) -> str:
            with self.db.transaction(ctx) as uow:
                account = self.accounts.get(uow, account_id)
                try:
                    self._run_for_api(uow, account, uow.now.date())
                    return OK
                except NothingToInvoice as e:
                    return error_name(e)

        for account_id in account_ids:
            try:
                results[account_id] = leases.retry_while_busy(lambda: run_one(account_id))  # noqa: B023
            except BillowError as e:
                log.warning("invoice run of parked account %s failed: %s", account_id, e.message)
                results[account_id] = error_name(e)
        return ParkedRuns(offset, limit, total, results)
