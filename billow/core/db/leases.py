"""The account's lease: Kill Bill's global `ACCNT_INV_PAY` lock, held across a gateway call.

Kill Bill serialises an account's payments, invoice runs and credit moves with one global lock per account
(`GlobalLocker`, `LockerType.ACCNT_INV_PAY`), taken by the payment state machine around the plugin call and by the
invoice dispatcher (`InvoiceDispatcher.processAccount`) and `InvoiceApiHelper` around theirs. Our account lock
(`UnitOfWork.lock_account`) lasts one transaction, and a payment calls its gateway with no transaction open: so a
payment takes a lease before the call, in the unit of work that records the ATTEMPT, and drops it in the one that
records the outcome. Without it an invoice run in between would see the invoice unpaid and spend the account's
credit on it while the customer pays it in full.

A lease expires by the wall clock (a holder that died frees it); a writer that must not run while another call holds
it (an invoice run, a credit moved) checks it under the account lock (`ensure_free`) and is tried again later:
a bus event a moment later (`AccountBusy` releases it; Kill Bill's `QueueRetryException`), an API call after
`LEASE_TRIES` waits (`retry_while_busy`; Kill Bill's `org.killbill.invoice.globalLock.retries`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import ParamSpec, TypeVar

from sqlalchemy import Column, Connection, String, Table, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import RecordId, metadata
from billow.core.db.sets import in_values
from billow.core.db.types import UTCDateTime
from billow.core.errors import BillowError

# Kill Bill's org.killbill.payment.globalLock.retries and org.killbill.invoice.globalLock.retries (50), 100 ms apart
LEASE_TRIES = 50
LEASE_WAIT_S = 0.1

account_leases = Table(
    "account_leases", metadata,
    Column("account_record_id", RecordId, primary_key=True, autoincrement=False),
    Column("owner", String(36), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

T = TypeVar("T")
P = ParamSpec("P")


class AccountBusy(BillowError):
    """Another call holds the account's lease (a payment calling its gateway): 503, tried again later."""

    status = 503
    class_name = "org.killbill.commons.locker.LockFailedException"

    @classmethod
    def of(cls, account_record_ids: Iterable[int]) -> AccountBusy:
        ids = ", ".join(str(a) for a in sorted(account_record_ids))
        return cls(f"Failed to lock account (record {ids}): a payment of the account is in progress")


def take(conn: Connection, account_record_id: int, owner: str, now: datetime, until: datetime) -> bool:
    """The account's lease for `owner` until `until`, unless another owner holds an unexpired one."""
    return account_record_id in take_many(conn, [account_record_id], owner, now, until)


def take_many(conn: Connection, account_record_ids: Sequence[int], owner: str, now: datetime, until: datetime
              ) -> set[int]:
    """`take` for many accounts at once (one owner): the account record ids whose lease `owner` now holds."""
    if not account_record_ids:
        return set()
    t = account_leases
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t).values([{"account_record_id": a, "owner": owner, "expires_at": until}
                                     for a in sorted(set(account_record_ids))])
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.account_record_id],
                                      set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
                                      where=(t.c.expires_at < now) | (t.c.owner == owner))
    conn.execute(stmt)
    return {r[0] for r in conn.execute(select(t.c.account_record_id).where(
        in_values(conn, t.c.account_record_id, set(account_record_ids)), t.c.owner == owner))}


def drop_many(conn: Connection, account_record_ids: Sequence[int], owner: str) -> None:
    t = account_leases
    if account_record_ids:
        conn.execute(delete(t).where(in_values(conn, t.c.account_record_id, set(account_record_ids)),
                                     t.c.owner == owner))


def drop(conn: Connection, account_record_id: int, owner: str) -> None:
    drop_many(conn, [account_record_id], owner)


_HELD = Prepared(lambda dialect: select(account_leases.c.account_record_id).where(
    in_param(dialect, account_leases.c.account_record_id, "accounts"),
    account_leases.c.expires_at >= bindparam("now", type_=UTCDateTime())))


def held(conn: Connection, account_record_ids: Iterable[int], now: datetime) -> set[int]:
    """Those of the accounts whose lease some call holds, unexpired at `now` (the wall clock)."""
    wanted = set(account_record_ids)
    if not wanted:
        return set()
    return {r[0] for r in conn.execute(_HELD(conn), {"accounts": list(wanted), "now": now})}


def ensure_free(conn: Connection, account_record_ids: Iterable[int], now: datetime) -> None:
    """Raise `AccountBusy` if a call holds the lease of one of the accounts. The caller holds their account locks,
    under which no lease can be taken: the answer stays true until its transaction ends."""
    busy = held(conn, account_record_ids, now)
    if busy:
        raise AccountBusy.of(busy)


def retry_while_busy(call: Callable[[], T], *, tries: int = LEASE_TRIES, wait_s: float = LEASE_WAIT_S) -> T:
    """`call` (which opens its own unit of work), again while it raises `AccountBusy`, `tries` times in all
    `wait_s` apart; the last `AccountBusy` is raised (503)."""
    for _ in range(tries - 1):
        try:
            return call()
        except AccountBusy:
            time.sleep(wait_s)
    return call()


def waits_while_busy(method: Callable[P, T]) -> Callable[P, T]:
    """A user API method (one that opens its own units of work) run again while its account is busy
    (`retry_while_busy`)."""

    @functools.wraps(method)
    def waiting(*args: P.args, **kwargs: P.kwargs) -> T:
        return retry_while_busy(lambda: method(*args, **kwargs))

    return waiting
