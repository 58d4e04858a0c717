"""Push notifications: the tenant key, the settings, the body Kill Bill sends, URL rules.

Kill Bill: `profiles/killbill/.../server/notifications/PushNotificationListener.java`,
`PushNotificationKey.java`, `PushNotificationRetryService.java`, `jaxrs/.../json/NotificationJson.java`,
`util/.../config/definition/NotificationConfig.java`
(`org.killbill.billing.server.notifications.retries`, default 15m,30m,2h,12h,1d).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from billow.core.bus.event import BusEvent, json_default

# TenantKV.TenantKey.PUSH_NOTIFICATION_CB
PUSH_NOTIFICATION_CB = "PUSH_NOTIFICATION_CB"
# The queue of the server service (`PushNotificationRetryService.QUEUE_NAME`); composite
# name `<service>:<queue>` as every queue (the server service's name is Kill Bill's own).
PUSH_QUEUE = "server-service:push-notification-queue"
USER_AGENT = "KillBill/1.0"
CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_URL_LENGTH = 2048


@dataclass
class PushConfig:
    # Delay before retry n (attempt n+1): Kill Bill's notification.retries.
    retries: tuple[timedelta, ...] = (timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=2),
                                      timedelta(hours=12), timedelta(days=1))
    # Connect and request timeout (Kill Bill TIMEOUT_NOTIFICATION, 15 s).
    timeout_s: float = 15.0


class InvalidCallbackUrl(ValueError):
    pass


def validate_callback_url(url: str | None) -> str:
    """An absolute http(s) URL with a host; anything else is refused."""
    if url is None or not url.strip():
        raise InvalidCallbackUrl("notificationCallback needs to be set")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrl(f"notificationCallback is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidCallbackUrl("notificationCallback must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as e:
        raise InvalidCallbackUrl(f"notificationCallback is not a valid URL: {e}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidCallbackUrl("notificationCallback must be an http or https URL")
    if not parts.hostname:
        raise InvalidCallbackUrl("notificationCallback must name a host")
    return url


def notification_json(event_type: str, account_id: str | None, object_type: str | None,
                      object_id: str | None, meta_data: str | None) -> dict[str, Any]:
    """Kill Bill's NotificationJson, in its field order; `metaData` is a JSON string or null."""
    return {"eventType": event_type, "accountId": account_id, "objectType": object_type,
            "objectId": object_id, "metaData": meta_data}


def push_key(event: BusEvent, url: str, attempt: int) -> dict[str, Any]:
    """What a push-queue row carries (Kill Bill PushNotificationKey, tenant in search_key2)."""
    meta = event.meta_data()
    return {
        "eventType": event.event_type, "accountId": event.account_id,
        "objectType": event.object_type or None,
        "objectId": event.object_id,
        "metaData": None if meta is None else json.dumps(meta, default=json_default, separators=(",", ":")),
        "attemptNumber": attempt, "url": url,
    }
