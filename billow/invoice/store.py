"""SQL for the invoice service's tables: `invoices`, `invoice_items` (Kill Bill's names and columns,
audited, account-owned), `invoice_schedule` (the next billing dates a run asked for, Kill Bill's
next-billing-date notifications) and `invoice_run_triggers` (one bus notification per tenant and instant).

The invoice number is the invoice's `record_id`, as in Kill Bill (`InvoiceSqlDao.sql.stg`:
`invoice_number` is the auto-increment record id): unique and increasing per tenant (and globally),
allocated by the database without a shared counter row, so concurrent billing batches never wait on it.
Reads are set-based: one query for the invoices of many accounts, one for their items.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import RecordId, audited_table, metadata
from billow.core.db.sets import in_values
from billow.core.db.types import Money, UTCDateTime
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.store_payments import paid_of_accounts

invoices = audited_table(
    "invoices", "INVOICE",
    Column("account_id", String(36), nullable=False, index=True),
    Column("invoice_date", Date, nullable=False),
    Column("target_date", Date, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(15), nullable=False),
    Column("migrated", Boolean, nullable=False, default=False),
    Column("parent_invoice", Boolean, nullable=False, default=False),
    Column("grp_id", String(36), nullable=True),
)

invoice_items = audited_table(
    "invoice_items", "INVOICE_ITEM",
    Column("type", String(24), nullable=False),
    Column("invoice_id", String(36), nullable=False, index=True),
    Column("account_id", String(36), nullable=False),
    Column("child_account_id", String(36), nullable=True),
    Column("bundle_id", String(36), nullable=True),
    Column("subscription_id", String(36), nullable=True),
    Column("description", String(255), nullable=True),
    Column("product_name", String(255), nullable=True),
    Column("plan_name", String(255), nullable=True),
    Column("phase_name", String(255), nullable=True),
    Column("usage_name", String(255), nullable=True),
    Column("catalog_effective_date", UTCDateTime(), nullable=True),
    Column("start_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("amount", Money(), nullable=False),
    Column("rate", Money(), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("linked_item_id", String(36), nullable=True, index=True),
    Column("quantity", Money(), nullable=True),
    Column("item_details", Text, nullable=True),
)

schedule = Table(
    "invoice_schedule", metadata,
    Column("record_id", RecordId, primary_key=True, autoincrement=True),
    Column("tenant_record_id", RecordId, nullable=False),
    Column("account_record_id", RecordId, nullable=False),
    Column("subscription_id", String(36), nullable=False),
    Column("target_date", Date, nullable=False),
    Column("fire_at", UTCDateTime(), nullable=False),
    Column("state", String(12), nullable=False),
    Column("owner", String(64), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_date", UTCDateTime(), nullable=False),
    UniqueConstraint("account_record_id", "subscription_id", "target_date", name="uq_invoice_schedule_date"),
)

run_triggers = Table(
    "invoice_run_triggers", metadata,
    Column("tenant_record_id", RecordId, primary_key=True),
    Column("fire_at", UTCDateTime(), primary_key=True),
)

INV, IT, SC = invoices.table, invoice_items.table, schedule
AVAILABLE, FAILED = "AVAILABLE", "FAILED"


# ------------------------------------------------------------------------------------------- rows <-> model
def invoice_row(inv: Invoice, account_record_id: int) -> dict[str, Any]:
    return {"id": inv.id, "account_id": inv.account_id, "invoice_date": inv.invoice_date,
            "target_date": inv.target_date, "currency": inv.currency, "status": inv.status.value,
            "migrated": inv.migrated, "parent_invoice": inv.is_parent_invoice, "grp_id": inv.id,
            "account_record_id": account_record_id}


def item_row(it: InvoiceItem, account_record_id: int) -> dict[str, Any]:
    return {"id": it.id, "type": it.type.value, "invoice_id": it.invoice_id, "account_id": it.account_id,
            "child_account_id": it.child_account_id, "bundle_id": it.bundle_id,
            "subscription_id": it.subscription_id, "description": it.description,
            "product_name": it.product_name, "plan_name": it.plan_name, "phase_name": it.phase_name,
            "usage_name": it.usage_name, "catalog_effective_date": it.catalog_effective_date,
            "start_date": it.start_date, "end_date": it.end_date, "amount": it.amount, "rate": it.rate,
            "currency": it.currency, "linked_item_id": it.linked_item_id, "quantity": it.quantity,
            "item_details": it.item_details, "account_record_id": account_record_id}


def to_item(m: Mapping[str, Any]) -> InvoiceItem:
    return InvoiceItem(
        id=m["id"], invoice_id=m["invoice_id"], account_id=m["account_id"], type=InvoiceItemType(m["type"]),
        start_date=m["start_date"], end_date=m["end_date"], amount=Decimal(m["amount"]), currency=m["currency"],
        subscription_id=m["subscription_id"], bundle_id=m["bundle_id"], product_name=m["product_name"],
        plan_name=m["plan_name"], phase_name=m["phase_name"], usage_name=m["usage_name"], rate=m["rate"],
        linked_item_id=m["linked_item_id"], quantity=m["quantity"], item_details=m["item_details"],
        description=m["description"], catalog_effective_date=m["catalog_effective_date"],
        child_account_id=m["child_account_id"], created_date=m["created_date"])


# ------------------------------------------------------------------------------------------------- reads
# The columns a billing run needs, in `InvoiceItem` field order; instants read as plain DateTime and made
# aware here (one `replace` instead of a type decorator call per value: a month-13 run reads ~13 items and
# invoices per account).
_ITEM_COLUMNS = (IT.c.id, IT.c.invoice_id, IT.c.account_id, IT.c.type, IT.c.start_date, IT.c.end_date, IT.c.amount,
                 IT.c.currency, IT.c.subscription_id, IT.c.bundle_id, IT.c.product_name, IT.c.plan_name,
                 IT.c.phase_name, IT.c.usage_name, IT.c.rate, IT.c.linked_item_id, IT.c.quantity, IT.c.item_details,
                 IT.c.description, type_coerce(IT.c.catalog_effective_date, DateTime()), IT.c.child_account_id,
                 type_coerce(IT.c.created_date, DateTime()))
_INVOICE_COLUMNS = (INV.c.account_record_id, INV.c.id, INV.c.account_id, INV.c.invoice_date, INV.c.target_date,
                    INV.c.currency, INV.c.status, INV.c.record_id, INV.c.parent_invoice, INV.c.migrated,
                    type_coerce(INV.c.created_date, DateTime()))
_ITEM_TYPES = {t.value: t for t in InvoiceItemType}
_STATUSES = {s.value: s for s in InvoiceStatus}


_INVOICES_OF_ACCOUNTS = Prepared(lambda dialect: select(*_INVOICE_COLUMNS).where(
    INV.c.tenant_record_id == bindparam("tenant"), in_param(dialect, INV.c.account_record_id, "accounts"))
    .order_by(INV.c.record_id))
_ITEMS_OF_ACCOUNTS = Prepared(lambda dialect: select(*_ITEM_COLUMNS).where(
    IT.c.tenant_record_id == bindparam("tenant"), in_param(dialect, IT.c.account_record_id, "accounts"))
    .order_by(IT.c.record_id))


def invoices_of_accounts(conn: Connection, tenant: int, account_record_ids: Sequence[int]) -> dict[int, list[Invoice]]:
    """Every invoice (with items) of these accounts, by account record id, oldest first: two queries."""
    out: dict[int, list[Invoice]] = {a: [] for a in account_record_ids}
    if not account_record_ids:
        return out
    ids = list(account_record_ids)
    params = {"tenant": tenant, "accounts": ids}
    inv_rows = conn.execute(_INVOICES_OF_ACCOUNTS(conn), params).all()
    if not inv_rows:
        return out
    items: dict[str, list[InvoiceItem]] = {}
    types = _ITEM_TYPES
    for (id_, inv_id, acc, typ, start, end, amount, cur, sub, bundle, product, plan, phase, usage, rate, linked, qty,
         details, descr, catalog_date, child, created) in conn.execute(
            _ITEMS_OF_ACCOUNTS(conn), params).all():  # fetchall: row-by-row fetchone costs more
        item = InvoiceItem(id_, inv_id, acc, types[typ], start, end, amount, cur, sub, bundle, product, plan, phase,
                           usage, rate, linked, qty, details, descr,
                           None if catalog_date is None else catalog_date.replace(tzinfo=UTC), child,
                           None if created is None else created.replace(tzinfo=UTC))
        bucket = items.get(inv_id)
        if bucket is None:
            items[inv_id] = [item]
        else:
            bucket.append(item)
    statuses = _STATUSES
    paid = paid_of_accounts(conn, tenant, ids)
    zero = Decimal(0)
    for arid, id_, acc, inv_date, target, cur, status, number, parent, migrated, created in inv_rows:
        out[arid].append(Invoice(id_, acc, inv_date, target, cur, statuses[status], tuple(items.get(id_, ())),
                                 number, bool(parent), migrated=bool(migrated), paid_amount=paid.get(id_, zero),
                                 created_date=None if created is None else created.replace(tzinfo=UTC)))
    return out


def invoice_record(conn: Connection, tenant: int, *, invoice_id: str | None = None,
                   number: int | None = None) -> Mapping[str, Any] | None:
    q = select(INV).where(INV.c.tenant_record_id == tenant)
    q = q.where(INV.c.id == invoice_id) if invoice_id is not None else q.where(INV.c.record_id == number)
    row = conn.execute(q).first()
    return dict(row._mapping) if row is not None else None


def account_record_ids_of_invoices(conn: Connection, tenant: int, invoice_ids: Sequence[str]) -> dict[str, int]:
    """{invoice id: its account's record id}."""
    if not invoice_ids:
        return {}
    return {r.id: r.account_record_id for r in conn.execute(select(INV.c.id, INV.c.account_record_id).where(
        INV.c.tenant_record_id == tenant, in_values(conn, INV.c.id, list(invoice_ids))))}


def record_ids_of(conn: Connection, tenant: int, invoice_ids: Sequence[str]) -> tuple[dict[int, str], dict[int, str]]:
    """{record id: id} of the invoices and of their items (for their audit logs)."""
    invoices = {r.record_id: r.id for r in conn.execute(select(INV.c.record_id, INV.c.id).where(
        INV.c.tenant_record_id == tenant, INV.c.id.in_(list(invoice_ids))))}
    items = {r.record_id: r.id for r in conn.execute(select(IT.c.record_id, IT.c.id).where(
        IT.c.tenant_record_id == tenant, IT.c.invoice_id.in_(list(invoice_ids))))}
    return invoices, items


def item_record(conn: Connection, tenant: int, item_id: str) -> Mapping[str, Any] | None:
    row = conn.execute(select(IT).where(IT.c.tenant_record_id == tenant, IT.c.id == item_id)).first()
    return dict(row._mapping) if row is not None else None


# ------------------------------------------------------------------------------------------------- schedule
def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]],
                   returning: Column[Any] | None = None) -> list[Any]:
    """Multi-row insert that skips rows violating a unique key (ON CONFLICT DO NOTHING); with `returning`, that
    column of the rows it did insert (a row another transaction inserted meanwhile is not among them)."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    if returning is None:
        conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)
        return []
    return [r[0] for r in conn.execute(dialect.insert(table).values(rows).on_conflict_do_nothing()
                                       .returning(returning))]


def schedule_row(tenant: int, account_record_id: int, subscription_id: str, target_date: date, fire_at: datetime,
                 now: datetime, *, state: str = AVAILABLE, error_count: int = 0,
                 last_error: str | None = None) -> dict[str, Any]:
    """An `invoice_schedule` row: a next billing date of one subscription (or, FAILED, a parked account)."""
    row: dict[str, Any] = {"tenant_record_id": tenant, "account_record_id": account_record_id,
                           "subscription_id": subscription_id, "target_date": target_date, "fire_at": fire_at,
                           "state": state, "owner": None, "claimed_at": None, "error_count": error_count,
                           "created_date": now}
    if last_error is not None:
        row["last_error"] = last_error[:2000]
    return row


def unpark(conn: Connection, account_record_id: int) -> None:
    """A successful API run unparks the account (its FAILED rows go)."""
    conn.execute(delete(SC).where(SC.c.account_record_id == account_record_id, SC.c.state == FAILED))


def add_schedule(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Record next billing dates (duplicates of a pending date are ignored, as Kill Bill checks
    existing notifications before scheduling one)."""
    _insert_ignore(conn, SC, rows)


