"""The catalog service's internal API: the tenant's catalog in the caller's unit of work.

Parsed catalogs are cached per tenant and re-read only when the stored versions change (their
fingerprint is one indexed query on the caller's connection, so a change made on another node is seen
at once). Kill Bill's `CatalogInternalApi` with its `CatalogCache`.
"""

from __future__ import annotations

import threading
from datetime import datetime

from billow.catalog.errors import CATALOG_EXCEPTION, ErrorCode
from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.xml import load_version_xml
from billow.core.db import UnitOfWork
from billow.core.errors import BillowError
from billow.tenant.internal import TenantInternalApi

CATALOG_KEY = "CATALOG"


def no_catalog_for(when: datetime) -> BillowError:
    return BillowError(f"There is no catalog version that applies for the given date '{when}'",
                       code=ErrorCode.CAT_NO_CATALOG_FOR_GIVEN_DATE.code, class_name=CATALOG_EXCEPTION, status=400)


class CatalogInternalApi:
    def __init__(self, tenants: TenantInternalApi) -> None:
        self.tenants = tenants
        self._cache: dict[int, tuple[tuple[int, int], Catalog | None]] = {}
        self._lock = threading.Lock()

    def catalog(self, uow: UnitOfWork) -> Catalog | None:
        """The tenant's catalog (None when nothing was uploaded), parsed once per stored change."""
        fingerprint = self.tenants.values_fingerprint(uow, CATALOG_KEY)
        with self._lock:
            cached = self._cache.get(uow.tenant)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        documents = self.tenants.values(uow, CATALOG_KEY)
        catalog = Catalog.of([load_version_xml(doc, validate=False) for doc in documents]) if documents else None
        with self._lock:
            self._cache[uow.tenant] = (fingerprint, catalog)
        return catalog

    def version_at(self, uow: UnitOfWork, when: datetime) -> CatalogVersion:
        catalog = self.catalog(uow)
        if catalog is None or len(catalog) == 0:
            raise no_catalog_for(when)
        return catalog.version_for_date(when)

    def forget(self, tenant_record_id: int | None = None) -> None:
        """Drop cached catalogs (of one tenant, or all): Kill Bill's cache invalidation."""
        with self._lock:
            if tenant_record_id is None:
                self._cache.clear()
            else:
                self._cache.pop(tenant_record_id, None)
