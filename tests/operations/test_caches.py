"""Cache invalidation by name, by tenant and by account (Kill Bill's AdminResource `invalidatesCache*`)."""

from __future__ import annotations

import pytest

from billow.app import Billow
from billow.core.context import CallContext
from billow.operations.caches import CACHE_NAMES, CacheAdmin

CTX = CallContext(user_name="tests").for_tenant(7, "tenant-7")


def _admin() -> tuple[CacheAdmin, list[tuple[str, object]]]:
    calls: list[tuple[str, object]] = []
    admin = CacheAdmin(by_tenant={"tenant-catalog": lambda t: calls.append(("tenant-catalog", t)),
                                  "tenant-kv": lambda t: calls.append(("tenant-kv", t)),
                                  "object-id": lambda t: calls.append(("object-id", t))},
                       by_account={"account-bcd": lambda t, a: calls.append(("account-bcd", (t, a)))})
    return admin, calls


def test_one_cache_by_name_or_all_of_them() -> None:
    admin, calls = _admin()
    assert admin.invalidate(CTX, "tenant-kv")
    assert calls == [("tenant-kv", None)]
    calls.clear()
    assert admin.invalidate(CTX, None)
    assert sorted(calls) == [("object-id", None), ("tenant-catalog", None), ("tenant-kv", None)]
    assert admin.invalidate(CTX, "account-bcd")  # a known name with nothing to forget by tenant


def test_an_unknown_cache_name_is_refused() -> None:
    admin, calls = _admin()
    assert not admin.invalidate(CTX, "no-such-cache")
    assert calls == []
    with pytest.raises(ValueError):
        CacheAdmin(by_tenant={"mine": lambda t: None})
    assert "tenant-catalog" in CACHE_NAMES


def test_the_tenants_and_the_accounts_caches() -> None:
    admin, calls = _admin()
    admin.invalidate_tenant(CTX)
    assert sorted(calls) == [("tenant-catalog", 7), ("tenant-kv", 7)]  # object-id is not a tenant cache
    calls.clear()
    admin.invalidate_account(CTX, "acct")
    assert calls == [("account-bcd", (7, "acct"))]


def test_the_catalog_cache_is_forgotten_for_the_tenant(billow: Billow, tenant_ctx: CallContext) -> None:
    from pathlib import Path

    catalog = (Path(__file__).parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
    billow.catalogs.upload(tenant_ctx, catalog)
    billow.catalogs.catalog(tenant_ctx)
    cached = billow.catalogs.internal._catalogs._cache
    assert tenant_ctx.tenant in cached
    billow.caches.invalidate_tenant(tenant_ctx)
    assert tenant_ctx.tenant not in cached
    billow.catalogs.catalog(tenant_ctx)
    billow.caches.invalidate(tenant_ctx, "tenant-catalog")
    assert tenant_ctx.tenant not in cached
    assert billow.catalogs.catalog(tenant_ctx) is not None  # read again
