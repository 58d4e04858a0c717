"""The queue rows of one account, for the account export: Kill Bill's `DatabaseExportDao` takes the bus and
notification tables (and their history) by `search_key1` (account record id) and `search_key2` (tenant)."""

from __future__ import annotations

from billow.core.bus.tables import bus_events, bus_events_history, notifications, notifications_history
from billow.core.db.export import TableDump, dump
from billow.core.db.uow import UnitOfWork


def account_rows(uow: UnitOfWork, account_record_id: int) -> list[TableDump]:
    return [dump(uow.conn, t, t.c.search_key1 == account_record_id, t.c.search_key2 == uow.tenant)
            for t in (bus_events, bus_events_history, notifications, notifications_history)]
