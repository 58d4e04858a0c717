"""One unit of work, one connection: a thread that holds a unit of work never checks out a second pooled
connection (nested connections deadlock a loaded server). The guard refuses a nested unit of work in strict
mode (the tests' mode) and records any other second checkout; the session's `billow` fixture fails when the
whole suite made one (tests/conftest.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from billow.core.context import internal_context
from billow.core.db import Database
from billow.core.db.engine import NestedConnection
from billow.core.db.uow import ReadOnlyUnitOfWork


def _db(tmp_path: Path, strict: bool) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'guard.db'}", strict_connections=strict)
    db.upgrade()
    return db


def test_a_nested_unit_of_work_is_refused_in_strict_mode(tmp_path: Path) -> None:
    db = _db(tmp_path, strict=True)
    with db.transaction(internal_context()) as uow:
        with pytest.raises(NestedConnection), db.read():
            pass
        assert uow.conn.exec_driver_sql("SELECT 1").scalar() == 1  # the outer unit of work goes on
    with db.read() as uow, pytest.raises(NestedConnection), db.transaction(internal_context()):
        pass
    db.dispose()


def test_second_checkouts_are_recorded_and_other_threads_are_free(tmp_path: Path) -> None:
    db = _db(tmp_path, strict=False)
    with db.read():
        with db.read():  # allowed when not strict, but recorded
            pass
        done = threading.Event()

        def other_thread() -> None:
            with db.read():  # another thread holds its own connection: fine
                done.set()

        t = threading.Thread(target=other_thread)
        t.start()
        t.join(10)
        assert done.is_set()
    assert len(db.guard.violations) == 2  # the nested unit of work, and its pool checkout
    assert all("second" in v or "opened by a thread" in v for v in db.guard.violations)
    with db.read():
        pass
    assert len(db.guard.violations) == 2  # sequential units of work are not nested
    db.dispose()


def test_a_read_only_unit_of_work_refuses_writes(tmp_path: Path) -> None:
    db = _db(tmp_path, strict=True)
    with db.read() as uow, pytest.raises(ReadOnlyUnitOfWork):
        uow.insert("tenants", {"id": "x", "api_key": "k", "api_secret": "s"})
    db.dispose()
