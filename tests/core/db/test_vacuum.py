"""Upkeep of churning tables on PostgreSQL (`Database.vacuum`); a no-op on SQLite."""

from __future__ import annotations

import time

from sqlalchemy import text

from billow.app import Billow


def test_vacuum_cleans_a_churning_table_and_is_a_no_op_on_sqlite(billow: Billow) -> None:
    if billow.db.is_sqlite:
        billow.db.vacuum("invoice_schedule")  # nothing to do, nothing raised
        return

    def vacuums() -> int:
        with billow.db.read_connection() as conn:
            return int(conn.execute(text("SELECT coalesce(vacuum_count, 0) FROM pg_stat_user_tables "
                                         "WHERE relname = 'invoice_schedule'")).scalar_one())

    before = vacuums()
    billow.db.vacuum("invoice_schedule")
    deadline = time.monotonic() + 5  # statistics reach pg_stat_user_tables asynchronously
    while vacuums() < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vacuums() == before + 1
