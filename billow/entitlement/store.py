"""SQL for the entitlement service's tables: bundles, subscriptions, subscription_events,
blocking_states (Kill Bill's names). Every row belongs to an account."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Integer, String, Text, bindparam, func, literal, or_, select

from billow.catalog.model import PhaseType, ProductCategory
from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import audited_table
from billow.core.db.sets import in_values
from billow.core.db.types import UTCDateTime
from billow.entitlement.model import (
    ENT_CANCELLED,
    ENTITLEMENT_SERVICE,
    BlockingState,
    BlockingStateType,
    Bundle,
    PhasePriceOverride,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
)

bundles = audited_table(
    "bundles", "BUNDLE",
    Column("external_key", String(255), nullable=False, index=True),
    Column("account_id", String(36), nullable=False),
    Column("original_created_date", UTCDateTime(), nullable=False),
)

subscriptions = audited_table(
    "subscriptions", "SUBSCRIPTION",
    Column("bundle_id", String(36), nullable=False, index=True),
    Column("account_id", String(36), nullable=False),
    Column("category", String(32), nullable=False),
    Column("external_key", String(255), nullable=False, index=True),
    Column("start_date", UTCDateTime(), nullable=False),
    Column("bundle_start_date", UTCDateTime(), nullable=False),
    Column("charged_through_date", UTCDateTime(), nullable=True),
    Column("migrated", Boolean, nullable=False, default=False),
    # where START_OF_SUBSCRIPTION alignments count from when it is not the start date: a transferred
    # subscription keeps its original one (Kill Bill's `alignStartDate`); None = `start_date`
    Column("align_start_date", UTCDateTime(), nullable=True),
)

subscription_events = audited_table(
    "subscription_events", "SUBSCRIPTION_EVENT",
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("event_type", String(32), nullable=False),
    Column("effective_date", UTCDateTime(), nullable=False),
    Column("plan_name", String(255), nullable=True),
    Column("price_list_name", String(64), nullable=True),
    Column("phase_align_date", UTCDateTime(), nullable=True),
    Column("initial_phase_type", String(32), nullable=True),
    Column("billing_cycle_day_local", Integer, nullable=True),
    Column("quantity", Integer, nullable=True),
    Column("price_overrides", Text, nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
)

blocking_states = audited_table(
    "blocking_states", "BLOCKING_STATES",
    Column("blockable_id", String(36), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("state", String(50), nullable=False),
    Column("service", String(50), nullable=False),
    Column("block_change", Boolean, nullable=False),
    Column("block_entitlement", Boolean, nullable=False),
    Column("block_billing", Boolean, nullable=False),
    Column("effective_date", UTCDateTime(), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
)

B, S, E, BS = bundles.table, subscriptions.table, subscription_events.table, blocking_states.table


def event_values(subscription_id: str, event_type: SubscriptionEventType, effective_date: datetime, *,
                 account_record_id: int | None = None, plan_name: str | None = None,
                 price_list_name: str | None = None, phase_align_date: datetime | None = None,
                 initial_phase_type: PhaseType | None = None, bill_cycle_day_local: int | None = None,
                 quantity: int | None = None, price_overrides: Iterable[PhasePriceOverride] = ()) -> dict[str, Any]:
    """A `subscription_events` row (every column; `account_record_id` left out for what-if events)."""
    row: dict[str, Any] = {
        "subscription_id": subscription_id, "event_type": event_type.value, "effective_date": effective_date,
        "plan_name": plan_name, "price_list_name": price_list_name, "phase_align_date": phase_align_date,
        "initial_phase_type": initial_phase_type.value if initial_phase_type else None,
        "billing_cycle_day_local": bill_cycle_day_local, "quantity": quantity,
        "price_overrides": overrides_json(price_overrides), "is_active": True}
    if account_record_id is not None:
        row["account_record_id"] = account_record_id
    return row


def blocking_state_values(account_record_id: int, blockable_id: str, type_: BlockingStateType, state: str,
                          service: str, *, block_change: bool, block_entitlement: bool, block_billing: bool,
                          effective_date: datetime) -> dict[str, Any]:
    """A `blocking_states` row."""
    return {"blockable_id": blockable_id, "type": type_.value, "state": state, "service": service,
            "block_change": block_change, "block_entitlement": block_entitlement,
            "block_billing": block_billing, "effective_date": effective_date, "is_active": True,
            "account_record_id": account_record_id}


def overrides_json(overrides: Iterable[PhasePriceOverride]) -> str | None:
    items = [{"phaseName": o.phase_name, "phaseType": o.phase_type.value if o.phase_type else None,
              "fixedPrice": None if o.fixed_price is None else str(o.fixed_price),
              "recurringPrice": None if o.recurring_price is None else str(o.recurring_price)} for o in overrides]
    return json.dumps(items) if items else None


def _overrides(text: str | None) -> tuple[PhasePriceOverride, ...]:
    if not text:
        return ()
    return tuple(PhasePriceOverride(
        phase_name=o.get("phaseName"), phase_type=PhaseType(o["phaseType"]) if o.get("phaseType") else None,
        fixed_price=None if o.get("fixedPrice") is None else Decimal(o["fixedPrice"]),
        recurring_price=None if o.get("recurringPrice") is None else Decimal(o["recurringPrice"]),
    ) for o in json.loads(text))


def to_bundle(m: Any) -> Bundle:
    return Bundle(record_id=m["record_id"], id=m["id"], external_key=m["external_key"], account_id=m["account_id"],
                  account_record_id=m["account_record_id"], created_date=m["created_date"],
                  original_created_date=m["original_created_date"])


def to_event(m: Any) -> SubscriptionEvent:
    return SubscriptionEvent(
        record_id=m["record_id"], id=m["id"], subscription_id=m["subscription_id"],
        event_type=SubscriptionEventType(m["event_type"]), effective_date=m["effective_date"],
        created_date=m["created_date"], plan_name=m["plan_name"], price_list_name=m["price_list_name"],
        phase_align_date=m["phase_align_date"],
        initial_phase_type=PhaseType(m["initial_phase_type"]) if m["initial_phase_type"] else None,
        bill_cycle_day_local=m["billing_cycle_day_local"], quantity=m["quantity"],
        price_overrides=_overrides(m["price_overrides"]), is_active=bool(m["is_active"]),
        total_ordering=m["record_id"],
    )


def to_subscription(m: Any, events: Iterable[SubscriptionEvent] = ()) -> Subscription:
    return Subscription(
        record_id=m["record_id"], id=m["id"], bundle_id=m["bundle_id"], account_id=m["account_id"],
        account_record_id=m["account_record_id"], category=ProductCategory(m["category"]),
        external_key=m["external_key"], start_date=m["start_date"], bundle_start_date=m["bundle_start_date"],
        charged_through_date=m["charged_through_date"], created_date=m["created_date"],
        migrated=bool(m["migrated"]), align_start_date=m.get("align_start_date"), events=tuple(events),
    )


def to_blocking_state(m: Any) -> BlockingState:
    return BlockingState(
        record_id=m["record_id"], id=m["id"], blockable_id=m["blockable_id"], type=BlockingStateType(m["type"]),
        state_name=m["state"], service=m["service"], block_change=bool(m["block_change"]),
        block_entitlement=bool(m["block_entitlement"]), block_billing=bool(m["block_billing"]),
        effective_date=m["effective_date"], created_date=m["created_date"], is_active=bool(m["is_active"]),
    )


def bundle_by_id(conn: Connection, tenant: int, bundle_id: str) -> Bundle | None:
    row = conn.execute(select(B).where(B.c.tenant_record_id == tenant, B.c.id == bundle_id)).first()
    return to_bundle(row._mapping) if row else None


def bundles_by_key(conn: Connection, tenant: int, external_key: str) -> list[Bundle]:
    rows = conn.execute(select(B).where(B.c.tenant_record_id == tenant, B.c.external_key == external_key)
                        .order_by(B.c.record_id))
    return [to_bundle(r._mapping) for r in rows]


# a bundle transferred away keeps its key behind this prefix (Kill Bill's `renameBundleExternalKey`)
TRANSFERRED_PREFIX = "tsf"


def renamed_key(record_id: int, external_key: str, prefix: str = TRANSFERRED_PREFIX) -> str:
    """`concat('kb', prefix, '-', record_id, ':', external_key)` of Kill Bill's `BundleSqlDao.sql.stg`."""
    return f"kb{prefix}-{record_id}:{external_key}"


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def bundles_by_key_or_renamed(conn: Connection, tenant: int, external_key: str) -> list[Bundle]:
    """Bundles with this key, and those renamed when cancelled or transferred away (`kb<prefix>-<n>:<key>`):
    Kill Bill's `getBundlesForLikeKey`."""
    renamed = "kb%-%:" + _like_escaped(external_key)
    rows = conn.execute(select(B).where(B.c.tenant_record_id == tenant,
                                        or_(B.c.external_key == external_key,
                                            B.c.external_key.like(renamed, escape="\\")))
                        .order_by(B.c.record_id))
    return [to_bundle(r._mapping) for r in rows]


