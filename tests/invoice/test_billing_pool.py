"""Billing worker processes (billow.invoice.billing_pool): a worker whose parent was killed ends; a worker freezes
its start-up heap."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.core.bus.bus_worker_support import alive
from tests.core.bus.test_multiprocess import wait_until

REPO = Path(__file__).resolve().parents[2]


def idle_worker(url: str, test_clock: bool, config: Any, max_errors: int) -> Any:
    """A worker factory that opens nothing: what is tested is the worker process itself."""
    return object()


KILLED_PARENT = """
import sys, time
sys.path[:0] = [{repo!r}]
from billow.invoice.billing_pool import BillingPool
from tests.invoice.test_billing_pool import idle_worker

if __name__ == "__main__":
    pool = BillingPool(idle_worker, "unused", processes=2, test_clock=False, config=None, max_errors=3)
    pool.start()
    print(" ".join(str(pid) for pid in pool._started()._processes), flush=True)
    time.sleep(600)
"""


def test_billing_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    """Killed with SIGKILL, a server never tells its workers; they used to wait on the executor's queue forever
    (holding their database connections)."""
    script = tmp_path / "parent.py"
    script.write_text(KILLED_PARENT.format(repo=str(REPO)))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(alive(pid) for pid in workers)
    parent.kill()
    parent.wait()
    assert wait_until(lambda: not any(alive(pid) for pid in workers), timeout=30)


def test_billing_workers_freeze_their_start_up_heap() -> None:
    """Full collections in a worker walked every object of its start-up (gcpause.freeze_start_up)."""
    from billow.invoice.billing_pool import BillingPool

    pool = BillingPool(idle_worker, "unused", processes=1, test_clock=False, config=None,  # type: ignore[arg-type]
                       max_errors=3)
    try:
        frozen = pool._started().submit(gc.get_freeze_count).result(timeout=60)
    finally:
        pool.close()
    assert frozen > 1000  # the modules a worker imports, at least
