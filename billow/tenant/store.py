"""SQL for the tenant service's tables: `tenants` and `tenant_kvs` (Kill Bill's names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Connection, String, Text, bindparam, func, select

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import audited_table

tenants = audited_table(
    "tenants", "TENANT",
    Column("external_key", String(255), nullable=True, unique=True),
    Column("api_key", String(128), nullable=False, unique=True),
    Column("api_secret", String(255), nullable=False),  # argon2 hash, never returned
    account_owned=False, tenant_scoped=False, tenant_self=True,
)

# Per-tenant key/values: configuration, push-notification callbacks, catalog versions,
# invoice templates... (Kill Bill keeps all of these in `tenant_kvs`).
tenant_kvs = audited_table(
    "tenant_kvs", "TENANT_KVS",
    Column("tenant_key", String(255), nullable=False, index=True),
    Column("tenant_value", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    account_owned=False,
)


def tenant_by_api_key(conn: Connection, api_key: str) -> dict[str, Any] | None:
    t = tenants.table
    row = conn.execute(select(t).where(t.c.api_key == api_key)).first()
    return dict(row._mapping) if row else None


def tenant_id_of(conn: Connection, tenant_record_id: int) -> str | None:
    t = tenants.table
    return conn.execute(select(t.c.id).where(t.c.record_id == tenant_record_id)).scalar_one_or_none()


def tenant_by_id(conn: Connection, tenant_id: str) -> dict[str, Any] | None:
    t = tenants.table
    row = conn.execute(select(t).where(t.c.id == tenant_id)).first()
    return dict(row._mapping) if row else None


def tenant_by_external_key(conn: Connection, external_key: str) -> dict[str, Any] | None:
    t = tenants.table
    row = conn.execute(select(t).where(t.c.external_key == external_key)).first()
    return dict(row._mapping) if row else None


def active_values(conn: Connection, tenant_record_id: int, key: str) -> list[dict[str, Any]]:
    kv = tenant_kvs.table
    rows = conn.execute(
        select(kv)
        .where(kv.c.tenant_record_id == tenant_record_id, kv.c.tenant_key == key, kv.c.is_active.is_(True))
        .order_by(kv.c.record_id)
    )
    return [dict(r._mapping) for r in rows]


def active_values_by_prefix(conn: Connection, tenant_record_id: int, prefix: str) -> list[dict[str, Any]]:
    kv = tenant_kvs.table
    rows = conn.execute(
        select(kv)
        .where(kv.c.tenant_record_id == tenant_record_id, kv.c.tenant_key.startswith(prefix, autoescape=True),
               kv.c.is_active.is_(True))
        .order_by(kv.c.record_id)
    )
    return [dict(r._mapping) for r in rows]


_VALUES_FINGERPRINTS = Prepared(lambda dialect: select(
    tenant_kvs.table.c.tenant_key, func.count(), func.max(tenant_kvs.table.c.record_id))
    .where(tenant_kvs.table.c.tenant_record_id == bindparam("tenant"),
           in_param(dialect, tenant_kvs.table.c.tenant_key, "keys"), tenant_kvs.table.c.is_active.is_(True))
    .group_by(tenant_kvs.table.c.tenant_key))


def values_fingerprints(conn: Connection, tenant_record_id: int, keys: list[str]) -> dict[str, tuple[int, int]]:
    """(count, highest record id) of each key's active values, in one query: changes whenever its values
    change."""
    rows = conn.execute(_VALUES_FINGERPRINTS(conn), {"tenant": tenant_record_id, "keys": list(keys)})
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    return {k: found.get(k, (0, 0)) for k in keys}