def add_triggers(conn: Connection, tenant: int, instants: Iterable[datetime]) -> list[datetime]:
    """The run instants of this tenant not known yet (each needs one bus notification)."""
    rows: list[dict[str, Any]] = [{"tenant_record_id": tenant, "fire_at": w} for w in sorted(set(instants))]
    if not rows:
        return []
    known = {r[0] for r in conn.execute(select(run_triggers.c.fire_at).where(
        run_triggers.c.tenant_record_id == tenant, run_triggers.c.fire_at.in_([r["fire_at"] for r in rows])))}
    new = [r for r in rows if r["fire_at"].replace(tzinfo=None) not in {k.replace(tzinfo=None) for k in known}]
    # only those this transaction inserted: two transactions that both found an instant unknown (two bus workers
    # making first invoices) would each schedule a notification for it, and their runs then fight for the same
    # accounts (a million-account billing day ran three runs at once, mostly waiting for each other's locks)
    return sorted(_insert_ignore(conn, run_triggers, new, returning=run_triggers.c.fire_at))


def forget_trigger(conn: Connection, tenant: int, fire_at: datetime) -> None:
    conn.execute(delete(run_triggers).where(run_triggers.c.tenant_record_id == tenant,
                                            run_triggers.c.fire_at == fire_at))


