"""Back-pressure (billow.rest.admission): a saturated server answers 503 with Retry-After at once or after a
bounded wait in line, the health check and metrics still answer, and a freed slot serves the next request."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from billow.app import Billow
from billow.core.errors import InvalidInput
from billow.rest.admission import Admission, AdmissionLimits
from billow.rest.app import create_app
from tests.conftest import ServerThread


class Gate:
    """An ASGI app that holds each request until released, counting those it ran."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.ran = 0

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.ran += 1
        if scope["path"] != "/1.0/healthcheck":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_requests_beyond_the_slots_wait_in_line_then_are_refused() -> None:
    async def scenario() -> None:
        inner = Gate()
        refusals: list[int] = []
        gate = Admission(inner, AdmissionLimits(concurrency=1, queue_size=1, queue_timeout=0.3),
                         on_refusal=lambda: refusals.append(1))
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = asyncio.create_task(client.get("/1.0/kb/accounts"))
            await asyncio.sleep(0.05)
            assert gate.running == 1
            second = asyncio.create_task(client.get("/1.0/kb/accounts"))  # waits in line
            await asyncio.sleep(0.05)
            assert gate.waiting == 1
            began = time.monotonic()
            third = await client.get("/1.0/kb/accounts")  # the line is full: refused at once
            assert time.monotonic() - began < 0.2
            assert third.status_code == 503 and third.headers["retry-after"] == "1"
            assert third.json()["code"] == 503 and "busy" in third.json()["message"]
            health = await client.get("/1.0/healthcheck")  # never gated
            assert health.status_code == 200
            refused = await second  # its wait ran out
            assert refused.status_code == 503
            assert time.monotonic() - began >= 0.2
            assert gate.waiting == 0 and inner.ran == 2  # the first request and the health check only
            inner.release.set()
            assert (await first).status_code == 200
            assert (await client.get("/1.0/kb/accounts")).status_code == 200  # the slot is free again
            assert gate.running == 0 and len(refusals) == 2

    asyncio.run(scenario())


def test_a_request_waiting_in_line_gets_the_freed_slot() -> None:
    async def scenario() -> None:
        inner = Gate()
        gate = Admission(inner, AdmissionLimits(concurrency=1, queue_size=5, queue_timeout=5))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url="http://t") as client:
            first = asyncio.create_task(client.get("/a"))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(client.get("/b"))
            await asyncio.sleep(0.05)
            assert gate.waiting == 1 and inner.ran == 1
            inner.release.set()
            assert [(await first).status_code, (await second).status_code] == [200, 200]
            assert inner.ran == 2

    asyncio.run(scenario())


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"concurrency": 0}, "at least 1"),
    ({"concurrency": 1, "queue_size": -1}, "cannot be negative"),
    ({"concurrency": 1, "queue_timeout": float("nan")}, "between 0 and 300"),
    ({"concurrency": 1, "queue_timeout": 301}, "between 0 and 300"),
])
def test_limits_are_checked(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        AdmissionLimits(**kwargs)  # type: ignore[arg-type]


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AdmissionLimits.from_environment(7) == AdmissionLimits(7, 200, 1.0)
    monkeypatch.setenv("BILLOW_MAX_CONCURRENT_REQUESTS", "3")
    monkeypatch.setenv("BILLOW_REQUEST_QUEUE_SIZE", "9")
    monkeypatch.setenv("BILLOW_REQUEST_QUEUE_TIMEOUT", "2.5")
    limits = AdmissionLimits.from_environment(7)
    assert limits == AdmissionLimits(3, 9, 2.5) and limits.retry_after == 3
    assert AdmissionLimits.from_environment(7, concurrency=4).concurrency == 4  # an argument wins
    monkeypatch.setenv("BILLOW_REQUEST_QUEUE_SIZE", "many")
    with pytest.raises(InvalidInput, match="BILLOW_REQUEST_QUEUE_SIZE: 'many' is not a number"):
        AdmissionLimits.from_environment(7)


@pytest.fixture
def one_slot_server(billow: Billow) -> Iterator[ServerThread]:
    srv = ServerThread(billow, create_app(billow, admission=AdmissionLimits(concurrency=1, queue_size=0,
                                                                           queue_timeout=0)))
    srv.start()
    yield srv
    srv.stop()


def test_over_http_a_busy_server_refuses_with_503_and_changes_nothing(one_slot_server: ServerThread) -> None:
    base = one_slot_server.base_url
    auth = ("admin", "password")
    headers = {"X-Killbill-CreatedBy": "tests"}
    # a client that sent half of its body holds the only slot (the body is read inside the gate)
    body = b'{"apiKey": "held-%d", "apiSecret": "s"}' % time.monotonic_ns()
    held = socket.create_connection(("127.0.0.1", one_slot_server.port))
    held.sendall(b"POST /1.0/kb/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nX-Killbill-CreatedBy: tests\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    try:
        deadline = time.monotonic() + 10
        while True:  # until the held request is inside the gate (a read that changes nothing)
            r = httpx.get(f"{base}/1.0/kb/tenants", params={"apiKey": "refused-key"}, auth=auth)
            if r.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 503, r.text
        r = httpx.post(f"{base}/1.0/kb/tenants", auth=auth, headers=headers,
                       json={"apiKey": "refused-key", "apiSecret": "s"})
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert r.json()["message"] == "the server is busy: retry in 1 s"
        assert httpx.get(f"{base}/1.0/healthcheck").status_code == 200
        held.sendall(body[10:])
        answer = held.recv(4096)
        assert answer.startswith(b"HTTP/1.1 201"), answer
    finally:
        held.close()
    # the refused request changed nothing; the slot is free again
    assert httpx.get(f"{base}/1.0/kb/tenants", params={"apiKey": "refused-key"}, auth=auth).status_code == 404
    metrics = httpx.get(f"{base}/metrics").text
    assert "billow_http_requests_refused_total 2.0" in metrics  # the read that found the slot taken, the POST
