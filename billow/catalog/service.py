"""The catalog service: each tenant's catalog versions, stored as Kill Bill stores them.

Kill Bill keeps every uploaded catalog version as one value of the tenant
key `CATALOG` (`TenantKV.TenantKey.CATALOG`); a simple plan replaces the set
with one rewritten version (`DefaultCatalogUserApi.addSimplePlan`). Parsed
catalogs are cached per tenant (`internal.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from billow.catalog.defaults import default_catalog_xml
from billow.catalog.errors import CATALOG_EXCEPTION, CatalogApiError, CatalogValidationError, ErrorCode
from billow.catalog.internal import CATALOG_KEY, CatalogInternalApi
from billow.catalog.model import Catalog, CatalogVersion
from billow.catalog.simple_plan import SimplePlan, add_simple_plan, empty_version, safe_first_effective_date
from billow.catalog.versions import add_version
from billow.catalog.xml import MAX_CATALOG_BYTES, dump_xml, load_version_xml
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.errors import BillowError, InvalidInput
from billow.tenant.service import TenantService

CAT_INVALID_FOR_TENANT = ErrorCode.CAT_INVALID_FOR_TENANT.code


def invalid_catalog(errors: CatalogValidationError) -> InvalidInput:
    messages = [str(m) for m in errors.errors] or [str(errors)]
    return InvalidInput("Invalid catalog: " + "; ".join(messages), code=CAT_INVALID_FOR_TENANT,
                        class_name=CATALOG_EXCEPTION)


def catalog_api_error(exc: CatalogApiError) -> BillowError:
    return BillowError(exc.message, code=exc.code, class_name=CATALOG_EXCEPTION, status=400)


class CatalogService:
    """The user API: each call is one unit of work. Services above read the catalog through `internal`
    (`CatalogInternalApi`) in their own unit of work."""

    def __init__(self, db: Database, tenants: TenantService, internal: CatalogInternalApi) -> None:
        self.db = db
        self.tenants = tenants
        self.internal = internal

    # -- reads --------------------------------------------------------------------------------
    def catalog(self, ctx: CallContext) -> Catalog | None:
        """The tenant's catalog (None when nothing was uploaded)."""
        with self.db.read(ctx) as uow:
            return self.internal.catalog(uow)

    def catalog_or_empty(self, ctx: CallContext) -> Catalog:
        """What GET /catalog shows: the catalog, or Kill Bill's empty template for a new tenant."""
        catalog = self.catalog(ctx)
        if catalog is not None and len(catalog) > 0:
            return catalog
        tenant = self.tenants.get(ctx.tenant_id or "")
        return Catalog.of([empty_version(tenant.created_date - timedelta(days=1))])

    def version_at(self, ctx: CallContext, when: datetime) -> CatalogVersion:
        with self.db.read(ctx) as uow:
            return self.internal.version_at(uow, when)

    def current_version(self, ctx: CallContext) -> CatalogVersion | None:
        """The version in force now (None without a catalog)."""
        with self.db.read(ctx) as uow:
            catalog = self.internal.catalog(uow)
            return catalog.version_for_date(uow.now) if catalog is not None and len(catalog) else None

    def versions_at(self, ctx: CallContext, when: datetime | None) -> list[CatalogVersion]:
        """Every version (no date), or the one in force at `when` (Kill Bill's `getCatalogJson`)."""
        catalog = self.catalog_or_empty(ctx)
        return [catalog.version_for_date(when)] if when is not None else list(catalog.versions)

    # -- writes -------------------------------------------------------------------------------
    def parse(self, document: str | bytes) -> CatalogVersion:
        try:
            return load_version_xml(document, max_bytes=MAX_CATALOG_BYTES)
        except CatalogValidationError as exc:
            raise invalid_catalog(exc) from None

    def validate(self, ctx: CallContext, document: str | bytes) -> list[str]:
        """Every problem of `document` as a new version of the tenant's catalog (empty when valid)."""
        try:
            version = load_version_xml(document, max_bytes=MAX_CATALOG_BYTES)
            add_version(self.catalog(ctx), version)
        except CatalogValidationError as exc:
            return [m.description if not m.path else str(m) for m in exc.errors]
        return []

    def upload(self, ctx: CallContext, document: str | bytes) -> CatalogVersion:
        """Add a version (Kill Bill's `uploadCatalog`); the whole set is validated first."""
        version = self.parse(document)
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        with self.db.transaction(ctx) as uow:
            try:
                add_version(self.internal.catalog(uow), version)
            except CatalogValidationError as exc:
                raise invalid_catalog(exc) from None
            self.tenants.internal.add_value(uow, CATALOG_KEY, text, replace=False)
        return version

    def upload_default(self, ctx: CallContext) -> CatalogVersion:
        """Kill Bill's `useGlobalDefault=true`: the tenant starts with Billow's default catalog."""
        return self.upload(ctx, default_catalog_xml())

    def add_simple_plan(self, ctx: CallContext, body: dict[str, Any]) -> CatalogVersion:
        with self.db.transaction(ctx) as uow:
            try:
                desc = SimplePlan.from_json(body)
                catalog = self.internal.catalog(uow)
                current = catalog.current_version if catalog is not None else None
                if current is not None and current.is_template:
                    current = None
                version = add_simple_plan(current, desc, safe_first_effective_date(uow.now))
            except CatalogValidationError as exc:
                raise invalid_catalog(exc) from None
            except CatalogApiError as exc:
                raise catalog_api_error(exc) from None
            self.tenants.internal.add_value(uow, CATALOG_KEY, dump_xml(version), replace=True)
        return version

    def delete(self, ctx: CallContext) -> None:
        """Remove the tenant's catalog (Kill Bill's `deleteCatalog` allows it at any time)."""
        self.tenants.delete_key(ctx, CATALOG_KEY)