def forget_triggers_due(conn: Connection, tenant: int, up_to: datetime) -> None:
    conn.execute(delete(run_triggers).where(run_triggers.c.tenant_record_id == tenant,
                                            run_triggers.c.fire_at <= up_to))


def claimed_owners(conn: Connection, tenant: int | None, now: datetime) -> set[str]:
    """Who holds claims on due rows (to see whether their runs' nodes are still alive)."""
    q = select(SC.c.owner).where(SC.c.fire_at <= now, SC.c.state == AVAILABLE, SC.c.owner.is_not(None))
    if tenant is not None:
        q = q.where(SC.c.tenant_record_id == tenant)
    return {r[0] for r in conn.execute(q.distinct())}


# how many times a claim looks again for free accounts when another run took those it found first
MAX_CLAIM_ATTEMPTS = 20


def claim_due(conn: Connection, tenant: int | None, now: datetime, owner: str, wall: datetime,
              stale_before: datetime, limit: int, dead_owners: Collection[str] = (), after: int | None = None
              ) -> dict[int, list[tuple[str, date]]]:
    """Claim the due schedule rows of up to `limit` accounts: {account record id: [(subscription, date)]}.

    Rows are free when unclaimed, claimed before `stale_before`, or claimed by a run whose node is dead
    (`dead_owners`): a killed run's accounts are billed by the next run at once. Billing under the account
    lock is idempotent, so a claim taken over from a run that was in fact alive only costs a null run.

    `after`: only accounts with a greater record id (the run's last claim). Accounts are taken in record-id order
    through the schedule's unique key, so a claim that starts where the last one stopped reads a batch's rows;
    from the start, it would first pass the rows of every account billed so far (next month's, not due), and a
    run of a million accounts would read half a million rows a claim."""
    cond = [SC.c.fire_at <= now, SC.c.state == AVAILABLE]
    if tenant is not None:
        cond.append(SC.c.tenant_record_id == tenant)
    free = (SC.c.owner.is_(None)) | (SC.c.claimed_at < stale_before)
    if dead_owners:
        free = free | SC.c.owner.in_(sorted(dead_owners))
    accounts_q = (select(SC.c.account_record_id).where(*cond, free).group_by(SC.c.account_record_id)
                  .order_by(SC.c.account_record_id).limit(limit))
    if after is not None:
        accounts_q = accounts_q.where(SC.c.account_record_id > after)
    # Two runs (two nodes helping each other) pick the same first free accounts; the second one's rows are gone
    # when it gets their locks. It looks again: an empty claim must mean that nothing free is left.
    for _ in range(MAX_CLAIM_ATTEMPTS):
        accounts = [r[0] for r in conn.execute(accounts_q)]
        if not accounts:
            return {}
        # Lock the rows in one order before claiming them: two runs claiming at once (two next-billing-date
        # notifications of a tenant on two bus workers, or nodes helping) then wait for each other instead of
        # deadlocking, and the second finds the first one's rows taken (PostgreSQL re-checks the condition of a
        # locked row).
        rows = (select(SC.c.record_id).where(*cond, free, in_values(conn, SC.c.account_record_id, accounts))
                .order_by(SC.c.record_id))
        if conn.dialect.name == "postgresql":
            rows = rows.with_for_update()
        ids = [r[0] for r in conn.execute(rows)]
        if not ids:
            continue
        stmt = (update(SC).where(in_values(conn, SC.c.record_id, ids), *cond, free)
                .values(owner=owner, claimed_at=wall)
                .returning(SC.c.account_record_id, SC.c.subscription_id, SC.c.target_date))
        out: dict[int, list[tuple[str, date]]] = {}
        for r in conn.execute(stmt):
            out.setdefault(r.account_record_id, []).append((r.subscription_id, r.target_date))
        if out:
            return out
    return {}


