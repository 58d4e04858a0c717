"""Closing an account (`DELETE /1.0/kb/accounts/{accountId}`, Kill Bill's `AccountResource.closeAccount`).

Kill Bill does, in this order, each step in its own transaction:

1. `cancelAllSubscriptions`: every subscription that is not an add-on and has no billing end date is cancelled
   with entitlement policy IMMEDIATE and billing policy END_OF_TERM (a base takes its add-ons with it);
2. `writeOffUnpaidInvoices`: each unpaid invoice gets the WRITTEN_OFF tag (balance 0, and invoicing leaves it
   alone); otherwise `itemAdjustUnpaidInvoices`: each EXTERNAL_CHARGE, FIXED, RECURRING, TAX, USAGE and
   PARENT_SUMMARY item of an unpaid invoice is adjusted in full, dated today (UTC), described by the
   request's comment or "Close Account";
3. the account gets the blocking state `CLOSE_ACCOUNT` of service `account-service` (blocks changes, not
   entitlement or billing), effective now;
4. `removeFutureNotifications` (default true): the account's future notifications of every queue go.

Billow does the same steps in one unit of work: a crash leaves the account as it was, and a retry does the
whole thing. The bus events the steps post are delivered after the commit, as Kill Bill's are.

Two differences, where Kill Bill would stop half-way with an error: an item already adjusted in part is
adjusted by what is left of it (Kill Bill asks for its whole amount and refuses), and one with nothing left
(or a zero amount) is passed over; a subscription whose entitlement has ended already is not cancelled again.
Billow's next billing dates live in `invoice_schedule` rather than in the notification queue, so removing the
future notifications drops both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from billow.account.internal import AccountInternalApi
from billow.core.bus.bus import Bus
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.objects import ObjectOwner, ObjectType
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.model import BlockingStateType
from billow.invoice.internal import InvoiceInternalApi
from billow.tag.internal import TagInternalApi
from billow.tag.model import BUILT_IN_NAMES, WRITTEN_OFF

CLOSE_ACCOUNT_STATE = "CLOSE_ACCOUNT"
ACCOUNT_SERVICE = "account-service"
DEFAULT_DESCRIPTION = "Close Account"


@dataclass(frozen=True, slots=True)
class ClosingReport:
    """What closing did (for logs and tests; the REST answer is an empty 204)."""

    cancelled_subscriptions: tuple[str, ...]
    written_off_invoices: tuple[str, ...]
    adjusted_items: tuple[str, ...]
    removed_notifications: int


class AccountClosing:
    """The user API of closing an account: one unit of work over the entitlement, invoice, tag and queue
    internal APIs."""

    def __init__(self, db: Database, bus: Bus, accounts: AccountInternalApi, entitlements: EntitlementInternalApi,
                 invoices: InvoiceInternalApi, tags: TagInternalApi) -> None:
        self.db = db
        self.bus = bus
        self.accounts = accounts
        self.entitlements = entitlements
        self.invoices = invoices
        self.tags = tags

    def close(self, ctx: CallContext, account_id: str, *, cancel_all_subscriptions: bool = False,
              write_off_unpaid_invoices: bool = False, item_adjust_unpaid_invoices: bool = False,
              remove_future_notifications: bool = True) -> ClosingReport:
        """Close the account (404 for an unknown account, or one of another tenant)."""
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            cancelled: list[str] = []
            if cancel_all_subscriptions:
                cancelled = self.entitlements.cancel_all(uow, account)
            written_off: list[str] = []
            adjusted: list[str] = []
            if write_off_unpaid_invoices or item_adjust_unpaid_invoices:
                unpaid = self.invoices.unpaid(uow, account)
                if write_off_unpaid_invoices:
                    owner = ObjectOwner(account.record_id, account.id)
                    definition = BUILT_IN_NAMES[WRITTEN_OFF].id
                    for invoice in unpaid:
                        self.tags.add(uow, owner, invoice.id, ObjectType.INVOICE, definition)
                        self.invoices.written_off(uow, account, invoice.id)
                        written_off.append(invoice.id)
                else:
                    today = uow.now.astimezone(UTC).date()  # Kill Bill's clock.getUTCToday()
                    description = ctx.comments or DEFAULT_DESCRIPTION
                    for invoice in unpaid:
                        adjusted += self.invoices.adjust_in_full(uow, invoice.id, description=description,
                                                                 day=today)
            self.entitlements.add_blocking_state(uow, BlockingStateType.ACCOUNT, account.id, CLOSE_ACCOUNT_STATE,
                                                 ACCOUNT_SERVICE, True, False, False)
            removed = 0
            if remove_future_notifications:
                removed = self.bus.remove_future_of_account(uow, account.record_id)
                removed += self.invoices.forget_future_dates(uow, account)
        return ClosingReport(tuple(cancelled), tuple(written_off), tuple(adjusted), removed)
