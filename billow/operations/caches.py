"""Cache invalidation (`DELETE /1.0/kb/admin/cache`, `.../cache/tenants`, `.../cache/accounts/{id}`).

Kill Bill's caches have names (`util/.../cache/Cachable.CacheType`); its AdminResource clears one by name,
all of them, those of the calling tenant, or those of one account. Billow keeps few caches: each service that
keeps one registers how to forget it under Kill Bill's name (today the catalog service: `tenant-catalog`,
`billow/catalog/internal.py`). The other names are known and have nothing to forget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from billow.core.context import CallContext

log = logging.getLogger("billow.operations")

# Kill Bill 0.24's cache names (CacheType), all known to the API.
CACHE_NAMES = ("record-id", "account-record-id", "tenant-record-id", "object-id", "tenant-catalog",
               "tenant-payment-state-machine-config", "tenant-overdue-config", "tenant-config", "tenant-kv",
               "tenant", "overridden-plan", "account-immutable", "account-bcd", "account-id-from-bundle-id",
               "bundle-id-from-subscription-id")
# What `invalidatesCacheByTenant` clears, and `invalidatesCacheByAccount`.
TENANT_CACHES = ("tenant-record-id", "tenant-payment-state-machine-config", "tenant", "tenant-kv", "tenant-config",
                 "tenant-overdue-config", "tenant-catalog")
ACCOUNT_CACHES = ("account-record-id", "account-immutable", "account-bcd")

# Forget a cache's entries: of one tenant (its record id), or all of them (None).
ForgetTenant = Callable[[int | None], None]
# Forget an account's entries: (tenant record id, account id).
ForgetAccount = Callable[[int, str], None]


class CacheAdmin:
    def __init__(self, *, by_tenant: dict[str, ForgetTenant] | None = None,
                 by_account: dict[str, ForgetAccount] | None = None) -> None:
        unknown = (set(by_tenant or ()) | set(by_account or ())) - set(CACHE_NAMES)
        if unknown:
            raise ValueError(f"not Kill Bill cache names: {sorted(unknown)}")
        self.by_tenant = dict(by_tenant or {})
        self.by_account = dict(by_account or {})

    def invalidate(self, ctx: CallContext, cache_name: str | None) -> bool:
        """Clear one cache by name (all tenants), or every cache when no name is given. False for a name
        Kill Bill does not know (it answers 400)."""
        if cache_name:
            if cache_name not in CACHE_NAMES:
                log.warning("cache %r does not exist", cache_name)
                return False
            names: tuple[str, ...] = (cache_name,)
        else:
            names = CACHE_NAMES
        for name in names:
            forget = self.by_tenant.get(name)
            if forget is not None:
                forget(None)
        log.info("caches cleared: %s", ", ".join(names))
        return True

    def invalidate_tenant(self, ctx: CallContext) -> None:
        """Clear the calling tenant's entries of the tenant caches."""
        for name in TENANT_CACHES:
            forget = self.by_tenant.get(name)
            if forget is not None:
                forget(ctx.tenant)

    def invalidate_account(self, ctx: CallContext, account_id: str) -> None:
        """Clear one account's entries of the account caches."""
        for name in ACCOUNT_CACHES:
            forget = self.by_account.get(name)
            if forget is not None:
                forget(ctx.tenant, account_id)
