"""The catalog service's internal API: the tenant's catalog in the caller's unit of work.

Parsed catalogs are cached per tenant and re-read only when the stored versions change (their
fingerprint is one indexed query on the caller's connection, so a change made on another node is seen
at once). Kill Bill's `CatalogInternalApi` with its `CatalogCache`.
"""

from __future__ import annotations

from datetime import datetime

from billow.catalog.errors import CATALOG_EXCEPTION, ErrorCode
from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.xml import load_version_xml
from billow.core.db import UnitOfWork
from billow.core.errors import BillowError
from billow.tenant.internal import TenantInternalApi
from billow.tenant.parsed import ParsedTenantValues

CATALOG_KEY = "CATALOG"


def no_catalog_for(when: datetime) -> BillowError:
    return BillowError(f"There is no catalog version that applies for the given date '{when}'",
                       code=ErrorCode.CAT_NO_CATALOG_FOR_GIVEN_DATE.code, class_name=CATALOG_EXCEPTION, status=400)


def _parse_catalog(uow: UnitOfWork, documents: list[str]) -> Catalog | None:
    return Catalog.of([load_version_xml(doc, validate=False) for doc in documents]) if documents else None


class CatalogInternalApi:
    def __init__(self, tenants: TenantInternalApi) -> None:
        self.tenants = tenants
        self._catalogs = ParsedTenantValues(tenants, CATALOG_KEY, _parse_catalog)

    def catalog(self, uow: UnitOfWork) -> Catalog | None:
        """The tenant's catalog (None when nothing was uploaded), parsed once per stored change."""
        return self._catalogs.get(uow)

    def version_at(self, uow: UnitOfWork, when: datetime) -> CatalogVersion:
        catalog = self.catalog(uow)
        if catalog is None or len(catalog) == 0:
            raise no_catalog_for(when)
        return catalog.version_for_date(when)

    def forget(self, tenant_record_id: int | None = None) -> None:
        """Drop cached catalogs (of one tenant, or all): Kill Bill's cache invalidation."""
        self._catalogs.forget(tenant_record_id)
