"""Queue-table upkeep on PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import text

from billow.app import Billow
from billow.core.bus.dispatcher import Dispatcher


def test_queue_tables_are_vacuumed_after_heavy_use(billow: Billow) -> None:
    """The bus vacuums its tables (PostgreSQL) once enough rows went through them, so dead rows do not slow
    every later claim on a database whose autovacuum is off or lagging; never on SQLite."""
    def vacuums() -> int:
        with billow.db.read() as conn:
            return int(conn.execute(text("SELECT coalesce(sum(vacuum_count), 0) FROM pg_stat_user_tables "
                                         "WHERE relname IN ('bus_events', 'notifications')")).scalar_one())

    d = Dispatcher(billow.bus)
    d.cfg = replace(d.cfg, vacuum_every_rows=10, vacuum_interval=d.cfg.vacuum_interval * 0)
    d._processed = 9
    assert not d.maybe_vacuum()  # below the threshold
    d._processed = 10
    if billow.db.is_sqlite:
        assert not d.maybe_vacuum()
        return
    before = vacuums()
    assert d.maybe_vacuum()
    assert not d.maybe_vacuum()  # nothing processed since
    deadline = time.monotonic() + 5  # statistics reach pg_stat_user_tables asynchronously
    while vacuums() < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vacuums() == before + 2
