"""Structured logs (billow/core/logs.py)."""

from __future__ import annotations

import logging

import pytest


def test_logs_are_json_and_carry_the_user_token(capsys: pytest.CaptureFixture[str]) -> None:
    import json

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
