"""`insert_rows` (billow/core/db/bulk.py): whichever way rows go in (a prepared INSERT per row under the COPY
threshold, COPY above it on PostgreSQL; one multi-row INSERT on SQLite), they are stored with the same values, and
the record ids come back in row order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, Date, MetaData, String, Table, select

from billow.app import Billow
from billow.core.context import internal_context
from billow.core.db.bulk import COPY_THRESHOLD, insert_rows
from billow.core.db.schema import RecordId
from billow.core.db.types import Money, UTCDateTime

PARIS_WINTER = timezone(timedelta(hours=1))


@pytest.fixture()
def probe(billow: Billow) -> Iterator[Table]:
    table = Table(f"bulk_probe_{uuid.uuid4().hex[:8]}", MetaData(),
                  Column("record_id", RecordId, primary_key=True, autoincrement=True),
                  Column("amount", Money, nullable=True),
                  Column("at", UTCDateTime, nullable=True),
                  Column("day", Date, nullable=True),
                  Column("flag", Boolean, nullable=False, default=True),
                  Column("note", String(20), nullable=True))
    table.create(billow.db.engine)
    yield table
    table.drop(billow.db.engine)


def _row(i: int) -> dict[str, object]:
    row: dict[str, object] = {"amount": Decimal("1.000000125") * (i + 1) if i != 2 else None,
                              "at": datetime(2024, 3, 1, 9, i, tzinfo=PARIS_WINTER),
                              "day": date(2024, 2, 28 + i % 2), "note": None if i % 3 == 0 else f"row {i}"}
    if i % 2:
        row["flag"] = False  # the others take the column's default
    return row


@pytest.mark.parametrize("count", [1, 2, COPY_THRESHOLD - 1, COPY_THRESHOLD, 9])
def test_rows_are_stored_as_given_and_their_ids_come_back_in_order(billow: Billow, probe: Table,
                                                                   count: int) -> None:
    rows = [_row(i) for i in range(count)]
    with billow.db.transaction(internal_context()) as uow:
        ids = insert_rows(uow.conn, probe, rows, returning_ids=True)
        assert insert_rows(uow.conn, probe, [_row(0)], returning_ids=False) == []
    with billow.db.read() as uow:
        stored = {r.record_id: r for r in uow.conn.execute(select(probe))}
    assert len(ids) == count and len(set(ids)) == count and len(stored) == count + 1
    for record_id, given in zip(ids, rows, strict=True):
        got = stored[record_id]
        assert got.amount == given["amount"]
        assert got.at == given["at"] and got.at.tzinfo == UTC  # type: ignore[union-attr]
        assert got.day == given["day"] and got.note == given["note"]
        assert got.flag is given.get("flag", True)


@pytest.mark.parametrize("count", [1, COPY_THRESHOLD])
def test_a_row_without_a_column_whose_default_is_the_servers_is_refused(billow: Billow, count: int) -> None:
    """The queue tables' processing_state defaults on the server; rows written together share one column list, so
    leaving it out would store NULL (a row no claim ever takes): refused instead, and nothing is written."""
    from billow.core.bus.tables import bus_events

    table = bus_events
    row = {"class_name": "x", "event_json": "{}", "user_token": None, "created_date": datetime(2024, 1, 1),
           "creating_owner": "n", "processing_owner": None, "processing_available_date": None, "error_count": 0,
           "search_key1": 1, "search_key2": 1}
    with pytest.raises(ValueError, match="processing_state"), billow.db.transaction(internal_context()) as uow:
        insert_rows(uow.conn, table, [row] * count, returning_ids=False)


SHARED = Table("bulk_probe_shared", MetaData(),
               Column("record_id", RecordId, primary_key=True, autoincrement=True),
               Column("amount", Money, nullable=True), Column("at", UTCDateTime, nullable=True),
               Column("flag", Boolean, nullable=False, default=True))


@pytest.mark.parametrize("count", [1, COPY_THRESHOLD])
def test_one_process_writes_the_same_table_to_sqlite_and_to_the_other_database(billow: Billow, tmp_path: Path,
                                                                               count: int) -> None:
    """Each database gets its own conversions (a SQLite boolean is an integer, which PostgreSQL refuses): an
    embedded process may copy between the two."""
    first = Billow(f"sqlite:///{tmp_path / 'first.db'}")
    rows = [{"amount": Decimal("2.5"), "at": datetime(2024, 3, 1, tzinfo=UTC), "flag": False}] * count
    try:
        for kb in (first, billow):
            SHARED.create(kb.db.engine)
            try:
                with kb.db.transaction(internal_context()) as uow:
                    insert_rows(uow.conn, SHARED, rows, returning_ids=True)
                with kb.db.read() as uow:
                    stored = [tuple(r[1:]) for r in uow.conn.execute(select(SHARED))]
                assert stored == [(Decimal("2.5"), datetime(2024, 3, 1, tzinfo=UTC), False)] * count
            finally:
                SHARED.drop(kb.db.engine)
    finally:
        first.close()
