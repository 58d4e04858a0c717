"""The account service: create, read, update, list and search accounts of a tenant.

Rules follow Kill Bill's `DefaultAccountUserApi` and `AccountModelDao`:
external key unique per tenant and defaulting to the account id; currency,
time zone and external key immutable once set; the bill cycle day settable
once (from 0) and then immutable; reference time immutable.
"""

from __future__ import annotations

import builtins
import re
import uuid
from dataclasses import dataclass
from typing import Any

from billow.account import store
from billow.account.errors import account_key_not_found
from billow.account.events import AccountChangeEvent
from billow.account.internal import AccountInternalApi, row_values
from billow.account.model import (
    ACCOUNT_DATA_FIELDS,
    DEFAULT_BILL_CYCLE_DAY_LOCAL,
    Account,
    AccountData,
    AccountEmail,
)
from billow.core.account_time import is_time_zone
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import InvalidInput
from billow.core.money import is_currency

_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Account]
    offset: int
    limit: int
    total: int  # matching records
    max_records: int  # all records of the kind in the tenant


def validate_account_data(data: AccountData) -> None:
    """Field checks shared by create and update; each message names the field."""
    if data.currency is not None and not is_currency(data.currency):
        raise InvalidInput(f"currency: '{data.currency}' is not an ISO 4217 currency code")
    if data.time_zone is not None and not is_time_zone(data.time_zone):
        raise InvalidInput(f"timeZone: '{data.time_zone}' is not a known time zone id")
    if data.bill_cycle_day_local is not None and not 0 <= data.bill_cycle_day_local <= 31:
        raise InvalidInput(f"billCycleDayLocal: {data.bill_cycle_day_local} is not between 0 and 31")
    if data.locale is not None and data.locale != "" and not _LOCALE.match(data.locale):
        raise InvalidInput(f"locale: '{data.locale}' is not a locale (expected e.g. en_US)")
    if data.first_name_length is not None and data.first_name_length < 0:
        raise InvalidInput("firstNameLength: must not be negative")
    if data.name is not None and data.first_name_length is not None and data.first_name_length > len(data.name):
        raise InvalidInput("firstNameLength: longer than name")
    if data.external_key is not None and len(data.external_key) > 255:
        raise InvalidInput("externalKey: longer than 255 characters")
    for name, limit in (("email", 128), ("name", 100), ("company_name", 100), ("address1", 100),
                        ("address2", 100), ("city", 50), ("state_or_province", 50), ("country", 50),
                        ("postal_code", 16), ("phone", 25), ("notes", 4096)):
        value = getattr(data, name)
        if value is not None and len(value) > limit:
            raise InvalidInput(f"{_json_name(name)}: longer than {limit} characters")
    if data.parent_account_id is not None:
        _check_uuid(data.parent_account_id, "parentAccountId")
    if data.payment_method_id is not None:
        _check_uuid(data.payment_method_id, "paymentMethodId")


_JSON_NAMES = {"company_name": "company", "state_or_province": "state", "bill_cycle_day_local": "billCycleDayLocal",
               "migrated": "isMigrated", "is_payment_delegated_to_parent": "isPaymentDelegatedToParent"}


def _json_name(field: str) -> str:
    if field in _JSON_NAMES:
        return _JSON_NAMES[field]
    head, *rest = field.split("_")
    return head + "".join(p.title() for p in rest)


