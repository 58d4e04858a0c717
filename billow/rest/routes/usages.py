"""`/1.0/kb/usages`: record usage and read it back (Kill Bill's `UsageResource`), plus a batch endpoint of ours
for high-volume metering (many subscriptions' records in one request)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.core.gcpause import paused_gc
from billow.rest.common import Ctx, parse_instant
from billow.rest.deps import Usages
from billow.rest.jsonio import KBJSONResponse, format_instant
from billow.usage.model import (
    RecordingReport,
    RolledUpUsage,
    SubscriptionUsageRecord,
    UnitUsageRecord,
    UsageRecord,
)
from billow.usage.service import UsageService

router = APIRouter(prefix="/1.0/kb/usages", tags=["Usage"])


class UsageRecordJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    recordDate: datetime | None = None
    amount: Decimal | None = None


class UnitUsageRecordJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    unitType: str | None = None
    usageRecords: list[UsageRecordJson] | None = None


class SubscriptionUsageRecordJson(BaseModel):
    """Kill Bill's SubscriptionUsageRecordJson (swagger `SubscriptionUsageRecord`)."""

    model_config = ConfigDict(extra="ignore")
    subscriptionId: UUID | None = None
    trackingId: str | None = None
    unitUsageRecords: list[UnitUsageRecordJson] | None = None

    def to_record(self) -> SubscriptionUsageRecord:
        """The record, with Kill Bill's messages for what its JSON classes require to be set."""
        if self.subscriptionId is None:
            raise InvalidInput("SubscriptionUsageRecordJson subscriptionId needs to be set")
        if self.unitUsageRecords is None:
            raise InvalidInput("SubscriptionUsageRecordJson unitUsageRecords needs to be set")
        units = []
        for unit in self.unitUsageRecords:
            records = []
            for r in unit.usageRecords or ():
                if r.amount is None:
                    raise InvalidInput("UsageRecordJson amount needs to be set")
                if r.recordDate is None:
                    raise InvalidInput("UsageRecordJson recordDate needs to be set")
                when = r.recordDate
                records.append(UsageRecord(when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC),
                                           r.amount))
            units.append(UnitUsageRecord(unit.unitType or "", tuple(records)))
        return SubscriptionUsageRecord(str(self.subscriptionId), tuple(units), self.trackingId or None)


_BATCH = TypeAdapter(list[SubscriptionUsageRecordJson])


def rolled_up_json(usage: RolledUpUsage) -> dict[str, object]:
    """Kill Bill's RolledUpUsageJson."""
    return {"subscriptionId": usage.subscription_id, "startDate": format_instant(usage.start),
            "endDate": format_instant(usage.end),
            "rolledUpUnits": [{"unitType": u.unit_type, "amount": u.amount} for u in usage.units]}


@router.post("", status_code=201, operation_id="recordUsage")
async def record_usage(request: Request, ctx: Ctx, usages: Usages,
                       body: SubscriptionUsageRecordJson | None = Body(None)) -> Response:
    """201 with an empty body and no Location, as Kill Bill answers."""
    if body is None:
        raise InvalidInput("SubscriptionUsageRecordJson body should be specified")
    await run_in_threadpool(usages.record_usage, ctx, body.to_record())
    return Response(status_code=201)


_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "items": {"$ref": "#/components/schemas/SubscriptionUsageRecordJson"}}}}}}


@router.post("/batch", operation_id="recordUsageBatch", openapi_extra=_BATCH_BODY)
async def record_usage_batch(request: Request, ctx: Ctx, usages: Usages) -> Response:
    """Many subscriptions' usage in one request (a JSON array of SubscriptionUsageRecordJson), recorded in one
    transaction. Entries whose tracking id the subscription already has are skipped and listed under `duplicates`,
    so a retried batch records nothing twice; any invalid entry refuses the whole batch."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("body: a JSON array of SubscriptionUsageRecordJson needs to be given")
    report = await run_in_threadpool(_record_batch, usages, ctx, raw)
    return KBJSONResponse({"recorded": report.recorded,
                           "duplicates": [{"subscriptionId": s, "trackingId": t} for s, t in report.duplicates]})


def _record_batch(usages: UsageService, ctx: CallContext, raw: bytes) -> RecordingReport:
    """Parse and record a batch (tens of thousands of records: the garbage collector is paused meanwhile)."""
    with paused_gc():
        try:
            entries = _BATCH.validate_json(raw)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise InvalidInput(f"{where}: {first.get('msg')}") from None
        return usages.record_usage_batch(ctx, [entry.to_record() for entry in entries])


def _dates(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """Kill Bill answers a bare 400 without either date; we name it."""
    if not start:
        raise InvalidInput("startDate: query parameter needs to be set")
    if not end:
        raise InvalidInput("endDate: query parameter needs to be set")
    first, last = parse_instant(start, "startDate"), parse_instant(end, "endDate")
    assert first is not None and last is not None
    return first, last


@router.get("/{subscriptionId}", operation_id="getAllUsage")
def get_all_usage(request: Request, ctx: Ctx, usages: Usages, subscriptionId: str,
                  startDate: str | None = Query(None), endDate: str | None = Query(None)) -> Response:
    start, end = _dates(startDate, endDate)
    return KBJSONResponse(rolled_up_json(usages.get_usage(ctx, subscriptionId, start, end)))


@router.get("/{subscriptionId}/{unitType}", operation_id="getUsage")
def get_usage(request: Request, ctx: Ctx, usages: Usages, subscriptionId: str, unitType: str,
              startDate: str | None = Query(None), endDate: str | None = Query(None)) -> Response:
    start, end = _dates(startDate, endDate)
    return KBJSONResponse(rolled_up_json(usages.get_usage(ctx, subscriptionId, start, end, unitType)))
