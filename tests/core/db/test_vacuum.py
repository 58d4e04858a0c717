"""Upkeep of churning tables on PostgreSQL (`Database.vacuum`); a no-op on SQLite."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text

from billow.app import Billow
from billow.core.db import Database


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


def test_analyze_stale_takes_the_statistics_of_tables_changed_beyond_autovacuums_threshold(billow: Billow) -> None:
    """`Database.analyze_stale`: a table is analyzed once more of its rows changed since its last analysis than
    autovacuum's rule allows (50 + 10% of its rows), and only then; `exclude` keeps a table out. In a schema of
    its own, so that no node's reaper (which calls it too) analyzes the tables first."""
    if billow.db.is_sqlite:
        assert billow.db.analyze_stale() == []
        return
    schema = f"stale_{uuid.uuid4().hex[:8]}"
    with billow.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        c.exec_driver_sql(f"CREATE TABLE {schema}.big (x int)")
        c.exec_driver_sql(f"CREATE TABLE {schema}.small (x int)")
    db = Database(f"{billow.db.url}{'&' if '?' in billow.db.url else '?'}options=-csearch_path%3D{schema}")
    try:
        def insert(table: str, rows: int) -> None:
            with db.engine.begin() as c:
                c.exec_driver_sql(f"INSERT INTO {table} SELECT generate_series(1, {rows})")
                c.exec_driver_sql("SELECT pg_stat_force_next_flush()")  # at commit, not within a second

        def analyzed_when_stale(*tables: str, exclude: tuple[str, ...] = ()) -> list[str]:
            # the inserts reach pg_stat_user_tables asynchronously: wait until they are counted
            deadline = time.monotonic() + 5
            while not (got := db.analyze_stale(*tables, exclude=exclude)) and time.monotonic() < deadline:
                time.sleep(0.05)
            return got

        def analyses(table: str) -> int:
            with db.engine.connect() as c:
                return int(c.execute(text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :t "
                                          "AND schemaname = current_schema()"), {"t": table}).scalar_one())

        insert("big", 1000)
        insert("small", 40)  # under the 50 rows any table may change
        assert analyzed_when_stale(exclude=("big",)) == []  # waited 5 s: `small` is never stale
        assert analyzed_when_stale() == ["big"]
        assert (analyses("big"), analyses("small")) == (1, 0)
        assert db.analyze_stale() == []  # just analyzed

        insert("big", 140)  # 140 changed of 1,140 rows: under 50 + 114
        time.sleep(1.5)
        assert db.analyze_stale() == []
        insert("big", 60)  # 200 of 1,200: over 50 + 120
        assert analyzed_when_stale("big", "small") == ["big"]
        assert analyses("big") == 2
    finally:
        db.dispose()
        with billow.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