def count_bundles(conn: Connection, tenant: int, account_record_id: int | None = None) -> int:
    q = select(func.count()).select_from(B).where(B.c.tenant_record_id == tenant)
    if account_record_id is not None:
        q = q.where(B.c.account_record_id == account_record_id)
    return int(conn.execute(q).scalar_one())


def bundles_page(conn: Connection, tenant: int, offset: int, limit: int, *, account_record_id: int | None = None,
                 search_key: str | None = None) -> tuple[list[Bundle], int]:
    """One page of the tenant's bundles (or an account's), in creation order, and how many match. A search key
    matches a bundle's id, account id or external key exactly (Kill Bill's `searchSubscriptionBundles`)."""
    where = [B.c.tenant_record_id == tenant]
    if account_record_id is not None:
        where.append(B.c.account_record_id == account_record_id)
    if search_key is not None:
        key = literal(search_key)
        where.append(or_(B.c.id == key, B.c.account_id == key, B.c.external_key == key))
    total = int(conn.execute(select(func.count()).select_from(B).where(*where)).scalar_one())
    rows = conn.execute(select(B).where(*where).order_by(B.c.record_id).offset(offset).limit(limit))
    return [to_bundle(r._mapping) for r in rows], total


_BUNDLES_OF_ACCOUNT = Prepared(lambda _: select(B).where(
    B.c.tenant_record_id == bindparam("tenant"), B.c.account_record_id == bindparam("account"))
    .order_by(B.c.record_id))


