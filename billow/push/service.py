"""The push-notification service: tenant callbacks (register, list, remove) and the wiring.

Kill Bill: `TenantResource.registerPushNotificationCallback` / `getPushNotificationCallbacks` /
`deletePushNotificationCallbacks` store the URL as tenant key/value `PUSH_NOTIFICATION_CB`
(several may be registered); `PushNotificationListener` POSTs every
event to it and `PushNotificationRetryService` retries through a notification queue.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx

from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.push.model import PUSH_NOTIFICATION_CB, PUSH_QUEUE, PushConfig, validate_callback_url
from billow.tenant.internal import TenantInternalApi
from billow.tenant.parsed import ParsedTenantValues

if TYPE_CHECKING:
    from billow.core.bus.bus import Bus


class PushNotificationService:
    def __init__(self, db: Database, bus: Bus, tenants: TenantInternalApi, config: PushConfig | None = None, *,
                 client: httpx.Client | None = None) -> None:
        self.db = db
        self.bus = bus
        self.tenants = tenants
        self._callbacks = ParsedTenantValues(tenants, PUSH_NOTIFICATION_CB, lambda _uow, values: tuple(values))
        self.config = config or PushConfig()
        self._client = client
        self._client_lock = threading.Lock()
        self._installed = False

    # -- callbacks (tenant key/values) ----------------------------------------------------------
    def register_callback(self, ctx: CallContext, url: str | None) -> str:
        """Validate and add a callback URL of the tenant; a URL already registered is kept once
        (`/1.0/kb/tenants/registerNotificationCallback`). Raises `InvalidCallbackUrl`."""
        url = validate_callback_url(url)
        with self.db.transaction(ctx) as uow:
            if url not in self.tenant_callbacks(uow):
                self.tenants.add_value(uow, PUSH_NOTIFICATION_CB, url)
        return url

    def callbacks(self, ctx: CallContext) -> list[str]:
        with self.db.read(ctx) as uow:
            return self.tenant_callbacks(uow)

    def tenant_callbacks(self, uow: UnitOfWork) -> list[str]:
        """The callbacks of the unit of work's tenant (the listener reads them in the bus's transaction, for
        every event: kept until they change)."""
        return list(self._callbacks.get(uow))

    def delete_callbacks(self, ctx: CallContext) -> int:
        with self.db.transaction(ctx) as uow:
            return self.tenants.deactivate(uow, PUSH_NOTIFICATION_CB)

    # -- wiring -------------------------------------------------------------------------------
    def install(self) -> None:
        """Subscribe to every event and register the push queue on the bus (once)."""
        from billow.push.listeners import PushNotificationListener

        if self._installed:
            return
        listener = PushNotificationListener(self)
        self.bus.subscribe(listener.on_event, name="push-notifications")
        self.bus.register_queue(PUSH_QUEUE, listener.send, transactional=False)
        self._installed = True

    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.config.timeout_s),
                                            follow_redirects=False, trust_env=False)
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def describe(service: PushNotificationService) -> dict[str, Any]:  # pragma: no cover - debugging aid
    return {"queue": PUSH_QUEUE, "retries": [str(r) for r in service.config.retries]}
