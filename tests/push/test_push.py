"""Push notifications to a callback server on loopback: tenant isolation, Kill Bill's body and
headers, a retry after a 500, URL validation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from billow.core.bus.tables import notifications
from billow.core.context import internal_context
from billow.push.model import PUSH_QUEUE, InvalidCallbackUrl, PushConfig, validate_callback_url
from billow.push.service import PushNotificationService
from tests.core.bus.bus_worker_support import Ping, TaggedPing


class Callbacks:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_once: set[str] = set()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                doc = json.loads(body)
                with outer.lock:
                    status = 500 if doc.get("objectId") in outer.fail_once else 200
                    outer.fail_once.discard(doc.get("objectId"))
                    outer.received.append({"path": self.path, "headers": dict(self.headers), "body": doc,
                                           "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.received if path is None or r["path"] == path]


@pytest.fixture()
def callbacks() -> Iterator[Callbacks]:
    cb = Callbacks()
    yield cb
    cb.server.shutdown()
    cb.server.server_close()


def setup_push(db_url: str, make_db: Any, make_bus: Any) -> tuple[Any, Any, PushNotificationService]:
    db = make_db(db_url)
    bus = make_bus(db)
    from billow.tenant.internal import TenantInternalApi

    push = PushNotificationService(db, bus, TenantInternalApi(),
                                   PushConfig(retries=(timedelta(seconds=30), timedelta(seconds=60)), timeout_s=5))
    push.install()
    return db, bus, push


def test_callback_receives_its_tenant_events_only_and_again_after_a_500(db_url: str, make_db: Any,
                                                                       make_bus: Any, callbacks: Callbacks) -> None:
    db, bus, push = setup_push(db_url, make_db, make_bus)
    push.register_callback(internal_context(1), callbacks.url("/t1"))
    push.register_callback(internal_context(1), callbacks.url("/t1"))  # registered once
    assert push.callbacks(internal_context(1)) == [callbacks.url("/t1")]
    assert push.callbacks(internal_context(2)) == []

    with db.transaction(internal_context(1)) as uow:
        uow.post(Ping(tenant_record_id=1, account_record_id=11, account_id="acc-1", object_id="o1"))
        uow.post(TaggedPing(tenant_record_id=1, account_record_id=11, account_id="acc-1", object_id="o3"))
    with db.transaction(internal_context(2)) as uow:
        uow.post(Ping(tenant_record_id=2, account_record_id=21, account_id="acc-2", object_id="o2"))
    assert bus.run_until_idle(timeout_s=30)

    assert callbacks.bodies() == [
        # registering the callback is a tenant configuration change, announced like any other
        {"eventType": "TENANT_CONFIG_CHANGE", "accountId": None, "objectType": "TENANT_KVS", "objectId": None,
         "metaData": json.dumps({"key": "PUSH_NOTIFICATION_CB"}, separators=(",", ":"))},
        {"eventType": "ACCOUNT_CHANGE", "accountId": "acc-1", "objectType": "ACCOUNT", "objectId": "o1",
         "metaData": None},
        {"eventType": "TAG_CREATION", "accountId": "acc-1", "objectType": "TAG", "objectId": "o3",
         "metaData": json.dumps({"tagDefinitionName": "AUTO_PAY_OFF"}, separators=(",", ":"))},
    ]
    headers = {k.lower(): v for k, v in callbacks.received[1]["headers"].items()}
    assert headers["user-agent"] == "KillBill/1.0"
    assert headers["content-type"] == "application/json; charset=UTF-8"

    # answered 500 once: retried through the push queue after the first delay
    callbacks.fail_once.add("o4")
    with db.transaction(internal_context(1)) as uow:
        uow.post(Ping(tenant_record_id=1, account_record_id=11, account_id="acc-1", object_id="o4"))
    assert bus.run_until_idle(timeout_s=30)
    assert [r["status"] for r in callbacks.received if r["body"]["objectId"] == "o4"] == [500]
    with db.read_connection() as conn:
        retry = conn.execute(select(notifications).where(notifications.c.queue_name == PUSH_QUEUE)).one()
    assert json.loads(retry.event_json)["attemptNumber"] == 1
    assert retry.effective_date == db.clock.utcnow() + timedelta(seconds=30)

    db.clock.add(timedelta(seconds=31))
    assert bus.run_until_idle(timeout_s=30)
    assert [r["status"] for r in callbacks.received if r["body"]["objectId"] == "o4"] == [500, 200]
    assert all(b["objectId"] != "o2" for b in callbacks.bodies())


def test_unreachable_callback_gives_up_after_the_last_retry(db_url: str, make_db: Any, make_bus: Any,
                                                             callbacks: Callbacks) -> None:
    db, bus, push = setup_push(db_url, make_db, make_bus)
    url = callbacks.url("/t1")
    callbacks.server.shutdown()
    callbacks.server.server_close()  # nothing listens there any more
    push.register_callback(internal_context(1), url)
    with db.transaction(internal_context(1)) as uow:
        uow.post(Ping(tenant_record_id=1, account_record_id=11, object_id="o1"))
    assert bus.run_until_idle(timeout_s=30)
    for step in (31, 61):
        db.clock.add(timedelta(seconds=step))
        assert bus.run_until_idle(timeout_s=30)
    with db.read_connection() as conn:
        assert conn.execute(select(notifications)).all() == []  # two retries, then given up


@pytest.mark.parametrize("url", ["", "   ", "ftp://example.com/cb", "javascript:alert(1)", "file:///etc/passwd",
                                 "http://", "http://exa mple.com/", "example.com/cb", "http://h:99999/"])
def test_callback_urls_must_be_http_or_https(url: str) -> None:
    with pytest.raises(InvalidCallbackUrl):
        validate_callback_url(url)


def test_valid_callback_urls() -> None:
    assert validate_callback_url(" https://hooks.example.com/kb?x=1 ") == "https://hooks.example.com/kb?x=1"
    assert validate_callback_url("http://127.0.0.1:8080/cb") == "http://127.0.0.1:8080/cb"
