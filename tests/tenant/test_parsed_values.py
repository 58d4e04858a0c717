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


def test_one_transaction_reads_the_fingerprints_of_all_its_documents_once(billow: Billow,
                                                                          tenant_ctx: CallContext) -> None:
    """The fingerprints of every watched key come in one query per transaction; a value written in the
    transaction is seen by its later reads, and one written by another transaction by the next transaction."""
    import sqlalchemy as sa

    first = ParsedTenantValues(billow.tenants.internal, "TEST_FIRST", lambda _u, v: "|".join(v))
    second = ParsedTenantValues(billow.tenants.internal, "TEST_SECOND", lambda _u, v: "|".join(v))
    with billow.db.read(tenant_ctx) as uow:  # both keys watched from now on
        first.get(uow)
        second.get(uow)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "tenant_kvs" in statement:
            statements.append(statement)

    sa.event.listen(billow.db.engine, "before_cursor_execute", count)
    try:
        with billow.db.transaction(tenant_ctx) as uow:
            assert first.get(uow) == second.get(uow) == first.get(uow) == ""
            assert len(statements) == 1
            billow.tenants.internal.add_value(uow, "TEST_SECOND", "x")
            assert second.get(uow) == "x" and first.get(uow) == ""
        other_node = Billow(billow.db.url, billow.clock)  # a change made elsewhere
        try:
            other_node.tenants.add_value(tenant_ctx, "TEST_FIRST", "y")
        finally:
            other_node.close()
        with billow.db.read(tenant_ctx) as uow:
            assert (first.get(uow), second.get(uow)) == ("y", "x")
    finally:
        sa.event.remove(billow.db.engine, "before_cursor_execute", count)
