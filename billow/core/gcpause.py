"""Pausing Python's cyclic garbage collector around bulk work.

Building or parsing millions of small objects (usage records read for rating, a big ingestion batch) makes the
collector run over and over, each full collection walking every live object of the process: most of the time goes
there. None of these objects form cycles, so pausing the collector for the duration is safe. Several threads may
pause at once; the collector is re-enabled when the last one is done, if it was enabled before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