def claimed_rows(conn: Connection, account_record_ids: Sequence[int], owner: str
                 ) -> dict[int, list[tuple[str, date]]]:
    """The rows still claimed by `owner` (read again under the account locks)."""
    out: dict[int, list[tuple[str, date]]] = {}
    for r in conn.execute(select(SC.c.account_record_id, SC.c.subscription_id, SC.c.target_date).where(
            in_values(conn, SC.c.account_record_id, account_record_ids), SC.c.owner == owner)):
        out.setdefault(r.account_record_id, []).append((r.subscription_id, r.target_date))
    return out


def done(conn: Connection, account_record_ids: Sequence[int], owner: str) -> None:
    """Delete the rows `owner` billed, locked in record-id order first, as `claim_due` locks rows: a claim and
    a batch's end then wait for each other instead of deadlocking."""
    mine = (select(SC.c.record_id).where(in_values(conn, SC.c.account_record_id, account_record_ids),
                                         SC.c.owner == owner).order_by(SC.c.record_id))
    if conn.dialect.name == "postgresql":
        mine = mine.with_for_update()
    conn.execute(delete(SC).where(SC.c.record_id.in_(mine.scalar_subquery())))


def delete_due(conn: Connection, account_record_id: int, up_to: date) -> None:
    """Rows made pointless by a run at `up_to` that covered them (the catch-up of a batch run)."""
    conn.execute(delete(SC).where(SC.c.account_record_id == account_record_id, SC.c.target_date <= up_to,
                                  SC.c.owner.is_(None)))


