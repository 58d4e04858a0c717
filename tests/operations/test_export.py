"""The account export: Kill Bill's format (`CSVExportOutputStream`, `TestCSVExportOutputStream`,
`TestDatabaseExportDao`) and every row of one account, gathered from each service (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billow.account.model import AccountData
from billow.core.context import CallContext
from billow.core.db.export import TableDump
from billow.core.errors import NotFound
from billow.operations.export import cell, to_csv
from tests.invoice.scenarios import World, invoices_of


def test_values_are_written_as_kill_bill_writes_them() -> None:
    assert [cell(v) for v in (None, True, False, 35, D("10.500000000"), date(2024, 1, 31))] == [
        "", "true", "false", "35", "10.500000000", "2024-01-31"]
    assert cell(datetime(1970, 5, 24, 18, 33, 2, 123456, tzinfo=UTC)) == "1970-05-24T18:33:02.123+00:00"
    assert cell(b"ZV\x00\x00\x04cafe") == "WlYAAARjYWZl"
    assert cell("Jørgen") == "Jørgen"
    assert cell("a|B") == "a\\N{VERTICAL LINE}B"
    assert cell("q\nw") == "q\\N{LINE FEED}w"


def test_tables_by_name_with_their_header_and_no_empty_table() -> None:
    dumps = [TableDump("zeta", ("record_id", "name"), [(1, "x|y"), (2, None)]),
             TableDump("empty", ("record_id",), []),
             TableDump("alpha", ("record_id", "flag"), [(7, True)])]
    assert to_csv(dumps) == ("-- alpha record_id|flag\n7|true\n"
                             "-- zeta record_id|name\n1|x\\N{VERTICAL LINE}y\n2|\n")


def _csv_tables(text: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("-- "):
            current = line.split(" ")[1]
            tables[current] = [line.split(" ", 2)[2]]
        else:
            tables[current].append(line)
    return tables


def test_every_row_of_the_account_and_none_of_another(w: World) -> None:
    w.create("silver-monthly")
    [invoice] = invoices_of(w)
    other = w.kb.accounts.create(w.ctx, AccountData(name="Other", currency="USD"))
    text = w.kb.export.csv(w.ctx, w.account.id)
    tables = _csv_tables(text)
    assert list(tables) == sorted(tables)
    for name in ("accounts", "accounts_history", "bundles", "subscriptions", "subscription_events", "invoices",
                 "invoice_items", "invoices_history", "invoice_items_history", "audit_log", "bus_events_history",
                 "invoice_schedule"):
        assert name in tables, name
    header = tables["accounts"][0].split("|")
    assert header[:2] == ["record_id", "id"]
    [row] = tables["accounts"][1:]
    assert row.split("|")[header.index("id")] == w.account.id
    assert row.split("|")[header.index("tenant_record_id")] == str(w.ctx.tenant_record_id)
    invoice_ids = [r.split("|")[tables["invoices"][0].split("|").index("id")] for r in tables["invoices"][1:]]
    assert invoice_ids == [invoice.id]
    assert other.id not in text
    assert "invoice_parent_children" not in tables


def test_another_tenant_cannot_export_the_account(w: World) -> None:
    tenant = w.kb.tenants.create(CallContext(user_name="t"), f"t-{uuid.uuid4().hex[:12]}", "s")
    with pytest.raises(NotFound):
        w.kb.export.csv(CallContext(user_name="t").for_tenant(tenant.record_id, tenant.id), w.account.id)
    with pytest.raises(NotFound):
        w.kb.export.csv(w.ctx, str(uuid.uuid4()))


def test_the_parent_account_exports_its_parent_child_links(w: World) -> None:
    from billow.entitlement.model import SubscriptionRequest

    child = w.kb.accounts.create(w.ctx, AccountData(name="Child", currency="USD", parent_account_id=w.account.id,
                                                    is_payment_delegated_to_parent=True))
    w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=child.id, plan_name="silver-monthly")])
    assert w.kb.run_until_idle(20)
    tables = _csv_tables(w.kb.export.csv(w.ctx, w.account.id))
    header = tables["invoice_parent_children"][0].split("|")
    [link] = tables["invoice_parent_children"][1:]
    assert link.split("|")[header.index("child_account_id")] == child.id
    assert "invoice_parent_children" not in _csv_tables(w.kb.export.csv(w.ctx, child.id))
