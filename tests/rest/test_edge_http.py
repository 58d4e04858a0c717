"""The edge over real HTTP connections (billow/rest/edge.py): the body limit, what a 500 says and logs, and the
connection after an error; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import logging
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from billow.app import Billow
from billow.rest.app import create_app
from billow.rest.edge import DEFAULT_MAX_BODY_BYTES, MAX_BODY_ENV, max_body_bytes
from tests.conftest import ServerThread

LIMIT = 4096
SECRET_SQL = "SELECT api_secret FROM tenants WHERE password = 'hunter2'"


class Edge:
    """A server of Billow's API with a small body limit and one route that fails unexpectedly."""

    def __init__(self, server: ServerThread, api_key: str) -> None:
        self.server = server
        self.api_key = api_key
        auth = base64.b64encode(b"admin:password").decode()
        self.headers = (f"Host: x\r\nAuthorization: Basic {auth}\r\nX-Killbill-ApiKey: {api_key}\r\n"
                        "X-Killbill-ApiSecret: s\r\nX-Killbill-CreatedBy: edge\r\n")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=20)


@pytest.fixture(scope="module")
def edge(billow: Billow) -> Iterator[Edge]:
    app = create_app(billow, max_body_bytes=LIMIT)

    @app.get("/1.0/kb/edgeFailure", include_in_schema=False)
    def failure() -> None:
        raise RuntimeError(SECRET_SQL)  # what a driver error carries: SQL, parameters

    server = ServerThread(billow, app)
    server.start()
    key = f"edge-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
               headers={"X-Killbill-CreatedBy": "t"}, json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    yield Edge(server, key)
    server.stop()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read off the socket (the connection stays usable)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the headers: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return status, headers, body[:length]


def test_an_unexpected_error_is_a_generic_500_logged_once_and_the_connection_goes_on(
        edge: Edge, caplog: pytest.LogCaptureFixture) -> None:
    request_id = str(uuid.uuid4())
    caplog.set_level(logging.INFO)
    with edge.connect() as sock:
        sock.sendall(f"GET /1.0/kb/edgeFailure HTTP/1.1\r\n{edge.headers}X-Request-Id: {request_id}\r\n\r\n".encode())
        status, headers, body = read_response(sock)
        assert status == 500
        assert headers.get("connection") != "close"
        error = json.loads(body)
        assert error["className"] == "java.lang.RuntimeException" and error["stackTrace"] == []
        assert request_id in error["message"]
        for leak in ("SELECT", "hunter2", "RuntimeError", ".py", "Traceback"):
            assert leak not in body.decode()
        # the next request on the same keep-alive connection is answered
        sock.sendall(f"GET /1.0/kb/accounts/pagination HTTP/1.1\r\n{edge.headers}\r\n".encode())
        status, _, body = read_response(sock)
        assert status == 200 and json.loads(body) == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once: not again by the server
    assert request_id in errors[0].getMessage() and errors[0].exc_info is not None
    assert SECRET_SQL in str(errors[0].exc_info[1])  # the details are in the log


def test_an_error_in_authentication_itself_is_the_same_generic_500(
        edge: Edge, billow: Billow, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def database_down(user: str, password: str) -> bool:
        raise ConnectionError("connection to server at db.internal (10.0.0.5), port 5432 failed")

    monkeypatch.setattr(billow.security, "authenticate", database_down)
    monkeypatch.setattr(billow.security, "remembered", lambda user, password, source: False)  # nothing verified yet
    with edge.connect() as sock:
        sock.sendall(f"GET /1.0/kb/accounts/pagination HTTP/1.1\r\n{edge.headers}\r\n".encode())
        status, headers, body = read_response(sock)
        assert status == 500 and headers.get("connection") != "close"
        assert "db.internal" not in body.decode() and "request id" in json.loads(body)["message"]
        monkeypatch.undo()
        sock.sendall(f"GET /1.0/kb/accounts/pagination HTTP/1.1\r\n{edge.headers}\r\n".encode())
        assert read_response(sock)[0] == 200
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(edge: Edge) -> None:
    with edge.connect() as sock:
        sock.sendall(f"POST /1.0/kb/accounts HTTP/1.1\r\n{edge.headers}Content-Type: application/json\r\n"
                     f"Content-Length: {300 * 1024 * 1024}\r\n\r\n".encode())
        status, headers, body = read_response(sock)  # answered without a byte of the 300 MB sent
    assert status == 413 and headers["connection"] == "close"
    error = json.loads(body)
    assert set(error) >= {"className", "message"} and f"{LIMIT} bytes" in error["message"]


def test_a_streamed_body_over_the_limit_is_refused_while_it_arrives(edge: Edge) -> None:
    with edge.connect() as sock:
        sock.sendall(f"POST /1.0/kb/accounts HTTP/1.1\r\n{edge.headers}Content-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"x" * 1024
        try:
            for _ in range(64):  # 64 KiB offered; the server stops after 4
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server closed its side after answering
        status, headers, _ = read_response(sock)
    assert status == 413 and headers["connection"] == "close"


def test_a_body_under_the_limit_is_served(edge: Edge) -> None:
    body = json.dumps({"name": "n" * 100, "currency": "USD", "notes": "x" * 3000}).encode()
    assert len(body) < LIMIT
    with edge.connect() as sock:
        sock.sendall(f"POST /1.0/kb/accounts HTTP/1.1\r\n{edge.headers}Content-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status, headers, _ = read_response(sock)
    assert status == 201 and "/1.0/kb/accounts/" in headers["location"]


def test_the_body_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_BODY_ENV, raising=False)
    assert max_body_bytes() == DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024
    monkeypatch.setenv(MAX_BODY_ENV, "2048")
    assert max_body_bytes() == 2048
    assert max_body_bytes(100) == 100


def test_the_health_check_does_not_show_why_the_database_failed(
        billow: Billow, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def unreachable() -> bool:
        raise OSError("could not connect to db.internal:5432 as user billing_admin")

    monkeypatch.setattr(billow.db, "ping", unreachable)
    result = billow.health()
    assert result["database"]["healthy"] is False
    assert "db.internal" not in json.dumps(result) and "billing_admin" not in json.dumps(result)
    assert any("db.internal" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
