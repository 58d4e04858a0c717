"""Kill Bill's own JavaScript client (npm `killbill` 0.24.0) is the judge of compatibility.

The package is installed once into a cache folder; a real `billow serve --test-mode`
runs on a free loopback port against a fresh database; `kb_compat.js` drives it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import SHARED, free_port

HERE = Path(__file__).resolve().parent
CLIENT_VERSION = "0.24.0"
CACHE = Path(os.environ.get("BILLOW_COMPAT_CACHE", Path.home() / ".cache" / "billow-compat")) / CLIENT_VERSION

pytestmark = pytest.mark.compat


def _node_modules() -> Path:
    """The npm `killbill` package's folder, installed into the cache on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the official-client compat suite needs node and npm (apt-get install nodejs npm)")
    modules = CACHE / "node_modules"
    if (modules / "killbill" / "package.json").exists():
        return modules
    CACHE.mkdir(parents=True, exist_ok=True)
    # one install at a time: pytest-xdist's workers may all get here first on a new machine
    with (CACHE.parent / f".{CLIENT_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "killbill" / "package.json").exists():
            (CACHE / "package.json").write_text('{"name": "billow-compat", "private": true}\n')
            result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"killbill@{CLIENT_VERSION}"],
                                    cwd=CACHE, capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                pytest.fail(f"npm install killbill@{CLIENT_VERSION} failed:\n{result.stderr[-2000:]}")
    return modules


def load_kbswagger() -> dict[str, Any]:
    """Kill Bill's API contract: `codegen/kbswagger.yaml` of the npm package (Swagger 2.0, 264 operations)."""
    path = _node_modules() / "killbill" / "codegen" / "kbswagger.yaml"
    if not path.exists():
        pytest.fail(f"{path} is missing from the npm killbill package")
    return dict(yaml.safe_load(path.read_text()))


@pytest.fixture(scope="module")
def billow_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    port = free_port()
    db = tmp_path_factory.mktemp("compat") / "compat.db"
    env = {**os.environ, "BILLOW_DATABASE_URL": f"sqlite:///{db}"}
    log = (db.parent / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "billow.cli.main", "serve", "--test-mode", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/1.0/healthcheck", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"billow serve did not start:\n{(db.parent / 'server.log').read_text()[-3000:]}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _catalog_file(tmp_path: Path) -> Path:
    """Kill Bill's SpyCarBasic when the reference folder is there, else Billow's own default catalog."""
    reference = SHARED / "reference" / "catalogs" / "catalog-module" / "SpyCarBasic.xml"
    if reference.exists():
        return reference
    from billow.catalog.defaults import default_catalog_xml

    own = tmp_path / "catalog.xml"
    own.write_text(default_catalog_xml())
    return own


SCRIPTS = sorted(HERE.glob("kb_compat*.js"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_official_javascript_client(billow_server: str, tmp_path: Path, script: Path) -> None:
    """Each `kb_compat*.js` is one area's script (own tenant, own data), run by Kill Bill's own client."""
    modules = _node_modules()
    result = subprocess.run(["node", str(script), billow_server, str(_catalog_file(tmp_path))],
                            env={**os.environ, "NODE_PATH": str(modules)}, capture_output=True, text=True,
                            timeout=300)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compat: all checks passed" in result.stdout
