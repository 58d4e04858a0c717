"""Each tenant's overdue configuration, stored as Kill Bill stores it (the tenant key `OVERDUE_CONFIG`, one XML
value) and parsed once per stored change (`DefaultOverdueConfigCache`): the fingerprint of the stored value is one
indexed query on the caller's connection, so a change made on another node is seen at once.
"""

from __future__ import annotations

from billow.core.db import UnitOfWork
from billow.overdue.model import OverdueConfig, OverdueState
from billow.overdue.xml import load_overdue_xml
from billow.tenant.internal import TenantInternalApi
from billow.tenant.parsed import ParsedTenantValues

OVERDUE_KEY = "OVERDUE_CONFIG"
# Kill Bill's NoOverdueConfig.xml (`org.killbill.overdue.uri` default): one clear state without a condition
NO_OVERDUE_CONFIG = OverdueConfig((OverdueState("Clear", is_clear=True),))


def _parse(uow: UnitOfWork, documents: list[str]) -> OverdueConfig:
    return load_overdue_xml(documents[0]) if documents else NO_OVERDUE_CONFIG


class OverdueConfigs:
    def __init__(self, tenants: TenantInternalApi) -> None:
        self.tenants = tenants
        self._configs = ParsedTenantValues(tenants, OVERDUE_KEY, _parse)

    def config(self, uow: UnitOfWork) -> OverdueConfig:
        """The tenant's configuration (Kill Bill's default, which never blocks, when none was uploaded)."""
        return self._configs.get(uow)

    def store(self, uow: UnitOfWork, document: str) -> None:
        """Replace the tenant's configuration with an XML document the caller validated (Kill Bill keeps the text
        uploaded; a JSON upload is stored as its XML)."""
        self.tenants.add_value(uow, OVERDUE_KEY, document, replace=True)

    def forget(self, tenant_record_id: int | None = None) -> None:
        self._configs.forget(tenant_record_id)
