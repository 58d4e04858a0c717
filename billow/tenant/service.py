"""The tenant service: tenants, their API credentials, and per-tenant key/values.

Kill Bill stores the API secret salted and hashed and never returns it; we
hash with argon2. Per-tenant key/values hold configuration, callbacks,
catalogs and templates (Kill Bill's `TenantUserApi`, keys of `TenantKV.TenantKey`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.errors import Conflict, InvalidInput, NotFound
from billow.core.secrets import VerifiedCache, hash_secret
from billow.tenant import store
from billow.tenant.events import TenantConfigChangeEvent, TenantConfigDeletionEvent
from billow.tenant.model import Tenant, TenantKeyValue

TENANT_EXCEPTION = "org.killbill.billing.tenant.api.TenantApiException"
TENANT_ALREADY_EXISTS = 20000
TENANT_DOES_NOT_EXIST_FOR_ID = 20001
TENANT_DOES_NOT_EXIST_FOR_KEY = 20002
TENANT_DOES_NOT_EXIST_FOR_API_KEY = 20003


def _to_tenant(row: dict[str, Any]) -> Tenant:
    return Tenant(record_id=row["record_id"], id=row["id"], external_key=row["external_key"],
                  api_key=row["api_key"], created_date=row["created_date"])


class TenantService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._verified = VerifiedCache()

    def create(self, ctx: CallContext, api_key: str | None, api_secret: str | None,
               external_key: str | None = None) -> Tenant:
        if not api_key:
            raise InvalidInput("apiKey: needs to be set")
        if not api_secret:
            raise InvalidInput("apiSecret: needs to be set")
        if len(api_key) > 128:
            raise InvalidInput("apiKey: longer than 128 characters")
        secret_hash = hash_secret(api_secret)  # slow: outside the transaction
        with self.db.transaction(ctx) as uow:
            if store.tenant_by_api_key(uow.conn, api_key) is not None:
                raise Conflict(f"Tenant already exists for key {api_key}", code=TENANT_ALREADY_EXISTS,
                               class_name=TENANT_EXCEPTION)
            if external_key and store.tenant_by_external_key(uow.conn, external_key) is not None:
                raise Conflict(f"Tenant already exists for key {external_key}", code=TENANT_ALREADY_EXISTS,
                               class_name=TENANT_EXCEPTION)
            row = uow.insert("tenants", {
                "id": str(uuid.uuid4()), "api_key": api_key, "api_secret": secret_hash,
                "external_key": external_key or None, "tenant_record_id": None,
            })
        return _to_tenant(row)

    def get(self, tenant_id: str) -> Tenant:
        with self.db.read() as conn:
            row = store.tenant_by_id(conn, tenant_id)
        if row is None:
            raise NotFound(f"Tenant does not exist for id {tenant_id}", code=TENANT_DOES_NOT_EXIST_FOR_ID,
                           class_name=TENANT_EXCEPTION)
        return _to_tenant(row)

    def get_by_api_key(self, api_key: str) -> Tenant:
        with self.db.read() as conn:
            row = store.tenant_by_api_key(conn, api_key)
        if row is None:
            raise NotFound(f"Tenant does not exist for api key {api_key}", code=TENANT_DOES_NOT_EXIST_FOR_API_KEY,
                           class_name=TENANT_EXCEPTION)
        return _to_tenant(row)

    def authenticate(self, api_key: str, api_secret: str) -> Tenant | None:
        """The tenant whose credentials these are, or None."""
        with self.db.read() as conn:
            row = store.tenant_by_api_key(conn, api_key)
        if row is None or not self._verified.check(api_key, api_secret, row["api_secret"]):
            return None
        return _to_tenant(row)

    # -- key/values ---------------------------------------------------------------------------
    def get_values(self, ctx: CallContext, key: str) -> TenantKeyValue:
        with self.db.read() as conn:
            rows = store.active_values(conn, ctx.tenant, key)
        return TenantKeyValue(key, [r["tenant_value"] for r in rows])

    def values_fingerprint(self, ctx: CallContext, key: str) -> tuple[int, int]:
        with self.db.read() as conn:
            return store.values_fingerprint(conn, ctx.tenant, key)

    def get_values_by_prefix(self, ctx: CallContext, prefix: str) -> list[TenantKeyValue]:
        with self.db.read() as conn:
            rows = store.active_values_by_prefix(conn, ctx.tenant, prefix)
        grouped: dict[str, list[str]] = {}
        for r in rows:
            grouped.setdefault(r["tenant_key"], []).append(r["tenant_value"])
        return [TenantKeyValue(k, v) for k, v in grouped.items()]

    def add_value(self, ctx: CallContext, key: str, value: str, *, replace: bool = False) -> TenantKeyValue:
        """Add a value under `key` (Kill Bill keeps several for some keys, one for others)."""
        with self.db.transaction(ctx) as uow:
            values = self.add_value_in(uow, key, value, replace=replace)
        return TenantKeyValue(key, values)

    def delete_key(self, ctx: CallContext, key: str, value: str | None = None) -> None:
        with self.db.transaction(ctx) as uow:
            self.deactivate_in(uow, key, value)

    # -- the same, in a caller's transaction (services above: push notifications, ...) ---------
    @staticmethod
    def values_in(conn: Connection, tenant_record_id: int, key: str) -> list[str]:
        return [r["tenant_value"] for r in store.active_values(conn, tenant_record_id, key)]

    def add_value_in(self, uow: UnitOfWork, key: str, value: str, *, replace: bool = False) -> list[str]:
        ctx = uow.ctx
        if replace:
            self.deactivate_in(uow, key, announce=False)
        uow.insert("tenant_kvs", {"tenant_key": key, "tenant_value": value, "is_active": True})
        uow.post(TenantConfigChangeEvent(tenant_record_id=ctx.tenant, object_id=ctx.tenant_id,
                                         user_token=ctx.user_token, key=key))
        return self.values_in(uow.conn, ctx.tenant, key)

    def deactivate_in(self, uow: UnitOfWork, key: str, value: str | None = None, *, announce: bool = True) -> int:
        ctx = uow.ctx
        removed = 0
        for r in store.active_values(uow.conn, ctx.tenant, key):
            if value is None or r["tenant_value"] == value:
                uow.update("tenant_kvs", r["record_id"], {"is_active": False})
                removed += 1
        if removed and announce:
            uow.post(TenantConfigDeletionEvent(tenant_record_id=ctx.tenant, object_id=ctx.tenant_id,
                                               user_token=ctx.user_token, key=key))
        return removed
