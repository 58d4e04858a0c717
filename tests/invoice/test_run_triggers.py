"""A billing instant gets one next-billing-date notification even when two transactions find it unknown at once
(two bus workers making first invoices): `store.add_triggers` returns only the instants it inserted. PostgreSQL
(SQLite has one writer: the two cannot overlap)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest

from billow.core.db import Database
from billow.invoice import store
from tests.conftest import sibling_database

PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="concurrent writers need PostgreSQL (BILLOW_TEST_DATABASE_URL)")


def test_two_transactions_adding_one_instant_schedule_it_once() -> None:
    when = datetime(2024, 2, 1, 8, tzinfo=UTC)
    with sibling_database("triggers") as url:
        db = Database(url)
        db.upgrade()
        try:
            first = db.engine.connect()
            found: list[list[datetime]] = []
            with first.begin():
                assert store.add_triggers(first, 1, [when]) == [when]

                def second() -> None:  # finds the instant unknown (the first is not committed), then waits for it
                    with db.engine.connect() as conn, conn.begin():
                        found.append(store.add_triggers(conn, 1, [when, when.replace(day=2)]))

                t = threading.Thread(target=second)
                t.start()
                t.join(1.0)
                assert t.is_alive()  # waiting on the first's row
            first.close()
            t.join(10)
            assert found == [[when.replace(day=2)]]  # the instant the first inserted is not the second's
        finally:
            db.dispose()