def _check_uuid(value: str, field: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{field}: '{value}' is not a UUID") from None


class AccountService:
    """The user API (REST, CLI, embedding programs): each call is one unit of work. Services above use
    `internal` (`AccountInternalApi`) in their own unit of work instead."""

    def __init__(self, db: Database, internal: AccountInternalApi) -> None:
        self.db = db
        self.internal = internal

    # -- reads --------------------------------------------------------------------------------
    def get(self, ctx: CallContext, account_id: str) -> Account:
        with self.db.read(ctx) as uow:
            return self.internal.get(uow, account_id)

    def get_by_key(self, ctx: CallContext, external_key: str) -> Account:
        with self.db.read(ctx) as uow:
            account = store.by_external_key(uow.conn, ctx.tenant, external_key)
        if account is None:
            raise account_key_not_found(external_key)
        return account

    def list(self, ctx: CallContext, offset: int = 0, limit: int = 100) -> Page:
        with self.db.read(ctx) as uow:
            total = store.count(uow.conn, ctx.tenant)
            items = store.page(uow.conn, ctx.tenant, offset, limit)
        return Page(items, offset, limit, total, total)

    def search(self, ctx: CallContext, search_key: str, offset: int = 0, limit: int = 100) -> Page:
        with self.db.read(ctx) as uow:
            items, matches = store.search(uow.conn, ctx.tenant, search_key, offset, limit)
            total = store.count(uow.conn, ctx.tenant)
        return Page(items, offset, limit, matches, total)

    def audit_logs(self, ctx: CallContext, account_id: str, *, with_history: bool = False
                   ) -> builtins.list[AuditLogEntry]:
        with self.db.read(ctx) as uow:
            account = self.internal.get(uow, account_id)
            logs = audit_logs(uow.conn, ctx.tenant, "accounts", [account.record_id], with_history=with_history)
        return logs[account.record_id]

    def audit_logs_of(self, ctx: CallContext, accounts: builtins.list[Account], level: str
                      ) -> dict[int, builtins.list[AuditLogEntry]]:
        with self.db.read(ctx) as uow:
            return audit_logs(uow.conn, ctx.tenant, "accounts", [a.record_id for a in accounts], level=level)

    def children(self, ctx: CallContext, parent_account_id: str) -> builtins.list[Account]:
        """The accounts whose parent is this one; none for an unknown account (Kill Bill's
        `getChildrenAccounts` does not look the parent up)."""
        with self.db.read(ctx) as uow:
            return store.by_parent(uow.conn, ctx.tenant, parent_account_id)

    # -- emails (Kill Bill's AccountResource emails and DefaultAccountDao) ----------------------
    def emails(self, ctx: CallContext, account_id: str) -> builtins.list[AccountEmail]:
        """The account's emails in use; none for an unknown account (Kill Bill does not look it up)."""
        with self.db.read(ctx) as uow:
            return store.active_emails(uow.conn, ctx.tenant, account_id)

    def add_email(self, ctx: CallContext, account_id: str, email: str | None) -> None:
        """Add an email to an existing account; an email it already has is not added twice (no error)."""
        if not email:
            raise InvalidInput("email: needs to be set")
        if len(email) > 128:
            raise InvalidInput("email: longer than 128 characters")
        with self.db.transaction(ctx) as uow:
            account = self.internal.get(uow, account_id)
            uow.lock_account(account.record_id)
            if any(e.email == email for e in store.active_emails(uow.conn, ctx.tenant, account.id)):
                return
            uow.insert("account_emails", {"account_id": account.id, "email": email, "is_active": True,
                                          "account_record_id": account.record_id})

    def remove_email(self, ctx: CallContext, account_id: str, email: str) -> None:
        """Remove every row of the account with exactly this email (marked inactive, audited as a DELETE);
        nothing to remove is no error."""
        with self.db.transaction(ctx) as uow:
            for e in store.active_emails(uow.conn, ctx.tenant, account_id):
                if e.email == email:
                    uow.update("account_emails", e.record_id, {"is_active": False}, change_type="DELETE")

    def email_audit_logs(self, ctx: CallContext, account_email_id: str) -> builtins.list[AuditLogEntry]:
        """An email's audit log with its history, removed or not; none for an unknown id (Kill Bill's
        `getEmailAuditLogsWithHistoryForId`)."""
        with self.db.read(ctx) as uow:
            record_id = store.email_record_id(uow.conn, ctx.tenant, account_email_id)
            if record_id is None:
                return []
            return audit_logs(uow.conn, ctx.tenant, "account_emails", [record_id], with_history=True)[record_id]

    # -- writes -------------------------------------------------------------------------------
    def create(self, ctx: CallContext, data: AccountData) -> Account:
        validate_account_data(data)
        with self.db.transaction(ctx) as uow:
            return self.internal.create(uow, data)

    def update(self, ctx: CallContext, account_id: str, data: AccountData, *,
               treat_null_as_reset: bool = False) -> Account:
        validate_account_data(data)
        with self.db.transaction(ctx) as uow:
            current = self.internal.get(uow, account_id)
            uow.lock_account(current.record_id)
            _check_immutables(current, data, ignore_null_input=treat_null_as_reset)
            if data.parent_account_id is not None:
                if data.parent_account_id == current.id:
                    raise InvalidInput("parentAccountId: an account cannot be its own parent")
                self.internal.get(uow, data.parent_account_id)
            new_values = _merge(current, data, treat_null_as_reset)
            old_values = row_values(_as_data(current))
            changes = {k: v for k, v in new_values.items() if old_values.get(k) != v}
            if not changes:
                return current
            row = uow.update("accounts", current.record_id, changes)
            account = store.to_account(row)
            uow.post(AccountChangeEvent(
                tenant_record_id=ctx.tenant, account_record_id=account.record_id, account_id=account.id,
                object_id=account.id, user_token=ctx.user_token,
                changed_fields=tuple(
                    {"changedField": _json_name(k), "oldValue": _str(old_values.get(k)), "newValue": _str(v)}
                    for k, v in changes.items())))
        return account


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _as_data(a: Account) -> AccountData:
    return AccountData(**{f: getattr(a, f) for f in ACCOUNT_DATA_FIELDS})


def _check_immutables(current: Account, data: AccountData, *, ignore_null_input: bool) -> None:
    """Kill Bill's `AccountModelDao.validateAccountUpdateInput`, with its messages."""
    def changed(new: Any, old: Any) -> bool:
        return (ignore_null_input or new is not None) and old is not None and old != new

    if changed(data.external_key, current.external_key):
        raise InvalidInput("externalKey: Killbill doesn't support updating the account external key: "
                           f"new={data.external_key}, current={current.external_key}")
    if changed(data.currency, current.currency):
        raise InvalidInput("currency: Killbill doesn't support updating the account currency: "
                           f"new={data.currency}, current={current.currency}")
    bcd = data.bill_cycle_day_local
    if ((ignore_null_input or (bcd is not None and bcd != DEFAULT_BILL_CYCLE_DAY_LOCAL))
            and current.bill_cycle_day_local != DEFAULT_BILL_CYCLE_DAY_LOCAL
            and current.bill_cycle_day_local != bcd):
        raise InvalidInput("billCycleDayLocal: Killbill doesn't support updating the account BCD: "
                           f"new={bcd}, current={current.bill_cycle_day_local}")
    if changed(data.time_zone, current.time_zone):
        raise InvalidInput("timeZone: Killbill doesn't support updating the account timeZone: "
                           f"new={data.time_zone}, current={current.time_zone}")
    if data.reference_time is not None and data.reference_time.date() != current.reference_time.date():
        raise InvalidInput("referenceTime: Killbill doesn't support updating the account referenceTime: "
                           f"new={data.reference_time.isoformat()}, current={current.reference_time.isoformat()}")


def _merge(current: Account, data: AccountData, treat_null_as_reset: bool) -> dict[str, Any]:
    new = row_values(data)
    old = row_values(_as_data(current))
    out: dict[str, Any] = {}
    for k, old_v in old.items():
        v = new[k]
        if k in ("external_key", "currency", "time_zone", "reference_time"):
            out[k] = old_v  # immutable once set (checked above)
            if old_v is None and v is not None:
                out[k] = v
        elif k == "billing_cycle_day_local":
            out[k] = v if (old_v == DEFAULT_BILL_CYCLE_DAY_LOCAL and v) else old_v
        elif k == "is_payment_delegated_to_parent":
            out[k] = bool(v) if (v is not None or treat_null_as_reset) else old_v
        elif treat_null_as_reset:
            out[k] = v
        else:
            out[k] = v if v is not None else old_v
    return out
