"""Structured logs (billow/core/logs.py)."""

from __future__ import annotations

import json
import logging

import pytest


def test_logs_are_json_and_carry_the_user_token(capsys: pytest.CaptureFixture[str]) -> None:


    from billow.core.context import current_user_token
    from billow.core.logs import configure

    configure("INFO")
    token = current_user_token.set("3f1c2f4e-0000-4000-8000-000000000001")
    try:
        logging.getLogger("billow.test").info("hello %s", "world")
    finally:
        current_user_token.reset(token)
        logging.getLogger().handlers[:] = []
    line = capsys.readouterr().err.strip().splitlines()[-1]
    body = json.loads(line)
    assert body["message"] == "hello world"
    assert body["userToken"] == "3f1c2f4e-0000-4000-8000-000000000001"


@pytest.fixture()
def restored_logging() -> object:
    """configure() sets the root handler and levels: put them back for the other tests."""
    root = logging.getLogger()
    names = ("alembic", "alembic.runtime.plugins", "uvicorn.error", "uvicorn.access", "billow.access")
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    yield None
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_library_chatter_is_quiet_and_the_access_log_is_a_choice(restored_logging: object,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from billow.core.logs import configure

    configure("INFO")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    logging.getLogger("uvicorn.error").info("Waiting for application startup.")
    logging.getLogger("billow.access").info("GET /1.0/kb/accounts/{accountId} -> 200 in 1.0 ms")
    configure("INFO", access_log=False)
    logging.getLogger("billow.access").info("GET /1.0/kb/accounts/pagination -> 200 in 1.0 ms")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    configure("WARNING")
    logging.getLogger("billow.access").info("GET /1.0/kb/tenants -> 200 in 1.0 ms")
    messages = [json.loads(line)["message"] for line in capsys.readouterr().err.splitlines()]
    assert messages == ["GET /1.0/kb/accounts/{accountId} -> 200 in 1.0 ms", "Invalid HTTP request received."]


def test_a_migration_is_one_line_and_an_up_to_date_schema_none(tmp_path: object,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from billow.core.db import Database

    caplog.set_level(logging.INFO)
    db = Database(f"sqlite:///{tmp_path}/m.db")
    try:
        db.upgrade()
        db.upgrade()
    finally:
        db.dispose()
    lines = [r.getMessage() for r in caplog.records if r.name == "billow.db"]
    assert lines == [f"database schema migrated from empty to {db.head_revision()}"]
