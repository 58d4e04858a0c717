"""SQL for the usage service's one table, `rolled_up_usage` (Kill Bill's name): raw usage records, append-only.

Built for volume (billing-semantics.md 4.6, DESIGN.md):
- one narrow row per record: the tenant, the account (rows are account-owned), the subscription, the unit, the
  instant, the amount and the tracking id, who recorded it and when. Like Kill Bill's `rolled_up_usage`, the table
  has no history twin and no audit rows (rows are never updated or deleted; each row says who wrote it);
- amounts are stored exactly as integer billionths (Kill Bill's column is `decimal(18,9)`): a `BIGINT` is narrower
  than a `NUMERIC`, sums stay exact in SQL on both databases (SQLite has no exact decimal), reads are cheap;
- one index for the rating query, `(tenant, account, record date)`: a billing run reads the records of a batch of
  accounts from a date on;
- the first row a request writes for a (subscription, tracking id) is flagged `first_of_request`; a partial unique
  index on those rows alone refuses a tracking id recorded twice (Kill Bill's 50000 error), also between
  concurrent requests, and stays one entry per request, not per record.
Bulk inserts go through PostgreSQL's COPY (`billow.core.db.bulk`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from billow.core.db.bulk import copy_values
from billow.core.db.schema import RecordId, metadata
from billow.core.db.sets import in_values
from billow.core.db.types import UTCDateTime
from billow.core.gcpause import paused_gc
from billow.usage.errors import TrackingIdRace
from billow.usage.model import RawUsage

rolled_up_usage = Table(
    "rolled_up_usage", metadata,
    Column("record_id", RecordId, primary_key=True, autoincrement=True),
    Column("tenant_record_id", RecordId, nullable=False),
    Column("account_record_id", RecordId, nullable=False),
    Column("subscription_id", String(36), nullable=False),
    Column("unit_type", String(255), nullable=False),
    Column("record_date", UTCDateTime(), nullable=False),
    Column("amount", BigInteger(), nullable=False),  # billionths of a unit
    Column("tracking_id", String(128), nullable=False),
    Column("first_of_request", Boolean(), nullable=False),
    Column("created_by", String(50), nullable=False),
    Column("created_date", UTCDateTime(), nullable=False),
    Index("ix_rolled_up_usage_account_date", "tenant_record_id", "account_record_id", "record_date"),
    Index("uq_rolled_up_usage_tracking", "tenant_record_id", "subscription_id", "tracking_id", unique=True,
          postgresql_where=text("first_of_request"), sqlite_where=text("first_of_request")),
)

U = rolled_up_usage
SCALE = 9
_NANO = Decimal(1).scaleb(-SCALE)
# the largest magnitude a BIGINT of billionths holds
MAX_AMOUNT = Decimal(2**63 - 1).scaleb(-SCALE)


def to_stored(amount: Decimal) -> int:
    """An amount as stored: billionths, rounded half-up to nine decimals as Kill Bill's `decimal(18,9)` column
    rounds."""
    return int(amount.quantize(_NANO, rounding=ROUND_HALF_UP).scaleb(SCALE))


def from_stored(value: int) -> Decimal:
    return Decimal(value).scaleb(-SCALE)


# ---------------------------------------------------------------------------------------------- writes
# the columns of `row`, in its order
COLUMNS = ("tenant_record_id", "account_record_id", "subscription_id", "unit_type", "record_date", "amount",
           "tracking_id", "first_of_request", "created_by", "created_date")
_SQLITE_INSERT = (f"INSERT INTO rolled_up_usage ({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in COLUMNS)})")

Row = tuple[int, int, str, str, datetime, int, str, bool, str, datetime]


def naive_utc(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None) if instant.tzinfo is UTC else instant.astimezone(UTC).replace(tzinfo=None)


def row(tenant: int, account_record_id: int, subscription_id: str, unit_type: str, record_date: datetime,
        amount: Decimal, tracking_id: str, first: bool, created_by: str, created: datetime) -> Row:
    """A record as written (driver-ready values): the instant naive in UTC, the amount in billionths;
    `created_by` (at most 50 characters) and `created` (naive UTC) are the batch's."""
    return (tenant, account_record_id, subscription_id, unit_type, naive_utc(record_date), to_stored(amount),
            tracking_id, first, created_by, created)


def insert(conn: Connection, rows: Sequence[Row]) -> None:
    """Append records: COPY on PostgreSQL, one prepared `executemany` on SQLite, values already driver-ready (no
    per-value conversion: this is the ingestion path). A concurrent request that recorded one of these
    (subscription, tracking id) first makes the unique index refuse ours: `TrackingIdRace`, and the caller's
    transaction is to be rolled back."""
    if not rows:
        return
    try:
        if conn.dialect.name == "postgresql":
            copy_values(conn, U.name, COLUMNS, rows)
        else:
            # SQLAlchemy's SQLite DATETIME text, so that typed reads and comparisons see the same values
            conn.exec_driver_sql(_SQLITE_INSERT, [(*r[:4], r[4].isoformat(" ", "microseconds"), *r[5:9],
                                                   r[9].isoformat(" ", "microseconds")) for r in rows])
    except IntegrityError as e:
        raise TrackingIdRace(str(e.orig)) from e
    except Exception as e:  # COPY runs on the driver's cursor: psycopg's own unique violation
        if type(e).__name__ == "UniqueViolation":
            raise TrackingIdRace(str(e)) from e
        raise


