"""`ParsedTenantValues`: a tenant key's values parsed once per stored change, per tenant, and forgotten on demand."""

from __future__ import annotations

from billow.app import Billow
from billow.core.context import CallContext
from billow.core.db import UnitOfWork
from billow.tenant.parsed import ParsedTenantValues


def test_parsed_once_per_change_and_per_tenant(billow: Billow, tenant_ctx: CallContext) -> None:
    parses: list[list[str]] = []

    def parse(uow: UnitOfWork, values: list[str]) -> str:
        parses.append(values)
        return "|".join(values)

    cache = ParsedTenantValues(billow.tenants.internal, "TEST_PARSED", parse)

    def read() -> str:
        with billow.db.read(tenant_ctx) as uow:
            return cache.get(uow)

    assert read() == read() == ""
    billow.tenants.add_value(tenant_ctx, "TEST_PARSED", "a", replace=True)
    assert read() == read() == "a"
    billow.tenants.add_value(tenant_ctx, "TEST_PARSED", "b", replace=True)
    assert read() == "b"
    assert parses == [[], ["a"], ["b"]]
    cache.forget(tenant_ctx.tenant_record_id)
    assert read() == "b" and len(parses) == 4
