"""`billow serve` as a process: a SIGTERM lets the request in flight finish, stops the bus (the node is marked
inactive: its claims are released) and ends within the graceful timeout; a second SIGTERM ends it at once;
`--processes N` serves from N worker processes on PostgreSQL; bad options are refused before anything starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from billow.cli.main import app
from billow.core.db.engine import normalize_url
from tests.conftest import free_port, sibling_database, wait_healthy

REPO = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
ADMIN = ("admin", "password")


class Served:
    def __init__(self, url: str, *args: str) -> None:
        self.url = url
        self.port = free_port()
        env = dict(os.environ, BILLOW_ADMIN_PASSWORD="password", PYTHONPATH=str(REPO), BILLOW_BILLING_PROCESSES="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "billow.cli.main", "serve", "--port", str(self.port), "--database-url", url,
             "--log-level", "WARNING", *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_healthy(self.base, self.proc):
            self.kill()
            raise RuntimeError("billow serve did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold_request(self) -> tuple[socket.socket, bytes]:
        """A request whose client sent half of its body: in flight until the rest comes."""
        body = b'{"apiKey": "inflight-%s", "apiSecret": "s"}' % uuid.uuid4().hex.encode()
        held = socket.create_connection(("127.0.0.1", self.port))
        held.sendall(b"POST /1.0/kb/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nX-Killbill-CreatedBy: tests\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.5)  # the server has the headers and waits for the body
        return held, body[10:]

    def wait(self, timeout: float) -> tuple[int, float]:
        began = time.monotonic()
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def active_nodes(url: str) -> int:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM node_infos WHERE is_active")).scalar_one())
    finally:
        engine.dispose()


def test_sigterm_finishes_the_request_in_flight_then_stops_the_bus(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    served = Served(url, "--graceful-timeout", "20")
    try:
        assert active_nodes(url) == 1
        held, rest = served.hold_request()
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert served.proc.poll() is None  # still finishing the request in flight
        held.sendall(rest)
        answer = held.recv(4096)
        held.close()
        assert answer.startswith(b"HTTP/1.1 201"), answer
        code, took = served.wait(timeout=30)
        assert code == 0 and took < 20
        assert active_nodes(url) == 0  # Billow.close ran: the bus stopped and gave its claims back
    finally:
        served.kill()


def test_a_second_sigterm_stops_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    served = Served(url, "--graceful-timeout", "60")
    try:
        held, _ = served.hold_request()  # never completed: the graceful stop would wait 60 s
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert served.proc.poll() is None
        served.proc.send_signal(signal.SIGTERM)
        code, took = served.wait(timeout=10)
        held.close()
        assert code == 1 and took < 5
    finally:
        served.kill()


@pytest.mark.skipif(not PG_URL, reason="several processes need PostgreSQL (BILLOW_TEST_DATABASE_URL)")
def test_several_worker_processes_serve_and_stop_together() -> None:
    with sibling_database("serve") as url:
        _serve_with_two_processes(url)


def _serve_with_two_processes(url: str) -> None:
    served = Served(url, "--processes", "2")
    try:
        deadline = time.monotonic() + 60
        while active_nodes(url) < 2 and time.monotonic() < deadline:  # each worker process runs its own bus
            time.sleep(0.2)
        assert active_nodes(url) == 2
        children = Path(f"/proc/{served.proc.pid}/task/{served.proc.pid}/children").read_text().split()
        assert len(children) >= 2
        key = f"procs-{uuid.uuid4().hex[:8]}"
        r = httpx.post(f"{served.base}/1.0/kb/tenants", auth=ADMIN, headers={"X-Killbill-CreatedBy": "tests"},
                       json={"apiKey": key, "apiSecret": "s"})
        assert r.status_code == 201, r.text
        tenant = {"X-Killbill-ApiKey": key, "X-Killbill-ApiSecret": "s", "X-Killbill-CreatedBy": "tests"}
        with httpx.Client(base_url=served.base, auth=ADMIN, headers=tenant) as client:
            for i in range(20):  # over new connections, so both processes take some
                r = httpx.post(f"{served.base}/1.0/kb/accounts", auth=ADMIN, headers=tenant,
                               json={"name": f"p{i}", "currency": "USD"})
                assert r.status_code == 201, r.text
            page = client.get("/1.0/kb/accounts/pagination", params={"limit": 100})
            assert len(page.json()) == 20
        served.proc.send_signal(signal.SIGTERM)
        code, took = served.wait(timeout=40)
        assert code == 0 and took < 30
        assert active_nodes(url) == 0
    finally:
        served.kill()


@pytest.mark.parametrize(("args", "problem"), [
    (["--processes", "0"], "0 is not a number of processes"),
    (["--processes", "2", "--test-mode"], "--test-mode needs --processes 1"),
    (["--processes", "2"], "not SQLite"),
    (["--graceful-timeout", "0"], "not between 0 and 300"),
    (["--max-concurrent-requests", "0"], "at least 1"),
    (["--request-queue-timeout", "-1"], "between 0 and 300"),
])
def test_bad_serve_options_are_refused(tmp_path: Path, args: list[str], problem: str) -> None:
    r = CliRunner().invoke(app, ["serve", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", *args],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    assert problem in " ".join(r.output.split())