def delete_future(conn: Connection, account_record_id: int, after: datetime) -> int:
    """An account's unclaimed next billing dates that fire after an instant (closing the account)."""
    return conn.execute(delete(SC).where(SC.c.account_record_id == account_record_id, SC.c.fire_at > after,
                                         SC.c.state == AVAILABLE, SC.c.owner.is_(None))).rowcount or 0


def release_failed(conn: Connection, account_record_id: int, owner: str, error: str, max_errors: int) -> bool:
    """Give the rows back after a failure; park them (FAILED) after `max_errors`. True when parked."""
    rows = conn.execute(select(SC.c.record_id, SC.c.error_count).where(
        SC.c.account_record_id == account_record_id, SC.c.owner == owner)).all()
    parked = False
    for r in rows:
        count = r.error_count + 1
        state = FAILED if count >= max_errors else AVAILABLE
        parked = parked or state == FAILED
        conn.execute(update(SC).where(SC.c.record_id == r.record_id).values(
            owner=None, claimed_at=None, error_count=count, state=state, last_error=error[:2000]))
    return parked


def release_claim(conn: Connection, account_record_id: int, owner: str) -> None:
    """Give the rows back untouched (the account was busy: a payment at its gateway), for a claim to take again."""
    conn.execute(update(SC).where(SC.c.account_record_id == account_record_id, SC.c.owner == owner).values(
        owner=None, claimed_at=None))


