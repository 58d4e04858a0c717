"""Structured logs: one JSON object a line, carrying the request's user token. Never a secret."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from billow.core.context import current_user_token


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        token = current_user_token.get()
        if token:
            body["userToken"] = token
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


ACCESS_LOGGER = "billow.access"  # one INFO line per request (billow.rest.app)

# Libraries' start-up chatter: Alembic's plugin set-up and per-migration lines (Billow logs the revisions it
# applied instead, billow.core.db.engine), uvicorn's start lines (Billow logs where it serves) and its access
# log (Billow's has the route and the request id).
_QUIET = ("alembic", "uvicorn.access", "uvicorn.error")


def configure(level: str = "INFO", *, access_log: bool = True) -> None:
    """JSON lines on stderr at `level`; one line per request at INFO when `access_log`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET if access_log else logging.WARNING)
