"""Audit and history rows are written by the data layer, in the same transaction as the change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billow.account.model import AccountData
from billow.account.store import accounts
from billow.app import Billow
from billow.core.context import CallContext
from billow.core.db.schema import audit_log
from billow.core.errors import Conflict


def _audit_rows(billow: Billow, record_id: int) -> list[dict]:
    with billow.db.read_connection() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.table_name == "accounts",
                                                    audit_log.c.target_record_id == record_id)
                            .order_by(audit_log.c.record_id))
        return [dict(r._mapping) for r in rows]


def _history_rows(billow: Billow, record_id: int) -> list[dict]:
    h = accounts.history
    with billow.db.read_connection() as conn:
        rows = conn.execute(select(h).where(h.c.target_record_id == record_id).order_by(h.c.record_id))
        return [dict(r._mapping) for r in rows]


def test_create_writes_audit_and_history(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Ada", currency="USD", external_key="ada-1"))
    audits = _audit_rows(billow, account.record_id)
    assert [a["change_type"] for a in audits] == ["INSERT"]
    a = audits[0]
    assert a["created_by"] == "tests"
    assert a["reason_code"] == "test"
    assert a["comments"] == "fixture"
    assert a["user_token"] == tenant_ctx.user_token
    assert a["tenant_record_id"] == tenant_ctx.tenant_record_id
    assert a["account_record_id"] == account.record_id
    history = _history_rows(billow, account.record_id)
    assert len(history) == 1
    assert history[0]["record_id"] == a["history_record_id"]
    assert history[0]["name"] == "Ada" and history[0]["currency"] == "USD"
    assert history[0]["change_type"] == "INSERT"


def test_update_writes_new_state_to_history(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Bob", currency="EUR"))
    billow.accounts.update(tenant_ctx, account.id, AccountData(name="Robert", city="Lyon"))
    history = _history_rows(billow, account.record_id)
    assert [h["change_type"] for h in history] == ["INSERT", "UPDATE"]
    assert history[1]["name"] == "Robert" and history[1]["city"] == "Lyon"
    assert history[1]["currency"] == "EUR"  # untouched fields keep their value
    audits = _audit_rows(billow, account.record_id)
    assert [a["change_type"] for a in audits] == ["INSERT", "UPDATE"]
    assert audits[1]["history_record_id"] == history[1]["record_id"]


def test_update_without_change_writes_nothing(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Same"))
    billow.accounts.update(tenant_ctx, account.id, AccountData(name="Same"))
    assert len(_audit_rows(billow, account.record_id)) == 1


def test_failed_change_leaves_no_audit(billow: Billow, tenant_ctx: CallContext) -> None:
    billow.accounts.create(tenant_ctx, AccountData(external_key="dup-key"))
    with billow.db.read_connection() as conn:
        before = len(conn.execute(select(audit_log.c.record_id)).all())
    with pytest.raises(Conflict):
        billow.accounts.create(tenant_ctx, AccountData(external_key="dup-key"))
    with billow.db.read_connection() as conn:
        assert len(conn.execute(select(audit_log.c.record_id)).all()) == before


def test_rollback_discards_row_history_and_audit(billow: Billow, tenant_ctx: CallContext) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), billow.db.transaction(tenant_ctx) as uow:
        row = uow.insert("accounts", {"external_key": "rolled-back", "billing_cycle_day_local": 0,
                                      "is_payment_delegated_to_parent": False, "reference_time": uow.now,
                                      "time_zone": "UTC"})
        raise Boom
    assert _audit_rows(billow, row["record_id"]) == []
    assert _history_rows(billow, row["record_id"]) == []
    with billow.db.read_connection() as conn:
        assert conn.execute(select(accounts.table).where(accounts.table.c.record_id == row["record_id"])).first() \
            is None


def test_audit_logs_read_back_with_history(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Cy", currency="GBP"))
    billow.accounts.update(tenant_ctx, account.id, AccountData(phone="+44 20 7946 0000"))
    logs = billow.accounts.audit_logs(tenant_ctx, account.id, with_history=True)
    assert [entry.change_type for entry in logs] == ["INSERT", "UPDATE"]
    assert logs[0].object_type == "ACCOUNT" and logs[0].object_id == account.id
    assert logs[0].history is not None and logs[0].history["phone"] is None
    assert logs[1].history is not None and logs[1].history["phone"] == "+44 20 7946 0000"
    assert logs[1].history["recordId"] == account.record_id
    plain = billow.accounts.audit_logs(tenant_ctx, account.id)
    assert all(entry.history is None for entry in plain)


def _trail(billow: Billow, table: str, record_ids: list[int]) -> list[tuple]:
    """History and audit rows of these records, without their own ids, dates of writing or row order."""
    from billow.core.db.schema import AUDITED

    h = AUDITED[table].history
    with billow.db.read_connection() as conn:
        hist = {r.record_id: r for r in conn.execute(select(h).where(h.c.target_record_id.in_(record_ids)))}
        audits = conn.execute(select(audit_log).where(audit_log.c.table_name == table,
                                                      audit_log.c.target_record_id.in_(record_ids))).all()
    out = []
    for a in audits:
        row = hist[a.history_record_id]
        state = {k: v for k, v in row._mapping.items() if k not in ("record_id", "id")}
        out.append((a.target_record_id, a.change_type, a.created_by, a.reason_code, a.comments, a.user_token,
                    a.account_record_id, a.tenant_record_id, len(a.id), tuple(sorted(state.items(), key=str))))
    return sorted(out, key=str)


@pytest.mark.parametrize("rows", [3, 40])  # below and above the bulk threshold (server-side on PostgreSQL)
def test_bulk_insert_and_update_write_the_same_trail_as_single_rows(billow: Billow, tenant_ctx: CallContext,
                                                                    rows: int) -> None:
    from datetime import UTC, datetime

    from billow.core.db import audit

    acc = billow.accounts.create(tenant_ctx, AccountData(name="Bulk", currency="USD"))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    sample = {"bundle_id": "b", "account_id": acc.id, "category": "BASE", "start_date": start,
              "bundle_start_date": start, "charged_through_date": None, "migrated": False,
              "account_record_id": acc.record_id}
    with billow.db.transaction(tenant_ctx) as uow:
        bulk = audit.insert_many(uow, "subscriptions", [{**sample, "external_key": f"x{i}"} for i in range(rows)])
        singles = [audit.insert_many(uow, "subscriptions", [{**sample, "external_key": f"y{i}"}])[0]
                   for i in range(rows)]
    ctd = datetime(2024, 2, 1, 8, 30, tzinfo=UTC)
    with billow.db.transaction(tenant_ctx) as uow:
        assert audit.update_many(uow, "subscriptions",
                                 {r["record_id"]: {"charged_through_date": ctd} for r in bulk}) == rows
        for r in singles:
            audit.update_many(uow, "subscriptions", {r["record_id"]: {"charged_through_date": ctd}})

    def normalised(trail: list[tuple]) -> list[tuple]:  # the external keys differ by construction
        return sorted([t[1:9] + (tuple(kv for kv in t[9] if kv[0] not in ("external_key", "target_record_id")),)
                       for t in trail], key=str)

    bulk_trail = _trail(billow, "subscriptions", [r["record_id"] for r in bulk])
    single_trail = _trail(billow, "subscriptions", [r["record_id"] for r in singles])
    assert len(bulk_trail) == 2 * rows
    assert normalised(bulk_trail) == normalised(single_trail)
    updated = [t for t in bulk_trail if t[1] == "UPDATE"]
    assert all(dict(t[9])["charged_through_date"] == ctd for t in updated)
    assert {t[6] for t in bulk_trail} == {acc.record_id}
    assert {t[7] for t in bulk_trail} == {tenant_ctx.tenant_record_id}

