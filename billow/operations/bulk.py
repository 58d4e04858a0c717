"""Loading many accounts at once (a migration off another system, a large launch): accounts and their
subscriptions created in batches, one transaction per batch instead of two per account.

Each account goes through the same internal APIs as `AccountService.create` and `EntitlementService.create`
(the same checks, defaults, events, audit and history), so a loaded account is exactly what the API would have
made; the first invoices come from the bus, as for any new subscription (SUBSCRIPTION_CREATION). What changes
is the cost: a batch's accounts are written in one insert (`AccountInternalApi.create_many`), their bundles,
subscriptions, events and blocking states in one insert per table (`EntitlementInternalApi.
create_for_new_accounts`: new accounts have nothing to lock or read), its audit and history rows once at its
end, its bus events in one insert, and a batch pays one commit. Accounts are checked before subscriptions.

Input is checked batch by batch before that batch's transaction: a bad account or subscription is refused
with its position (`accounts[1234].currency: ...`), and the batches before it stay loaded (the report of the
refusal says how many).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from billow.account.internal import AccountInternalApi
from billow.account.model import Account, AccountData
from billow.account.service import validate_account_data
from billow.core.bus.store import TABLES
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.errors import BillowError, InvalidInput
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.model import Subscription, SubscriptionRequest

DEFAULT_BATCH_SIZE = 500
# A load fills its tables, and the bus with its accounts' events, faster than autovacuum (when there is one) takes
# their statistics. Unanalyzed, the planner takes a few rows for each: the accounts' key check then read every
# account of the tenant (41% of a load's time at 40,000 accounts), and a bus claim every waiting event (550 ms
# at 276,000). So they are analyzed after ANALYZE_AFTER batches, every ANALYZE_EVERY, and at the end of a load
# of more than ANALYZE_AFTER batches (`Database.analyze`).
ANALYZE_EVERY = 100
ANALYZE_AFTER = 10
BUS_TABLES = tuple(t.name for t in TABLES.values())
LOADED_TABLES = ("accounts", "bundles", "subscriptions")


@dataclass(frozen=True)
class NewAccount:
    """An account to create and the subscriptions to give it: one base (or standalone) and its add-ons, one
    bundle, as `createSubscriptionWithAddOns` (their `account_id` is ignored: the new account's is used)."""

    account: AccountData
    subscriptions: Sequence[SubscriptionRequest] = ()


@dataclass
class BulkReport:
    accounts: int = 0
    subscriptions: int = 0
    batches: int = 0


@dataclass(frozen=True)
class Loaded:
    account: Account
    subscriptions: list[Subscription] = field(default_factory=list)


class BulkLoadRefused(BillowError):
    """A batch refused (with the status of its cause: 400 bad input, 409 an external key in use, ...): nothing of
    it was written; `report` counts what the batches before it loaded."""

    def __init__(self, cause: BillowError, report: BulkReport) -> None:
        super().__init__(f"{cause.message} (the {report.accounts} accounts before its batch are loaded)",
                         code=cause.code, class_name=cause.class_name, status=cause.status)
        self.report = report


class BulkLoader:
    def __init__(self, db: Database, accounts: AccountInternalApi, entitlements: EntitlementInternalApi) -> None:
        self.db = db
        self.accounts = accounts
        self.entitlements = entitlements

    def load(self, ctx: CallContext, new_accounts: Iterable[NewAccount], *, batch_size: int = DEFAULT_BATCH_SIZE,
             progress: Callable[[BulkReport], None] | None = None) -> BulkReport:
        """Create every account of `new_accounts` (any iterable: a generator keeps memory flat), `batch_size`
        per transaction. Raises `BulkLoadRefused` at the first batch holding a bad account or subscription."""
        if batch_size < 1:
            raise InvalidInput(f"batch_size: {batch_size} is not a number of accounts (1 or more)")
        report = BulkReport()
        analyzed = 0  # the batch count at the last analysis
        for first, batch in _batches(new_accounts, batch_size):
            try:
                loaded = self.load_batch(ctx, batch, first_index=first)
            except BillowError as e:
                raise BulkLoadRefused(e, report) from e
            report.accounts += len(loaded)
            report.subscriptions += sum(len(x.subscriptions) for x in loaded)
            report.batches += 1
            if report.batches == ANALYZE_AFTER or report.batches % ANALYZE_EVERY == 0:
                self.db.analyze(*BUS_TABLES, *LOADED_TABLES)
                analyzed = report.batches
            if progress is not None:
                progress(report)
        if report.batches >= ANALYZE_AFTER and analyzed != report.batches:
            self.db.analyze(*BUS_TABLES, *LOADED_TABLES)
        return report

    def load_batch(self, ctx: CallContext, batch: Sequence[NewAccount], *, first_index: int = 0) -> list[Loaded]:
        """One batch in one transaction: all of it, or nothing."""
        for i, item in enumerate(batch, start=first_index):
            try:
                validate_account_data(item.account)
            except InvalidInput as e:
                raise InvalidInput(f"accounts[{i}].{e.message}") from None
        with self.db.transaction(ctx) as uow:
            try:
                accounts = self.accounts.create_many(uow, [item.account for item in batch])
                subscriptions = self.entitlements.create_for_new_accounts(uow, [
                    (account, [dataclasses.replace(r, account_id=account.id) for r in item.subscriptions])
                    for account, item in zip(accounts, batch, strict=True)])
            except BillowError as e:  # which account, for the caller
                where = f"accounts[{first_index + e.item}]: " if e.item is not None else ""
                e.message = f"{where}{e.message}"
                e.args = (e.message,)
                raise
        return [Loaded(a, s) for a, s in zip(accounts, subscriptions, strict=True)]


def _batches(items: Iterable[NewAccount], size: int) -> Iterator[tuple[int, list[NewAccount]]]:
    it = iter(items)
    first = 0
    while batch := list(islice(it, size)):
        yield first, batch
        first += len(batch)
