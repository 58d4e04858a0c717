"""A tenant's payment configuration (Kill Bill's `PaymentConfig`), read from its per-tenant properties.

Durations are Kill Bill's `TimeSpan` strings (`30s`, `5m`, `1h`, `1d`, `500ms`; a bare number is milliseconds
for timeouts, seconds elsewhere as Kill Bill documents each key).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from billow.core.db import UnitOfWork

Settings = Callable[[UnitOfWork], Mapping[str, str]]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*$", re.IGNORECASE)


def seconds(value: str, default_unit: str = "s") -> float | None:
    match = _SPAN.match(value)
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[(match.group(2) or default_unit).lower()]


def _spans(raw: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    if not raw:
        return default
    out = [seconds(part) for part in raw.split(",") if part.strip()]
    return tuple(v for v in out if v is not None) or default


@dataclass(frozen=True, slots=True)
class PaymentConfig:
    plugin_timeout: float = 30.0
    retry_days: tuple[int, ...] = (8, 8, 8)
    failure_retry_start: float = 300.0
    failure_retry_multiplier: int = 2
    failure_retry_max: int = 8
    janitor_pending: tuple[float, ...] = (3600.0, 86400.0)
    janitor_unknown: tuple[float, ...] = (300.0, 3600.0, 86400.0, 86400.0, 86400.0, 86400.0, 86400.0)
    # Beyond Kill Bill: capture ≤ authorized, refund ≤ captured/purchased (False restores Kill Bill's behaviour)
    check_amounts: bool = True

    @classmethod
    def of(cls, values: Mapping[str, str]) -> PaymentConfig:
        d = cls()
        timeout = seconds(values.get("org.killbill.payment.plugin.timeout", ""))
        days = values.get("org.killbill.payment.retry.days")
        try:
            retry_days = tuple(int(x) for x in days.split(",") if x.strip()) if days else d.retry_days
        except ValueError:
            retry_days = d.retry_days

        def num(key: str, default: float) -> float:
            try:
                return float(values.get(key, default))
            except ValueError:
                return default

        return cls(
            plugin_timeout=timeout if timeout is not None else d.plugin_timeout,
            retry_days=retry_days,
            failure_retry_start=num("org.killbill.payment.failure.retry.start.sec", d.failure_retry_start),
            failure_retry_multiplier=int(num("org.killbill.payment.failure.retry.multiplier",
                                             d.failure_retry_multiplier)),
            failure_retry_max=int(num("org.killbill.payment.failure.retry.max.attempts", d.failure_retry_max)),
            janitor_pending=_spans(values.get("org.killbill.payment.janitor.pending.retries"), d.janitor_pending),
            janitor_unknown=_spans(values.get("org.killbill.payment.janitor.unknown.retries"), d.janitor_unknown),
            check_amounts=values.get("billow.payment.checkAmounts", "true").lower() != "false")

    def payment_failure_retry(self, failures: int) -> timedelta | None:
        """Delay before the next retry after `failures` PAYMENT_FAILURE purchases (None: give up)."""
        k = failures - 1
        return timedelta(days=self.retry_days[k]) if 0 <= k < len(self.retry_days) else None

    def plugin_failure_retry(self, failures: int) -> timedelta | None:
        """Delay after `failures` PLUGIN_FAILURE purchases: start, start, start×m, start×m², ... (Kill Bill's loop)."""
        k = failures - 1
        if not 0 <= k < self.failure_retry_max:
            return None
        delay = self.failure_retry_start
        for _ in range(max(k - 1, 0)):
            delay *= self.failure_retry_multiplier
        return timedelta(seconds=delay)

    def janitor_delay(self, pending: bool, attempt: int) -> timedelta | None:
        spans = self.janitor_pending if pending else self.janitor_unknown
        return timedelta(seconds=spans[attempt - 1]) if 1 <= attempt <= len(spans) else None
