"""Failed logins throttled per user and source address.

After `max_failures` failed logins of one user from one address within `window` seconds, that pair is refused
without checking the password until the window of the first counted failure has passed; a success clears it.
Per process (each node counts its own), on a monotonic clock: a test-clock move must not unlock anyone.
Settings: BILLOW_LOGIN_MAX_FAILURES (default 10; 0 turns throttling off), BILLOW_LOGIN_WINDOW_SECONDS (default 60).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, max_failures: int = 10, window: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self._monotonic = monotonic
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> LoginThrottle:
        return cls(int(os.environ.get("BILLOW_LOGIN_MAX_FAILURES", "10")),
                   float(os.environ.get("BILLOW_LOGIN_WINDOW_SECONDS", "60")))

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def blocked(self, username: str, source: str) -> bool:
        if self.max_failures <= 0:
            return False
        with self._lock:
            failures = self._recent((username, source), self._monotonic())
            return failures is not None and len(failures) >= self.max_failures

    def failed(self, username: str, source: str) -> None:
        if self.max_failures <= 0:
            return
        now = self._monotonic()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._failures.clear()
            failures = self._recent((username, source), now)
            if failures is None:
                failures = self._failures[(username, source)] = deque()
            if len(failures) < self.max_failures:
                failures.append(now)

    def succeeded(self, username: str, source: str) -> None:
        with self._lock:
            self._failures.pop((username, source), None)
