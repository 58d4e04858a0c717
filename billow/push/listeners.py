"""What the push-notification service does when events arrive.

Kill Bill `PushNotificationListener`: every event of a tenant with callbacks is POSTed to
each callback (`User-Agent: KillBill/1.0`, `Content-Type: application/json; charset=UTF-8`,
15 s timeout, body NotificationJson); 2xx is success; anything else or an exception
schedules attempt n+1 on the push queue at now + retries[n-1], and after the last retry
Kill Bill gives up.

Billow sends the first attempt through the push queue too (a row due at once, written
in the bus handler's transaction): the HTTP call then runs outside any transaction and
holds no account lock, and a restart between the event and the POST loses nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from billow.core.bus.event import BusEvent
from billow.push.model import CONTENT_TYPE, PUSH_QUEUE, USER_AGENT, notification_json, push_key

if TYPE_CHECKING:
    from billow.core.bus.bus import Notification
    from billow.core.db.uow import UnitOfWork
    from billow.push.service import PushNotificationService

log = logging.getLogger("billow.push")


class PushNotificationListener:
    def __init__(self, service: PushNotificationService) -> None:
        self.service = service

    def on_event(self, uow: UnitOfWork, event: BusEvent) -> None:
        if not event.event_type:  # internal-only events are not pushed
            return
        # one look-up per tenant and transaction: a bus worker runs many events in one
        cache: dict[int, list[str]] = uow.__dict__.setdefault("_push_callbacks", {})
        urls = cache.get(event.tenant_record_id)
        if urls is None:
            tenant_uow = uow if uow.ctx.tenant_record_id == event.tenant_record_id else uow.for_tenant(
                event.tenant_record_id)
            urls = cache[event.tenant_record_id] = self.service.tenant_callbacks(tenant_uow)
        for url in urls:
            self.service.bus.schedule(uow, PUSH_QUEUE, push_key(event, url, 0), uow.now,
                                      account_record_id=event.account_record_id,
                                      tenant_record_id=event.tenant_record_id)

    def send(self, notification: Notification) -> Callable[[UnitOfWork], None] | None:
        key = notification.payload
        body = json.dumps(notification_json(key["eventType"], key.get("accountId"), key.get("objectType"),
                                            key.get("objectId"), key.get("metaData")), separators=(",", ":"))
        url = key["url"]
        attempt = int(key.get("attemptNumber", 0))
        reason: str
        try:
            response = self.service.client.post(
                url, content=body.encode("utf-8"),
                headers={"User-Agent": USER_AGENT, "Content-Type": CONTENT_TYPE})
            if 200 <= response.status_code < 300:
                return None
            reason = f"statusCode={response.status_code}"
        except Exception as e:  # connection refused, timeout, TLS...
            reason = repr(e)
        return self._retry(notification, attempt, reason)

    def _retry(self, notification: Notification, attempt: int, reason: str
               ) -> Callable[[UnitOfWork], None] | None:
        retries = self.service.config.retries
        next_attempt = attempt + 1
        key = notification.payload
        if next_attempt > len(retries):
            log.warning("Max attempt number reached for push notification url='%s', tenantRecordId=%s",
                        key["url"], notification.tenant_record_id)
            return None
        delay = retries[next_attempt - 1]

        def follow_up(uow: UnitOfWork) -> None:
            when = uow.now + delay
            log.warning("Push notification to url='%s' failed (%s); attempt %s at %s",
                        key["url"], reason, next_attempt, when.isoformat())
            self.service.bus.schedule(uow, PUSH_QUEUE, {**key, "attemptNumber": next_attempt}, when,
                                      account_record_id=notification.account_record_id,
                                      tenant_record_id=notification.tenant_record_id)

        return follow_up