def pending_dates(conn: Connection, account_record_id: int) -> list[tuple[str, date]]:
    return [(r.subscription_id, r.target_date) for r in conn.execute(
        select(SC.c.subscription_id, SC.c.target_date).where(SC.c.account_record_id == account_record_id,
                                                             SC.c.state == AVAILABLE)
        .order_by(SC.c.target_date))]


def pending_pairs(conn: Connection, account_record_ids: Sequence[int]) -> set[tuple[int, date]]:
    """(account record id, target date) of the accounts' pending next billing dates."""
    return {(r[0], r[1]) for r in conn.execute(
        select(SC.c.account_record_id, SC.c.target_date).where(
            in_values(conn, SC.c.account_record_id, list(account_record_ids)), SC.c.state == AVAILABLE).distinct())}


def parked_accounts(conn: Connection, tenant: int | None = None) -> list[int]:
    q = select(SC.c.account_record_id).where(SC.c.state == FAILED).distinct()
    if tenant is not None:
        q = q.where(SC.c.tenant_record_id == tenant)
    return [r[0] for r in conn.execute(q)]


def is_parked(conn: Connection, account_record_id: int) -> bool:
    return conn.execute(select(SC.c.record_id).where(SC.c.account_record_id == account_record_id,
                                                     SC.c.state == FAILED).limit(1)).first() is not None


_PARKED_AMONG = Prepared(lambda dialect: select(SC.c.account_record_id).where(
    in_param(dialect, SC.c.account_record_id, "accounts"), SC.c.state == FAILED).distinct())


def parked_among(conn: Connection, account_record_ids: Sequence[int]) -> set[int]:
    """Of these accounts, the parked ones (a FAILED schedule row)."""
    if not account_record_ids:
        return set()
    return {r[0] for r in conn.execute(_PARKED_AMONG(conn), {"accounts": list(account_record_ids)})}


def tenants_of(conn: Connection, account_record_ids: Sequence[int]) -> dict[int, int]:
    return {r[0]: r[1] for r in conn.execute(select(SC.c.account_record_id, SC.c.tenant_record_id).where(
        in_values(conn, SC.c.account_record_id, account_record_ids)).distinct())}


def count_due(conn: Connection, tenant: int | None, now: datetime) -> int:
    return sum(due_by_tenant(conn, tenant, now).values())


def due_by_tenant(conn: Connection, tenant: int | None, now: datetime) -> dict[int, int]:
    """The accounts with a billing date due by `now`, counted by tenant (of one tenant, or of all)."""
    from sqlalchemy import func

    q = select(SC.c.tenant_record_id, func.count(func.distinct(SC.c.account_record_id))).where(
        SC.c.fire_at <= now, SC.c.state == AVAILABLE).group_by(SC.c.tenant_record_id)
    if tenant is not None:
        q = q.where(SC.c.tenant_record_id == tenant)
    return {int(t): int(n) for t, n in conn.execute(q)}
