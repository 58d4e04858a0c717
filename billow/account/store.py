"""SQL for the account service's tables `accounts` and `account_emails` (Kill Bill's column names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Connection, Integer, String, UniqueConstraint, bindparam, func, or_, select

from billow.account.model import Account, AccountEmail
from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import audited_table
from billow.core.db.types import UTCDateTime

accounts = audited_table(
    "accounts", "ACCOUNT",
    Column("external_key", String(255), nullable=False),
    Column("email", String(128), nullable=True),
    Column("name", String(100), nullable=True),
    Column("first_name_length", Integer, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("billing_cycle_day_local", Integer, nullable=False, default=0),
    Column("parent_account_id", String(36), nullable=True),
    Column("is_payment_delegated_to_parent", Boolean, nullable=False, default=False),
    Column("payment_method_id", String(36), nullable=True),
    Column("reference_time", UTCDateTime(), nullable=False),
    Column("time_zone", String(50), nullable=False),
    Column("locale", String(5 * 4), nullable=True),
    Column("address1", String(100), nullable=True),
    Column("address2", String(100), nullable=True),
    Column("company_name", String(50 * 2), nullable=True),
    Column("city", String(50), nullable=True),
    Column("state_or_province", String(50), nullable=True),
    Column("country", String(50), nullable=True),
    Column("postal_code", String(16), nullable=True),
    Column("phone", String(25), nullable=True),
    Column("notes", String(4096), nullable=True),
    Column("migrated", Boolean, nullable=True),
    UniqueConstraint("tenant_record_id", "external_key", name="uq_accounts_tenant_external_key"),
    account_owned=False, account_column="self",
)

# an account's additional emails (Kill Bill's `account_emails`): removing one marks it inactive
account_emails = audited_table(
    "account_emails", "ACCOUNT_EMAIL",
    Column("account_id", String(36), nullable=False, index=True),
    Column("email", String(128), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
)

T = accounts.table
E = account_emails.table


def to_account(row: Any) -> Account:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Account(
        record_id=m["record_id"], id=m["id"], tenant_record_id=m["tenant_record_id"],
        external_key=m["external_key"], name=m["name"], first_name_length=m["first_name_length"],
        email=m["email"], bill_cycle_day_local=m["billing_cycle_day_local"], currency=m["currency"],
        parent_account_id=m["parent_account_id"],
        is_payment_delegated_to_parent=bool(m["is_payment_delegated_to_parent"]),
        payment_method_id=m["payment_method_id"], reference_time=m["reference_time"],
        time_zone=m["time_zone"], locale=m["locale"], address1=m["address1"], address2=m["address2"],
        company_name=m["company_name"], city=m["city"], state_or_province=m["state_or_province"],
        country=m["country"], postal_code=m["postal_code"], phone=m["phone"], notes=m["notes"],
        migrated=m["migrated"], created_date=m["created_date"], updated_date=m["updated_date"],
    )


_BY_ID = Prepared(lambda _: select(T).where(T.c.tenant_record_id == bindparam("tenant"),
                                            T.c.id == bindparam("id")))
_BY_RECORD_ID = Prepared(lambda _: select(T).where(T.c.tenant_record_id == bindparam("tenant"),
                                                   T.c.record_id == bindparam("record_id")))
_BY_RECORD_IDS = Prepared(lambda dialect: select(T).where(T.c.tenant_record_id == bindparam("tenant"),
                                                          in_param(dialect, T.c.record_id, "record_ids")))
_EXTERNAL_KEYS_IN_USE = Prepared(lambda dialect: select(T.c.external_key).where(
    T.c.tenant_record_id == bindparam("tenant"), in_param(dialect, T.c.external_key, "keys")))


def by_id(conn: Connection, tenant_record_id: int, account_id: str) -> Account | None:
    row = conn.execute(_BY_ID(conn), {"tenant": tenant_record_id, "id": account_id}).first()
    return to_account(row) if row else None


def by_record_id(conn: Connection, tenant_record_id: int, record_id: int) -> Account | None:
    row = conn.execute(_BY_RECORD_ID(conn), {"tenant": tenant_record_id, "record_id": record_id}).first()
    return to_account(row) if row else None


def by_record_ids(conn: Connection, tenant_record_id: int, record_ids: list[int]) -> dict[int, Account]:
    rows = conn.execute(_BY_RECORD_IDS(conn), {"tenant": tenant_record_id, "record_ids": list(record_ids)})
    return {r.record_id: to_account(r) for r in rows}


def by_external_key(conn: Connection, tenant_record_id: int, external_key: str) -> Account | None:
    row = conn.execute(
        select(T).where(T.c.tenant_record_id == tenant_record_id, T.c.external_key == external_key)).first()
    return to_account(row) if row else None


def external_keys_in_use(conn: Connection, tenant_record_id: int, external_keys: list[str]) -> set[str]:
    """Which of these external keys accounts of the tenant have."""
    rows = conn.execute(_EXTERNAL_KEYS_IN_USE(conn), {"tenant": tenant_record_id, "keys": list(external_keys)})
    return {r[0] for r in rows}


def count(conn: Connection, tenant_record_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(T).where(T.c.tenant_record_id == tenant_record_id))
               .scalar_one())


def page(conn: Connection, tenant_record_id: int, offset: int, limit: int) -> list[Account]:
    rows = conn.execute(
        select(T).where(T.c.tenant_record_id == tenant_record_id).order_by(T.c.record_id)
        .offset(offset).limit(limit))
    return [to_account(r) for r in rows]


def _search_clause(search_key: str) -> Any:
    """Kill Bill searches the id exactly and name, email, external key and company by substring."""
    like = "%" + search_key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        T.c.id == search_key,
        T.c.name.ilike(like, escape="\\"),
        T.c.email.ilike(like, escape="\\"),
        T.c.external_key.ilike(like, escape="\\"),
        T.c.company_name.ilike(like, escape="\\"),
    )


def search(conn: Connection, tenant_record_id: int, search_key: str, offset: int, limit: int
           ) -> tuple[list[Account], int]:
    where = (T.c.tenant_record_id == tenant_record_id, _search_clause(search_key))
    total = int(conn.execute(select(func.count()).select_from(T).where(*where)).scalar_one())
    rows = conn.execute(select(T).where(*where).order_by(T.c.record_id).offset(offset).limit(limit))
    return [to_account(r) for r in rows], total


def by_parent(conn: Connection, tenant_record_id: int, parent_account_id: str) -> list[Account]:
    """The accounts whose parent is this one (Kill Bill's `getAccountsByParentId`), oldest first."""
    rows = conn.execute(select(T).where(T.c.tenant_record_id == tenant_record_id,
                                        T.c.parent_account_id == parent_account_id).order_by(T.c.record_id))
    return [to_account(r) for r in rows]


def to_email(m: Any) -> AccountEmail:
    return AccountEmail(record_id=m["record_id"], id=m["id"], account_id=m["account_id"], email=m["email"],
                        created_date=m["created_date"])


def active_emails(conn: Connection, tenant_record_id: int, account_id: str) -> list[AccountEmail]:
    """The account's emails still in use, in the order they were added (`getEmailByAccountId`)."""
    rows = conn.execute(select(E).where(E.c.tenant_record_id == tenant_record_id, E.c.account_id == account_id,
                                        E.c.is_active.is_(True)).order_by(E.c.record_id))
    return [to_email(r._mapping) for r in rows]


def email_record_id(conn: Connection, tenant_record_id: int, account_email_id: str) -> int | None:
    """The record id of an email row, removed or not (its audit history outlives it)."""
    row = conn.execute(select(E.c.record_id).where(E.c.tenant_record_id == tenant_record_id,
                                                   E.c.id == account_email_id)).first()
    return None if row is None else int(row[0])
