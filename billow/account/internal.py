"""The account service's internal API: accounts read and changed in the caller's unit of work.

What services above (entitlement, invoice, payment, overdue) call: Kill Bill's `AccountInternalApi`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from billow.account import store
from billow.account.errors import account_exists, account_not_found, account_record_not_found
from billow.account.events import AccountCreationEvent
from billow.account.model import DEFAULT_BILL_CYCLE_DAY_LOCAL, Account, AccountData
from billow.core.db import UnitOfWork
from billow.core.db.export import TableDump, audited_rows
from billow.core.errors import BillowError, InvalidInput


def row_values(data: AccountData) -> dict[str, Any]:
    d = dataclasses.asdict(data)
    d["billing_cycle_day_local"] = d.pop("bill_cycle_day_local")
    return d


class AccountInternalApi:
    def create(self, uow: UnitOfWork, data: AccountData) -> Account:
        """A new account (data validated by the caller: `validate_account_data`), announced by ACCOUNT_CREATION."""
        return self.create_many(uow, [data])[0]

    def create_many(self, uow: UnitOfWork, datas: Sequence[AccountData]) -> list[Account]:
        """New accounts (as `create`, each), their external keys looked up in one query and their rows written
        in one insert. An error names its item (`BillowError.item`); nothing is written then."""
        rows: list[dict[str, Any]] = []
        for data in datas:
            values = row_values(data)
            values["id"] = str(uuid.uuid4())
            if not values.get("external_key"):
                values["external_key"] = values["id"]  # Kill Bill defaults the key to the id
            if values["billing_cycle_day_local"] is None:
                values["billing_cycle_day_local"] = DEFAULT_BILL_CYCLE_DAY_LOCAL
            if values["time_zone"] is None:
                values["time_zone"] = "UTC"
            if values["is_payment_delegated_to_parent"] is None:
                values["is_payment_delegated_to_parent"] = False
            if values["reference_time"] is None:
                values["reference_time"] = uow.now
            rows.append(values)
        # keys of our own making (the new ids) are in use nowhere: only given ones are looked up
        given = [d.external_key for d in datas if d.external_key]
        taken = store.external_keys_in_use(uow.conn, uow.tenant, given) if given else set()
        for i, (data, values) in enumerate(zip(datas, rows, strict=True)):
            try:
                if data.external_key and values["external_key"] in taken:
                    raise account_exists(values["external_key"])
                taken.add(values["external_key"])
                if data.parent_account_id is not None:
                    self.get(uow, data.parent_account_id)
            except BillowError as e:
                e.item = i
                raise
        accounts = [store.to_account(row) for row in uow.insert_many("accounts", rows)]
        for account in accounts:
            uow.post(AccountCreationEvent(
                tenant_record_id=uow.tenant, account_record_id=account.record_id, account_id=account.id,
                object_id=account.id, user_token=uow.ctx.user_token))
        return accounts

    def get(self, uow: UnitOfWork, account_id: str) -> Account:
        account = store.by_id(uow.conn, uow.tenant, account_id)
        if account is None:
            raise account_not_found(account_id)
        return account

    def by_record_id(self, uow: UnitOfWork, record_id: int) -> Account:
        account = self.by_record_ids(uow, [record_id]).get(record_id)
        if account is None:
            raise account_record_not_found(record_id)
        return account

    def by_record_ids(self, uow: UnitOfWork, record_ids: Sequence[int]) -> dict[int, Account]:
        """Many accounts at once (the billing run's batches); missing ones are left out. Read once per unit of
        work: the bus handlers of a pack (invoice run, payment, parent, overdue) ask for the same accounts."""
        known = uow.table_memo(store.T.name)
        tenant = uow.tenant
        missing = [r for r in record_ids if (tenant, r) not in known]
        if missing:
            for record_id, account in store.by_record_ids(uow.conn, tenant, missing).items():
                known[(tenant, record_id)] = account
        out: dict[int, Account] = {}
        for r in record_ids:
            found: Account | None = known.get((tenant, r))
            if found is not None:
                out[r] = found
        return out

    def emails(self, uow: UnitOfWork, account: Account) -> list[str]:
        """The account's additional emails in use (Kill Bill's `getEmailByAccountId`), oldest first."""
        return [e.email for e in store.active_emails(uow.conn, uow.tenant, account.id)]

    def set_bill_cycle_day(self, uow: UnitOfWork, account: Account, bill_cycle_day_local: int) -> Account:
        """Set the BCD of an account that has none yet (Kill Bill's account BCD auto-set when the first
        ACCOUNT-aligned subscription is invoiced). Like Kill Bill, this first setting announces nothing:
        it must not trigger a re-invoice."""
        return self.set_bill_cycle_days(uow, [(account, bill_cycle_day_local)])[0]

    def set_bill_cycle_days(self, uow: UnitOfWork, changes: Sequence[tuple[Account, int]]) -> list[Account]:
        """`set_bill_cycle_day` for many accounts (a billing run's batch), in a statement or two."""
        for account, bcd in changes:
            if account.bill_cycle_day_local not in (0, bcd):
                raise InvalidInput(f"billCycleDayLocal: account {account.id} already has BCD "
                                   f"{account.bill_cycle_day_local}")
            if not 1 <= bcd <= 31:
                raise InvalidInput(f"billCycleDayLocal: {bcd} is not between 1 and 31")
        uow.update_many("accounts", {a.record_id: {"billing_cycle_day_local": bcd} for a, bcd in changes})
        return [dataclasses.replace(a, bill_cycle_day_local=bcd, updated_date=uow.now) for a, bcd in changes]

    def set_payment_method(self, uow: UnitOfWork, account: Account, payment_method_id: str | None) -> Account:
        """The account's default payment method (Kill Bill's `updatePaymentMethod`); the payment service checks
        the method."""
        row = uow.update("accounts", account.record_id, {"payment_method_id": payment_method_id})
        return store.to_account(row)

    def export(self, uow: UnitOfWork, account: Account) -> list[TableDump]:
        """The account's row and its history (account export)."""
        return audited_rows(uow, "accounts", account.record_id)