# ---------------------------------------------------------------------------------------------- reads
def recorded_tracking_ids(conn: Connection, tenant: int, subscription_ids: Collection[str],
                          tracking_ids: Collection[str]) -> set[tuple[str, str]]:
    """The (subscription, tracking id) pairs already recorded among these (one partial-index scan)."""
    if not subscription_ids or not tracking_ids:
        return set()
    rows = conn.execute(select(U.c.subscription_id, U.c.tracking_id).where(
        U.c.tenant_record_id == tenant, U.c.first_of_request,
        in_values(conn, U.c.subscription_id, subscription_ids), in_values(conn, U.c.tracking_id, tracking_ids)))
    return {(r[0], r[1]) for r in rows}


def sums(conn: Connection, tenant: int, account_record_id: int, subscription_id: str, start: datetime,
         end: datetime, unit_type: str | None) -> list[tuple[str, Decimal]]:
    """Per unit, the sum of the amounts recorded in [start, end) (`RolledUpUsageSqlDao.getRolledUpUsage...`),
    exact in SQL (integers); units by name."""
    q = (select(U.c.unit_type, func.sum(U.c.amount))
         .where(U.c.tenant_record_id == tenant, U.c.account_record_id == account_record_id,
                U.c.subscription_id == subscription_id, U.c.record_date >= start, U.c.record_date < end)
         .group_by(U.c.unit_type).order_by(U.c.unit_type))
    if unit_type is not None:
        q = q.where(U.c.unit_type == unit_type)
    return [(r[0], from_stored(int(r[1]))) for r in conn.execute(q)]


def raw_usage(conn: Connection, tenant: int, starts: Mapping[int, datetime]) -> dict[int, list[RawUsage]]:
    """The records of these accounts from each account's start instant on (`getRawUsageForAccount`), in one query:
    from the earliest start, the later starts applied here.

    This is the one hot read of rating (a big account's month holds millions of rows), so it runs on the driver's
    cursor in the caller's transaction with the cyclic garbage collector paused (millions of new tuples would
    trigger collections over and over); instants come as ISO text with their UTC offset (parsing it is several
    times cheaper than attaching a time zone to a driver's datetime), amounts as integers (their decimals are
    shared: meters send the same few amounts over and over)."""
    out: dict[int, list[RawUsage]] = {a: [] for a in starts}
    if not starts:
        return out
    ids = list(starts)
    earliest = min(starts.values()).astimezone(UTC).replace(tzinfo=None)
    params: tuple[Any, ...]
    if conn.dialect.name == "postgresql":
        sql = ("SELECT account_record_id, subscription_id, unit_type, "
               "to_char(record_date, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), amount, tracking_id "
               "FROM rolled_up_usage WHERE tenant_record_id = %s AND account_record_id = ANY(%s) "
               "AND record_date >= %s")
        params = (tenant, ids, earliest)
    else:
        sql = ("SELECT account_record_id, subscription_id, unit_type, record_date || '+00:00', amount, tracking_id "
               f"FROM rolled_up_usage WHERE tenant_record_id = ? AND account_record_id IN "
               f"({', '.join('?' for _ in ids)}) AND record_date >= ?")
        params = (tenant, *ids, earliest.isoformat(" ", "microseconds"))
    aware_starts = {a: s.astimezone(UTC) for a, s in starts.items()}
    shared: dict[str, str] = {}
    amounts: dict[int, Decimal] = {}
    new, parse, scale = tuple.__new__, datetime.fromisoformat, -SCALE
    raw = conn.connection.driver_connection
    assert raw is not None
    with paused_gc():
        cur = raw.cursor()
        try:
            cur.execute(sql, params)
            while True:
                chunk = cur.fetchmany(50_000)
                if not chunk:
                    break
                for arid, sub, unit, when, stored, tracking in chunk:
                    when = parse(when)
                    if when < aware_starts[arid]:
                        continue
                    amount = amounts.get(stored)
                    if amount is None:
                        amount = Decimal(stored).scaleb(scale)
                        if len(amounts) < 10_000:
                            amounts[stored] = amount
                    out[arid].append(new(RawUsage, (shared.setdefault(sub, sub), shared.setdefault(unit, unit), when,
                                                    amount, tracking)))
        finally:
            cur.close()
    return out


def count(conn: Connection, tenant: int, account_record_ids: Iterable[int]) -> int:
    ids = list(account_record_ids)
    q = select(func.count()).select_from(U).where(U.c.tenant_record_id == tenant,
                                                  in_values(conn, U.c.account_record_id, ids))
    return int(conn.execute(q).scalar_one())
