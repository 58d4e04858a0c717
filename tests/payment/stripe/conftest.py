"""localstripe (a fake, stateful Stripe server from PyPI) on a free loopback port, for the Stripe gateway's tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from billow.payment.plugin_api import PluginConfig, PluginContext
from billow_stripe.plugin import API_BASE, API_KEY, WEBHOOK_SECRET
from tests.conftest import free_port

WEBHOOK = "whsec_test_billow"


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/v1/customers", auth=("sk_test_ready", ""), timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def config_text(api_base: str) -> str:
    return f"{API_KEY}=sk_test_billow\n{API_BASE}={api_base}\n{WEBHOOK_SECRET}={WEBHOOK}\n"


@pytest.fixture()
def stripe_ctx(localstripe: str) -> PluginContext:
    return PluginContext(tenant_id="tenant-1", config=PluginConfig.parse("billow-stripe", config_text(localstripe)),
                         now=datetime(2025, 1, 1, tzinfo=UTC), timeout_seconds=10)
