"""The usage service (user API): record usage, one subscription at a time as Kill Bill's `POST /1.0/kb/usages`
or many at once (`record_usage_batch`, the high-volume path), and read it back rolled up.

Kill Bill sources: `usage/src/main/java/org/killbill/billing/usage/api/user/DefaultUsageUserApi.java`,
`jaxrs/.../resources/UsageResource.java`. Each call is one unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.errors import Conflict
from billow.usage.errors import TrackingIdAlreadyRecorded, TrackingIdRace
from billow.usage.internal import UsageInternalApi
from billow.usage.model import RecordingReport, RolledUpUsage, SubscriptionUsageRecord


class UsageService:
    def __init__(self, db: Database, internal: UsageInternalApi) -> None:
        self.db = db
        self.internal = internal

    def record_usage(self, ctx: CallContext, record: SubscriptionUsageRecord) -> None:
        """Record one subscription's usage. A tracking id already recorded for the subscription is refused
        (`TrackingIdAlreadyRecorded`, code 50000) and nothing is written, so a retried request is harmless."""
        try:
            with self.db.transaction(ctx) as uow:
                self.internal.record(uow, [record], skip_recorded=False)
        except TrackingIdRace:
            # a concurrent request with the same tracking id committed first; ours was rolled back
            raise TrackingIdAlreadyRecorded(record.tracking_id or "") from None

    def record_usage_batch(self, ctx: CallContext, records: Sequence[SubscriptionUsageRecord]) -> RecordingReport:
        """Record many subscriptions' usage in one transaction (all or nothing for invalid input). Entries whose
        (subscription, tracking id) was recorded before, or earlier in the batch, are skipped and reported: a
        retried batch records nothing twice."""
        try:
            return self._batch(ctx, records)
        except TrackingIdRace:
            pass
        try:  # a concurrent batch recorded some of these first: once more, skipping what it recorded
            return self._batch(ctx, records)
        except TrackingIdRace:
            raise Conflict("usageRecords: concurrent requests are recording the same tracking ids; retry the batch "
                           "(what is recorded will be skipped)") from None

    def _batch(self, ctx: CallContext, records: Sequence[SubscriptionUsageRecord]) -> RecordingReport:
        with self.db.transaction(ctx) as uow:
            return self.internal.record(uow, records, skip_recorded=True)

    def get_usage(self, ctx: CallContext, subscription_id: str, start: datetime, end: datetime,
                  unit_type: str | None = None) -> RolledUpUsage:
        """Per unit (or for one unit), the sum of the amounts recorded in [start, end)."""
        with self.db.read(ctx) as uow:
            return self.internal.rolled_up(uow, subscription_id, start, end, unit_type)
