"""Fixtures of the bus tests: a fresh migrated database per test, SQLite always and PostgreSQL
when BILLOW_TEST_DATABASE_URL is set (the bus tests use their own database next to it,
`<name>_bus`, recreated per test, so the shared session database is never touched)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from billow.core.bus import Bus
from billow.core.bus.outbox import Outbox
from billow.core.clock import Clock, TestClock
from billow.core.db.engine import Database, normalize_url
from tests.core.bus.bus_worker_support import test_metadata

PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
PG_SKIP = "PostgreSQL bus tests need BILLOW_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1/billow_test)"
START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def bus_pg_url() -> str:
    """A database of our own next to BILLOW_TEST_DATABASE_URL, dropped and created afresh."""
    assert PG_URL is not None
    url = make_url(normalize_url(PG_URL))
    name = f"{url.database}_bus"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
            "AND pid <> pg_backend_pid()")
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bus.db'}"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    return bus_pg_url()


@pytest.fixture()
def pg_url() -> str:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    return bus_pg_url()


@pytest.fixture()
def make_db() -> Iterator[Callable[..., Database]]:
    made: list[Database] = []

    def make(url: str, clock: Clock | None = None) -> Database:
        db = Database(url, clock or TestClock(START), outbox=Outbox())
        db.upgrade()
        test_metadata.create_all(db.engine)
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()


@pytest.fixture()
def make_bus() -> Iterator[Callable[..., Bus]]:
    made: list[Bus] = []

    def make(db: Database, **config: Any) -> Bus:
        assert isinstance(db.outbox, Outbox)
        for name, value in config.items():  # the bus takes its settings from the database's outbox
            setattr(db.outbox.config, name, value)
        bus = Bus(db)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.stop()
