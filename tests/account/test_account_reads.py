"""Accounts read by record id once per unit of work (the bus handlers of a pack each ask for the same ones), and
seen afresh after the unit writes them; on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from billow.account.internal import AccountInternalApi
from billow.account.model import AccountData
from billow.app import Billow
from billow.core.context import CallContext


def test_accounts_are_read_once_per_unit_of_work_and_afresh_after_a_write(billow: Billow,
                                                                        tenant_ctx: CallContext) -> None:
    api = AccountInternalApi()
    a = billow.accounts.create(tenant_ctx, AccountData(name="One", currency="USD"))
    b = billow.accounts.create(tenant_ctx, AccountData(name="Two", currency="USD"))
    other = billow.tenants.create(CallContext(user_name="tests"), "other-tenant", "secret")
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM accounts" in statement:
            reads.append(statement)

    sa.event.listen(billow.db.engine, "before_cursor_execute", count)
    try:
        with billow.db.transaction(tenant_ctx) as uow:
            assert set(api.by_record_ids(uow, [a.record_id])) == {a.record_id}
            assert len(reads) == 1
            both = api.by_record_ids(uow, [a.record_id, b.record_id, 10**9])  # only b is read; the unknown too
            assert set(both) == {a.record_id, b.record_id} and len(reads) == 2
            assert api.by_record_id(uow, b.record_id).name == "Two" and len(reads) == 2
            assert api.by_record_id(uow.for_tenant(uow.tenant), a.record_id).name == "One" and len(reads) == 2
            assert api.by_record_ids(uow.for_tenant(other.record_id), [a.record_id]) == {}  # never another tenant's
            assert len(reads) == 3
            api.set_bill_cycle_day(uow, both[a.record_id], 7)  # a write of the table: read afresh after it
            assert api.by_record_id(uow, a.record_id).bill_cycle_day_local == 7
            assert len(reads) == 4
        with billow.db.transaction(tenant_ctx) as uow:  # another unit of work reads again
            api.by_record_ids(uow, [a.record_id, b.record_id])
            assert len(reads) == 5
    finally:
        sa.event.remove(billow.db.engine, "before_cursor_execute", count)
