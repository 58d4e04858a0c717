"""The usage service's internal API: recording and reading usage in the caller's unit of work (Kill Bill's
`DefaultUsageUserApi` checks and `InternalUserApi.getRawUsageForAccount`). The per-tenant properties rating
uses reach it through the invoice service's configuration (`billow.tenant.settings`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from billow.core.db import UnitOfWork
from billow.core.errors import InvalidInput, NotFound
from billow.entitlement.internal import EntitlementInternalApi
from billow.usage import store
from billow.usage.errors import TrackingIdAlreadyRecorded, UsageAfterEntitlementEnd
from billow.usage.model import (
    RawUsage,
    RecordingReport,
    RolledUpUnit,
    RolledUpUsage,
    SubscriptionUsageRecord,
)
from billow.usage.pricing import java_hash_order


def subscription_not_found(subscription_id: str) -> NotFound:
    """`ObjectDoesNotExist` as Kill Bill's entitlement lookup answers it (404)."""
    return NotFound(f"Object id={subscription_id} type=SUBSCRIPTION doesn't exist!",
                    class_name="java.lang.IllegalStateException")


def check_record(record: SubscriptionUsageRecord) -> None:
    """What `UsageResource.recordUsage` and the JSON classes require, with Kill Bill's messages."""
    if not record.subscription_id:
        raise InvalidInput("SubscriptionUsageRecordJson subscriptionId needs to be set")
    if not record.units:
        raise InvalidInput("json.getUnitUsageRecords() is empty")
    if record.tracking_id is not None and (len(record.tracking_id) > 128 or "\x00" in record.tracking_id):
        raise InvalidInput("SubscriptionUsageRecordJson trackingId: at most 128 characters, no NUL character")
    for unit in record.units:
        if not unit.unit_type:
            raise InvalidInput("UnitUsageRecordJson unitType need to be set")
        if len(unit.unit_type) > 255 or "\x00" in unit.unit_type:
            raise InvalidInput("UnitUsageRecordJson unitType: at most 255 characters, no NUL character")
        if not unit.records:
            raise InvalidInput("UnitUsageRecordJson usageRecords must have at least one element.")
        for r in unit.records:
            if not r.amount.is_finite() or abs(r.amount) > store.MAX_AMOUNT:
                raise InvalidInput(f"UsageRecordJson amount {r.amount} is out of range (at most "
                                   f"{store.MAX_AMOUNT} in magnitude)")


class UsageInternalApi:
    def __init__(self, entitlements: EntitlementInternalApi) -> None:
        self.entitlements = entitlements

    # ============================================================ recording
    def record(self, uow: UnitOfWork, records: Sequence[SubscriptionUsageRecord], *,
               skip_recorded: bool) -> RecordingReport:
        """Record usage (`recordRolledUpUsage`): each subscription must exist in the tenant, and no record may be
        dated after its entitlement's end. A tracking id the subscription already has is refused (50000, nothing
        recorded) or, for a batch (`skip_recorded`), that entry is skipped and reported. An entry without tracking
        id gets a random one."""
        for record in records:
            check_record(record)
        subjects = self.entitlements.accounts_and_entitlement_ends(uow, {r.subscription_id for r in records})
        for record in records:
            subject = subjects.get(record.subscription_id)
            if subject is None:
                raise subscription_not_found(record.subscription_id)
            end = subject[1]
            highest = record.highest_record_date
            if end is not None and highest is not None and highest > end:
                raise UsageAfterEntitlementEnd(record.subscription_id, highest.isoformat(), end.isoformat())
        keyed = [(r, r.tracking_id or str(uuid.uuid4())) for r in records]
        known = store.recorded_tracking_ids(uow.conn, uow.tenant, {r.subscription_id for r, _ in keyed},
                                            {t for _, t in keyed})
        rows: list[store.Row] = []
        duplicates: list[tuple[str, str]] = []
        user, now, tenant = uow.ctx.user_name[:50], store.naive_utc(uow.now), uow.tenant
        for record, tracking_id in keyed:
            key = (record.subscription_id, tracking_id)
            if key in known:
                if not skip_recorded:
                    raise TrackingIdAlreadyRecorded(tracking_id)
                duplicates.append(key)
                continue
            known.add(key)
            account = subjects[record.subscription_id][0]
            first = True
            for unit in record.units:
                for r in unit.records:
                    rows.append(store.row(tenant, account, record.subscription_id, unit.unit_type, r.record_date,
                                          r.amount, tracking_id, first, user, now))
                    first = False
        store.insert(uow.conn, rows)
        return RecordingReport(len(rows), tuple(duplicates))

    # ============================================================ reading
    def rolled_up(self, uow: UnitOfWork, subscription_id: str, start: datetime, end: datetime,
                  unit_type: str | None = None) -> RolledUpUsage:
        """`getUsage` / `getAllUsage`: per unit, the sum of what was recorded in [start, end)."""
        subject = self.entitlements.accounts_and_entitlement_ends(uow, [subscription_id]).get(subscription_id)
        if subject is None:
            raise subscription_not_found(subscription_id)
        sums = dict(store.sums(uow.conn, uow.tenant, subject[0], subscription_id, start, end, unit_type))
        # units in the order Kill Bill's HashMap gives them
        return RolledUpUsage(subscription_id, start, end,
                             tuple(RolledUpUnit(u, _plain(sums[u])) for u in java_hash_order(sorted(sums))))

    def raw_usage(self, uow: UnitOfWork, starts: Mapping[int, datetime]) -> dict[int, list[RawUsage]]:
        """The raw records of many accounts (account record id → from that instant on), in one query: what a
        billing run rates."""
        return store.raw_usage(uow.conn, uow.tenant, starts)


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
