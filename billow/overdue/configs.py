"""Each tenant's overdue configuration, stored as Kill Bill stores it (the tenant key `OVERDUE_CONFIG`, one XML
value) and parsed once per stored change (`DefaultOverdueConfigCache`): the fingerprint of the stored value is one
indexed query on the caller's connection, so a change made on another node is seen at once.
"""

from __future__ import annotations

import threading

from billow.core.db import UnitOfWork
from billow.overdue.model import OverdueConfig, OverdueState
from billow.overdue.xml import load_overdue_xml
from billow.tenant.internal import TenantInternalApi

OVERDUE_KEY = "OVERDUE_CONFIG"
# Kill Bill's NoOverdueConfig.xml (`org.killbill.overdue.uri` default): one clear state without a condition
NO_OVERDUE_CONFIG = OverdueConfig((OverdueState("Clear", is_clear=True),))


class OverdueConfigs:
    def __init__(self, tenants: TenantInternalApi) -> None:
        self.tenants = tenants
        self._cache: dict[int, tuple[tuple[int, int], OverdueConfig]] = {}
        self._lock = threading.Lock()

    def config(self, uow: UnitOfWork) -> OverdueConfig:
        """The tenant's configuration (Kill Bill's default, which never blocks, when none was uploaded)."""
        fingerprint = self.tenants.values_fingerprint(uow, OVERDUE_KEY)
        with self._lock:
            cached = self._cache.get(uow.tenant)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        document = self.tenants.first_value(uow, OVERDUE_KEY)
        config = load_overdue_xml(document) if document else NO_OVERDUE_CONFIG
        with self._lock:
            self._cache[uow.tenant] = (fingerprint, config)
        return config

    def store(self, uow: UnitOfWork, document: str) -> None:
        """Replace the tenant's configuration with an XML document the caller validated (Kill Bill keeps the text
        uploaded; a JSON upload is stored as its XML)."""
        self.tenants.add_value(uow, OVERDUE_KEY, document, replace=True)

    def forget(self, tenant_record_id: int | None = None) -> None:
        with self._lock:
            if tenant_record_id is None:
                self._cache.clear()
            else:
                self._cache.pop(tenant_record_id, None)
