"""A tenant document parsed once per stored change, for every node: the values of one tenant key are parsed when
their fingerprint (one small indexed query on the caller's connection) differs from the one the cache holds, so a
change made on any node is seen by every node at its next read. Kill Bill keeps such caches per tenant (its
`tenant-catalog`, `tenant-overdue-config`, `tenant-kv` caches); `forget` is its invalidation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from billow.core.db import UnitOfWork

T = TypeVar("T")


class TenantValues(Protocol):
    """What the cache reads (`TenantInternalApi`'s two methods)."""

    def values(self, uow: UnitOfWork, key: str) -> list[str]: ...

    def values_fingerprint(self, uow: UnitOfWork, key: str) -> tuple[int, int]: ...


class ParsedTenantValues(Generic[T]):
    def __init__(self, tenants: TenantValues, key: str, parse: Callable[[UnitOfWork, list[str]], T]) -> None:
        """`parse(uow, values)` gets the key's active values, oldest first (an empty list when none is stored)."""
        self.tenants = tenants
        self.key = key
        self.parse = parse
        self._cache: dict[int, tuple[tuple[int, int], T]] = {}
        self._lock = threading.Lock()

    def get(self, uow: UnitOfWork) -> T:
        fingerprint = self.tenants.values_fingerprint(uow, self.key)
        with self._lock:
            cached = self._cache.get(uow.tenant)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        parsed = self.parse(uow, self.tenants.values(uow, self.key))
        with self._lock:
            self._cache[uow.tenant] = (fingerprint, parsed)
        return parsed

    def forget(self, tenant_record_id: int | None = None) -> None:
        with self._lock:
            if tenant_record_id is None:
                self._cache.clear()
            else:
                self._cache.pop(tenant_record_id, None)
