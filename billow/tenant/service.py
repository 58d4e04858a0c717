"""The tenant service: tenants, their API credentials, and per-tenant key/values.

Kill Bill stores the API secret salted and hashed and never returns it; we
hash with argon2. Per-tenant key/values hold configuration, callbacks,
catalogs and templates (Kill Bill's `TenantUserApi`, keys of `TenantKV.TenantKey`);
services above read and write them in their own unit of work through `TenantInternalApi`.
"""

from __future__ import annotations

import uuid
from typing import Any

from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.errors import Conflict, InvalidInput, NotFound
from billow.core.limits import text_problem
from billow.core.secrets import VerifiedCache, hash_secret
from billow.tenant import store
from billow.tenant.internal import TenantInternalApi
from billow.tenant.model import Tenant, TenantKeyValue
from billow.tenant.settings import PER_TENANT_CONFIG, TenantSettings

TENANT_EXCEPTION = "org.killbill.billing.tenant.api.TenantApiException"
TENANT_ALREADY_EXISTS = 20000
TENANT_DOES_NOT_EXIST_FOR_ID = 20001
TENANT_DOES_NOT_EXIST_FOR_KEY = 20002
TENANT_DOES_NOT_EXIST_FOR_API_KEY = 20003
# Tenants are never changed nor deleted once created (as in Kill Bill, whose `tenant` cache keeps them by API key):
# a process remembers the rows it found, and forgets them all past this many
MAX_REMEMBERED_TENANTS = 10_000


def _to_tenant(row: dict[str, Any]) -> Tenant:
    return Tenant(record_id=row["record_id"], id=row["id"], external_key=row["external_key"],
                  api_key=row["api_key"], created_date=row["created_date"])


class TenantService:
    def __init__(self, db: Database, internal: TenantInternalApi) -> None:
        self.db = db
        self.internal = internal
        self._verified = VerifiedCache()
        self._tenant_rows: dict[str, dict[str, Any]] = {}

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
        with self.db.read() as uow:
            row = store.tenant_by_id(uow.conn, tenant_id)
        if row is None:
            raise NotFound(f"Tenant does not exist for id {tenant_id}", code=TENANT_DOES_NOT_EXIST_FOR_ID,
                           class_name=TENANT_EXCEPTION)
        return _to_tenant(row)

    def get_by_api_key(self, api_key: str) -> Tenant:
        with self.db.read() as uow:
            row = store.tenant_by_api_key(uow.conn, api_key)
        if row is None:
            raise NotFound(f"Tenant does not exist for api key {api_key}", code=TENANT_DOES_NOT_EXIST_FOR_API_KEY,
                           class_name=TENANT_EXCEPTION)
        return _to_tenant(row)

    def authenticate(self, api_key: str, api_secret: str) -> Tenant | None:
        """The tenant whose credentials these are, or None (also for a key no tenant could have)."""
        if text_problem(api_key) is not None:
            return None
        row = self._tenant_rows.get(api_key)
        if row is None:
            with self.db.read() as uow:
                row = store.tenant_by_api_key(uow.conn, api_key)
            if row is None:
                return None  # not remembered: the tenant may be created, on any node, at any time
            if len(self._tenant_rows) >= MAX_REMEMBERED_TENANTS:
                self._tenant_rows.clear()
            self._tenant_rows[api_key] = row
        if not self._verified.check(api_key, api_secret, row["api_secret"]):
            return None
        return _to_tenant(row)

    def remembered(self, api_key: str, api_secret: str) -> Tenant | None:
        """The tenant when these credentials were verified lately on this node (no database, no hashing: an event
        loop may call it); None says only that `authenticate` must decide."""
        row = self._tenant_rows.get(api_key)
        if row is None or not self._verified.remembered(api_key, api_secret, row["api_secret"]):
            return None
        return _to_tenant(row)

    # -- key/values ---------------------------------------------------------------------------
    def get_values(self, ctx: CallContext, key: str) -> TenantKeyValue:
        with self.db.read(ctx) as uow:
            return TenantKeyValue(key, self.internal.values(uow, key))

    def get_values_by_prefix(self, ctx: CallContext, prefix: str) -> list[TenantKeyValue]:
        with self.db.read(ctx) as uow:
            grouped = self.internal.values_by_prefix(uow, prefix)
        return [TenantKeyValue(k, v) for k, v in grouped.items()]

    def add_value(self, ctx: CallContext, key: str, value: str, *, replace: bool = False) -> TenantKeyValue:
        """Add a value under `key` (Kill Bill keeps several for some keys, one for others)."""
        with self.db.transaction(ctx) as uow:
            values = self.internal.add_value(uow, key, value, replace=replace)
        return TenantKeyValue(key, values)

    def upload_config(self, ctx: CallContext, raw: str) -> TenantKeyValue:
        """`uploadPerTenantConfiguration`: a JSON object of Kill Bill property names to values; a bad value is a
        400 naming the property, and nothing is stored."""
        with self.db.transaction(ctx) as uow:
            values = self.internal.upload_config(uow, raw)
        return TenantKeyValue(PER_TENANT_CONFIG, values)

    def settings(self, ctx: CallContext) -> TenantSettings:
        with self.db.read(ctx) as uow:
            return self.internal.settings(uow)

    def delete_key(self, ctx: CallContext, key: str, value: str | None = None) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.deactivate(uow, key, value)