def bundles_of_account(conn: Connection, tenant: int, account_record_id: int) -> list[Bundle]:
    rows = conn.execute(_BUNDLES_OF_ACCOUNT(conn), {"tenant": tenant, "account": account_record_id})
    return [to_bundle(r._mapping) for r in rows]


def subscriptions_of_account(conn: Connection, tenant: int, account_record_id: int) -> list[Subscription]:
    """Every subscription of an account with its events, in two queries."""
    return subscriptions_of_accounts(conn, tenant, [account_record_id]).get(account_record_id, [])


_EVENTS_OF_ACCOUNTS = Prepared(lambda dialect: select(E).where(
    E.c.tenant_record_id == bindparam("tenant"), in_param(dialect, E.c.account_record_id, "accounts"))
    .order_by(E.c.effective_date, E.c.record_id))
_SUBSCRIPTIONS_OF_ACCOUNTS = Prepared(lambda dialect: select(S).where(
    S.c.tenant_record_id == bindparam("tenant"), in_param(dialect, S.c.account_record_id, "accounts"))
    .order_by(S.c.record_id))


def subscriptions_of_accounts(conn: Connection, tenant: int, account_record_ids: list[int]
                              ) -> dict[int, list[Subscription]]:
    """The subscriptions (with their events) of many accounts, in two queries whatever their number."""
    params = {"tenant": tenant, "accounts": list(account_record_ids)}
    evs = conn.execute(_EVENTS_OF_ACCOUNTS(conn), params).all()
    by_sub: dict[str, list[SubscriptionEvent]] = {}
    for r in evs:
        ev = to_event(r._mapping)
        by_sub.setdefault(ev.subscription_id, []).append(ev)
    subs = conn.execute(_SUBSCRIPTIONS_OF_ACCOUNTS(conn), params).all()
    out: dict[int, list[Subscription]] = {}
    for r in subs:
        out.setdefault(r.account_record_id, []).append(to_subscription(r._mapping, by_sub.get(r.id, ())))
    return out


def subscription_by_id(conn: Connection, tenant: int, subscription_id: str) -> Subscription | None:
    row = conn.execute(select(S).where(S.c.tenant_record_id == tenant, S.c.id == subscription_id)).first()
    if row is None:
        return None
    evs = conn.execute(select(E).where(E.c.tenant_record_id == tenant, E.c.subscription_id == subscription_id)
                       .order_by(E.c.effective_date, E.c.record_id))
    return to_subscription(row._mapping, [to_event(r._mapping) for r in evs])


