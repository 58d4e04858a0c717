"""The last check before a row is written (billow/core/db/checks.py): every value fits its column, on SQLite as on
PostgreSQL, and a refused row leaves nothing behind (row, history or audit)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billow.app import Billow
from billow.core.context import CallContext
from billow.core.db.checks import check_rows, field_name
from billow.core.db.schema import AUDITED, audit_log
from billow.core.errors import InvalidInput


def test_each_column_type_is_checked() -> None:
    items = AUDITED["invoice_items"].table
    check_rows(items, [{"description": "d" * 255, "amount": Decimal("999999.99"), "account_record_id": 2**63 - 1}])
    for row, message in [
        ({"description": "d" * 256}, "description: longer than 255 characters"),
        ({"plan_name": "a\x00"}, "planName: contains a NUL character"),
        ({"amount": Decimal("1000000")}, "amount: 1000000 is out of range"),
        ({"account_record_id": 2**63}, "accountRecordId: 9223372036854775808 is out of range (a 64-bit integer)"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            check_rows(items, [row])
        assert refused.value.message.startswith(message), refused.value.message
    subscriptions_events = AUDITED["subscription_events"].table
    with pytest.raises(InvalidInput, match=r"^quantity: .* \(a 32-bit integer\)"):
        check_rows(subscriptions_events, [{"quantity": 2**31}])
    assert field_name("state_or_province") == "stateOrProvince"


def test_a_refused_row_writes_nothing(billow: Billow, tenant_ctx: CallContext) -> None:
    def counts() -> tuple[int, int]:
        with billow.db.read_connection() as conn:
            kvs = conn.execute(select(func.count()).select_from(AUDITED["tenant_kvs"].table).where(
                AUDITED["tenant_kvs"].table.c.tenant_record_id == tenant_ctx.tenant)).scalar_one()
            audits = conn.execute(select(func.count()).select_from(audit_log).where(
                audit_log.c.tenant_record_id == tenant_ctx.tenant)).scalar_one()
        return int(kvs), int(audits)

    before = counts()
    with pytest.raises(InvalidInput, match="^tenantKey: longer than 255"):
        billow.tenants.add_value(tenant_ctx, "k" * 256, "v")
    with pytest.raises(InvalidInput, match="^tenantValue: contains a NUL"):
        billow.tenants.add_value(tenant_ctx, "k", "v\x00")
    # who and why go into the audit rows: they must fit there too
    with pytest.raises(InvalidInput, match="^createdBy: longer than 50"):
        billow.tenants.add_value(CallContext(user_name="u" * 51).for_tenant(tenant_ctx.tenant, "t"), "k", "v")
    with pytest.raises(InvalidInput, match="^comments: contains a NUL"):
        billow.tenants.add_value(CallContext(comments="c\x00").for_tenant(tenant_ctx.tenant, "t"), "k", "v")
    assert counts() == before
