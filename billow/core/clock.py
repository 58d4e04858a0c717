"""Clocks. Business code asks an injected `Clock` for the time, never `datetime.now()`.

`TestClock` is Kill Bill's test-mode clock: it can be set and moved through the
hidden `/1.0/kb/test/clock` endpoints. Moving it notifies listeners (the
notification queue) so that work now due can be run before the call returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


def utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime (naive values are taken as UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Clock(Protocol):
    def utcnow(self) -> datetime: ...


class _ClockBase:
    def utcnow(self) -> datetime:  # pragma: no cover - overridden
        raise NotImplementedError


class SystemClock(_ClockBase):
    """The real time, in UTC, truncated to milliseconds as Kill Bill stores it."""

    def utcnow(self) -> datetime:
        now = datetime.now(UTC)
        return now.replace(microsecond=(now.microsecond // 1000) * 1000)


class TestClock(_ClockBase):
    """A settable clock. Time does not pass by itself: it moves only when told to."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = utc(start) if start is not None else SystemClock().utcnow()
        self._listeners: list[Callable[[datetime], None]] = []

    def utcnow(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> datetime:
        with self._lock:
            self._now = utc(instant).replace(microsecond=(utc(instant).microsecond // 1000) * 1000)
            now = self._now
        self._notify(now)
        return now

    def reset(self) -> datetime:
        return self.set(SystemClock().utcnow())

    def add(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            now = self._now
        self._notify(now)
        return now

    def add_months(self, months: int) -> datetime:
        from dateutil.relativedelta import relativedelta

        with self._lock:
            self._now = self._now + relativedelta(months=months)
            now = self._now
        self._notify(now)
        return now

    def on_change(self, listener: Callable[[datetime], None], *, first: bool = False) -> None:
        """Call `listener` with the new instant at each move; `first`: before the listeners already there (a copy
        of the clock that other processes read must be moved before anything wakes to work at the new time)."""
        if first:
            self._listeners.insert(0, listener)
        else:
            self._listeners.append(listener)

    def _notify(self, now: datetime) -> None:
        for listener in list(self._listeners):
            listener(now)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(instant: datetime) -> int:
    """An instant as whole microseconds since the epoch (what a `SharedClock` holds)."""
    delta = utc(instant) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SharedClock(TestClock):
    """Another process's `TestClock`, read from shared memory: that process writes each move of its clock to a
    64-bit value (`multiprocessing.RawValue("q")`, microseconds since the epoch) and its helper processes read it
    here, so that they see the same business time. Only the owner moves it."""

    def __init__(self, shared: Any) -> None:
        super().__init__(_EPOCH)
        self._shared = shared

    def utcnow(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self._shared.value)

    def set(self, instant: datetime) -> datetime:
        raise RuntimeError("a shared test clock is moved by the process that owns it")

    def add(self, delta: timedelta) -> datetime:
        raise RuntimeError("a shared test clock is moved by the process that owns it")

    def add_months(self, months: int) -> datetime:
        raise RuntimeError("a shared test clock is moved by the process that owns it")

    def reset(self) -> datetime:
        raise RuntimeError("a shared test clock is moved by the process that owns it")
