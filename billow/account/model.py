"""The account: who is billed, in which currency, time zone and bill cycle day.

Plain data, no I/O. Field names follow Kill Bill's `Account` API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billow.core.account_time import AccountTime, account_time

DEFAULT_BILL_CYCLE_DAY_LOCAL = 0  # Kill Bill: 0 means "not set yet"


@dataclass(frozen=True, slots=True)
class Account:
    record_id: int
    id: str
    tenant_record_id: int
    external_key: str
    name: str | None
    first_name_length: int | None
    email: str | None
    bill_cycle_day_local: int
    currency: str | None
    parent_account_id: str | None
    is_payment_delegated_to_parent: bool
    payment_method_id: str | None
    reference_time: datetime
    time_zone: str
    locale: str | None
    address1: str | None
    address2: str | None
    company_name: str | None
    city: str | None
    state_or_province: str | None
    country: str | None
    postal_code: str | None
    phone: str | None
    notes: str | None
    migrated: bool | None
    created_date: datetime
    updated_date: datetime

    @property
    def time(self) -> AccountTime:
        """How this account's dates and instants convert (Kill Bill's fixed offset, billing-semantics.md 4.10)."""
        return account_time(self.time_zone, self.reference_time)


@dataclass(frozen=True, slots=True)
class AccountEmail:
    """One of an account's additional emails (Kill Bill's `AccountEmail`)."""

    record_id: int
    id: str
    account_id: str
    email: str
    created_date: datetime


# The fields a caller may give when creating or updating an account (REST AccountJson names
# are mapped onto these by the REST layer). None means "not given".
ACCOUNT_DATA_FIELDS = (
    "external_key", "name", "first_name_length", "email", "bill_cycle_day_local", "currency",
    "parent_account_id", "is_payment_delegated_to_parent", "payment_method_id", "reference_time",
    "time_zone", "locale", "address1", "address2", "company_name", "city", "state_or_province",
    "country", "postal_code", "phone", "notes", "migrated",
)


@dataclass(slots=True)
class AccountData:
    external_key: str | None = None
    name: str | None = None
    first_name_length: int | None = None
    email: str | None = None
    bill_cycle_day_local: int | None = None
    currency: str | None = None
    parent_account_id: str | None = None
    is_payment_delegated_to_parent: bool | None = None
    payment_method_id: str | None = None
    reference_time: datetime | None = None
    time_zone: str | None = None
    locale: str | None = None
    address1: str | None = None
    address2: str | None = None
    company_name: str | None = None
    city: str | None = None
    state_or_province: str | None = None
    country: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    notes: str | None = None
    migrated: bool | None = None