def subscription_by_key(conn: Connection, tenant: int, external_key: str) -> Subscription | None:
    row = conn.execute(select(S.c.id).where(S.c.tenant_record_id == tenant, S.c.external_key == external_key)
                       .order_by(S.c.record_id.desc())).first()
    return subscription_by_id(conn, tenant, row[0]) if row else None


def blocking_states_of_account(conn: Connection, tenant: int, account_record_id: int) -> list[BlockingState]:
    return blocking_states_of_accounts(conn, tenant, [account_record_id]).get(account_record_id, [])


_BLOCKING_STATES_OF_ACCOUNTS = Prepared(lambda dialect: select(BS).where(
    BS.c.tenant_record_id == bindparam("tenant"), in_param(dialect, BS.c.account_record_id, "accounts"),
    BS.c.is_active.is_(True)).order_by(BS.c.effective_date, BS.c.record_id))


def blocking_states_of_accounts(conn: Connection, tenant: int, account_record_ids: list[int]
                                ) -> dict[int, list[BlockingState]]:
    rows = conn.execute(_BLOCKING_STATES_OF_ACCOUNTS(conn), {"tenant": tenant,
                                                              "accounts": list(account_record_ids)})
    out: dict[int, list[BlockingState]] = {}
    for r in rows:
        out.setdefault(r.account_record_id, []).append(to_blocking_state(r._mapping))
    return out


def charged_through_dates(conn: Connection, tenant: int, subscription_ids: list[str]
                          ) -> list[tuple[int, str, datetime | None]]:
    """(record id, id, charged-through date) of the given subscriptions."""
    rows = conn.execute(select(S.c.record_id, S.c.id, S.c.charged_through_date).where(
        S.c.tenant_record_id == tenant, in_values(conn, S.c.id, subscription_ids)))
    return [(r.record_id, r.id, r.charged_through_date) for r in rows]


def record_ids_by_id(conn: Connection, tenant: int, table_name: str, ids: list[str]) -> dict[str, int]:
    """{id: record id} of the given rows of one of the service's tables (for their audit logs)."""
    t = {"bundles": B, "subscriptions": S, "subscription_events": E, "blocking_states": BS}[table_name]
    if not ids:
        return {}
    rows = conn.execute(select(t.c.id, t.c.record_id).where(t.c.tenant_record_id == tenant,
                                                            in_values(conn, t.c.id, ids)))
    return {r.id: r.record_id for r in rows}


def subscription_event_record_id(conn: Connection, tenant: int, event_id: str) -> int | None:
    row = conn.execute(select(E.c.record_id).where(E.c.tenant_record_id == tenant, E.c.id == event_id)).first()
    return int(row[0]) if row is not None else None


def blocking_state_by_id(conn: Connection, tenant: int, state_id: str) -> tuple[BlockingState, int] | None:
    """A blocking state (active or not) and the record id of its account."""
    row = conn.execute(select(BS).where(BS.c.tenant_record_id == tenant, BS.c.id == state_id)).first()
    return (to_blocking_state(row._mapping), row.account_record_id) if row is not None else None


def accounts_and_entitlement_ends(conn: Connection, tenant: int, subscription_ids: list[str]
                                  ) -> dict[str, tuple[int, datetime | None]]:
    """(account record id, entitlement end or None) of the given subscriptions found in the tenant: the end is the
    effective date of the subscription's own ENT_CANCELLED state (what usage recording checks), in two queries."""
    if not subscription_ids:
        return {}
    found = {r.id: r.account_record_id for r in conn.execute(select(S.c.id, S.c.account_record_id).where(
        S.c.tenant_record_id == tenant, in_values(conn, S.c.id, subscription_ids)))}
    ends: dict[str, datetime] = {}
    if found:
        for r in conn.execute(select(BS.c.blockable_id, BS.c.effective_date).where(
                BS.c.tenant_record_id == tenant, in_values(conn, BS.c.blockable_id, list(found)),
                BS.c.state == ENT_CANCELLED, BS.c.service == ENTITLEMENT_SERVICE, BS.c.is_active.is_(True))):
            ends[r.blockable_id] = r.effective_date
    return {sid: (arid, ends.get(sid)) for sid, arid in found.items()}
