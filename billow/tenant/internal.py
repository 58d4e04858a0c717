"""The tenant service's internal API: per-tenant key/values read and written in the caller's unit of work.

Services above (catalog, push notifications, invoice presentation, configuration) keep their per-tenant
documents here, as Kill Bill keeps them in `TenantKV` (`TenantInternalApi`, `TenantUserApi`).
"""

from __future__ import annotations

from collections.abc import Mapping

from billow.core.db import UnitOfWork
from billow.tenant import store
from billow.tenant.events import TenantConfigChangeEvent, TenantConfigDeletionEvent
from billow.tenant.settings import PER_TENANT_CONFIG, SettingsReader, TenantSettings, parse_per_tenant_config

_FINGERPRINTS = "tenant-values-fingerprints"


class TenantInternalApi:
    def __init__(self, server_properties: Mapping[str, str] | None = None) -> None:
        # the tenants' configuration (Kill Bill's per-tenant properties over the server's)
        self.settings_reader = SettingsReader(self, server_properties)
        self._watched: frozenset[str] = frozenset()  # the keys whose fingerprints were asked for

    def settings(self, uow: UnitOfWork) -> TenantSettings:
        """The tenant's configuration properties (its own over the server's over Kill Bill's defaults), parsed
        once per change of its document."""
        return self.settings_reader.read(uow)

    def upload_config(self, uow: UnitOfWork, raw: str) -> list[str]:
        """`uploadPerTenantConfiguration`: the document replaces the tenant's; a bad property value is refused
        (InvalidInput naming it) and nothing is stored."""
        parse_per_tenant_config(raw)
        return self.add_value(uow, PER_TENANT_CONFIG, raw, replace=True)

    def tenant_id(self, uow: UnitOfWork) -> str:
        """The caller's tenant's id (the UUID the API shows): system contexts carry only the record id."""
        return uow.ctx.tenant_id or store.tenant_id_of(uow.conn, uow.tenant) or str(uow.tenant)

    def values(self, uow: UnitOfWork, key: str) -> list[str]:
        """The active values of `key`, oldest first."""
        return [r["tenant_value"] for r in store.active_values(uow.conn, uow.tenant, key)]

    def first_value(self, uow: UnitOfWork, key: str) -> str | None:
        values = self.values(uow, key)
        return values[0] if values else None

    def values_fingerprint(self, uow: UnitOfWork, key: str) -> tuple[int, int]:
        """Changes whenever the values of `key` change (to keep parsed documents cached). Read once per unit of
        work for every key asked so far (the catalog, the configuration, the push callbacks, ...): a
        transaction then sees one state of its tenant's documents, and pays one query for all of them."""
        memo_key = (_FINGERPRINTS, uow.tenant)
        known: dict[str, tuple[int, int]] | None = uow.memo.get(memo_key)
        if known is None or key not in known:
            if key not in self._watched:
                self._watched = self._watched | {key}  # rebound, not changed: other threads iterate it
            known = store.values_fingerprints(uow.conn, uow.tenant, sorted(self._watched))
            uow.memo[memo_key] = known
        return known[key]

    def values_by_prefix(self, uow: UnitOfWork, prefix: str) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for r in store.active_values_by_prefix(uow.conn, uow.tenant, prefix):
            grouped.setdefault(r["tenant_key"], []).append(r["tenant_value"])
        return grouped

    def add_value(self, uow: UnitOfWork, key: str, value: str, *, replace: bool = False) -> list[str]:
        """Add a value under `key` (Kill Bill keeps several for some keys; `replace` keeps one)."""
        if replace:
            self.deactivate(uow, key, announce=False)
        uow.memo.pop((_FINGERPRINTS, uow.tenant), None)
        uow.insert("tenant_kvs", {"tenant_key": key, "tenant_value": value, "is_active": True})
        uow.post(TenantConfigChangeEvent(tenant_record_id=uow.tenant, object_id=uow.ctx.tenant_id,
                                         user_token=uow.ctx.user_token, key=key))
        return self.values(uow, key)

    def deactivate(self, uow: UnitOfWork, key: str, value: str | None = None, *, announce: bool = True) -> int:
        """Remove the values of `key` (or one of them); TENANT_CONFIG_DELETION announces it."""
        removed = 0
        for r in store.active_values(uow.conn, uow.tenant, key):
            if value is None or r["tenant_value"] == value:
                uow.memo.pop((_FINGERPRINTS, uow.tenant), None)
                uow.update("tenant_kvs", r["record_id"], {"is_active": False})
                removed += 1
        if removed and announce:
            uow.post(TenantConfigDeletionEvent(tenant_record_id=uow.tenant, object_id=uow.ctx.tenant_id,
                                               user_token=uow.ctx.user_token, key=key))
        return removed
