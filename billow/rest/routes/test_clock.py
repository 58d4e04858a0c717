"""Kill Bill's hidden `/1.0/kb/test` endpoints: read, set and move the clock, wait for queues.

Only a server in test mode (`billow serve --test-mode`) may change the time.
After a change the call returns once every notification now due has fired
and the bus is drained, or after `timeoutSec` (Kill Bill's TestResource).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.app import Billow
from billow.core.account_time import is_time_zone, zone_date
from billow.core.clock import TestClock
from billow.core.errors import Forbidden, InvalidInput
from billow.rest.common import Ctx, parse_date_or_datetime
from billow.rest.deps import App
from billow.rest.jsonio import KBJSONResponse, format_instant

router = APIRouter(prefix="/1.0/kb/test", tags=["Test"], include_in_schema=True)


def clock_json(now: datetime, time_zone: str) -> dict[str, Any]:
    return {"currentUtcTime": format_instant(now), "timeZone": time_zone,
            "localDate": zone_date(now, time_zone).isoformat()}


def _time_zone(tz: str | None) -> str:
    tz = tz or "UTC"
    if not is_time_zone(tz):
        raise InvalidInput(f"timeZone: '{tz}' is not a known time zone id")
    return tz


def _test_clock(kb: Billow) -> TestClock:
    clock = kb.clock
    if not isinstance(clock, TestClock):
        raise Forbidden("The server is not in test mode: start it with `billow serve --test-mode` to change "
                        "the clock", class_name="java.lang.UnsupportedOperationException")
    return clock


def _timeout(timeout_sec: int) -> float:
    if timeout_sec < 0:
        raise InvalidInput("timeoutSec: must not be negative")
    return float(timeout_sec)


async def _after_move(kb: Billow, ctx: Ctx, time_zone: str, timeout_sec: float) -> Response:
    await run_in_threadpool(kb.run_until_idle, timeout_sec, ctx.tenant_record_id)
    return KBJSONResponse(clock_json(kb.clock.utcnow(), time_zone))


@router.get("/clock")
def get_clock(request: Request, ctx: Ctx, kb: App, timeZone: str | None = Query(None)) -> Response:
    return KBJSONResponse(clock_json(kb.clock.utcnow(), _time_zone(timeZone)))


@router.post("/clock")
async def set_clock(request: Request, ctx: Ctx, kb: App, requestedDate: str | None = Query(None),
                    timeZone: str | None = Query(None), timeoutSec: int = Query(5)) -> Response:
    clock = _test_clock(kb)
    tz = _time_zone(timeZone)
    timeout = _timeout(timeoutSec)
    when = parse_date_or_datetime(requestedDate, "requestedDate")
    if when is None:
        clock.reset()
    elif isinstance(when, datetime):
        clock.set(when)
    else:
        assert isinstance(when, date)
        # a bare date is that day at the current time of day, as Kill Bill's TestResource does
        now = clock.utcnow()
        clock.set(datetime.combine(when, now.timetz()).astimezone(UTC))
    return await _after_move(kb, ctx, tz, timeout)


@router.put("/clock")
async def move_clock(request: Request, ctx: Ctx, kb: App, days: int | None = Query(None),
                     weeks: int | None = Query(None),
                     months: int | None = Query(None), years: int | None = Query(None),
                     timeZone: str | None = Query(None), timeoutSec: int = Query(5)) -> Response:
    clock = _test_clock(kb)
    tz = _time_zone(timeZone)
    timeout = _timeout(timeoutSec)
    given = [v for v in (days, weeks, months, years) if v is not None]
    if len(given) != 1:
        raise InvalidInput("days, weeks, months, years: exactly one of them needs to be set")
    if days is not None:
        clock.add(timedelta(days=days))
    elif weeks is not None:
        clock.add(timedelta(weeks=weeks))
    elif months is not None:
        clock.set(clock.utcnow() + relativedelta(months=months))
    else:
        assert years is not None
        clock.set(clock.utcnow() + relativedelta(years=years))
    return await _after_move(kb, ctx, tz, timeout)


@router.get("/queues")
async def wait_for_queues(request: Request, ctx: Ctx, kb: App, timeoutSec: int = Query(5)) -> Response:
    drained = await run_in_threadpool(kb.run_until_idle, _timeout(timeoutSec), ctx.tenant_record_id)
    return Response(status_code=200 if drained else 412)
