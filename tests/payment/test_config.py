"""A tenant's payment configuration: Kill Bill's defaults, durations, and the retry schedules."""

from __future__ import annotations

from datetime import timedelta

from billow.payment.config import PaymentConfig, seconds


def test_defaults_are_kill_bills() -> None:
    c = PaymentConfig.of({})
    assert (c.plugin_timeout, c.retry_days, c.check_amounts) == (30.0, (8, 8, 8), True)
    assert [c.payment_failure_retry(k) for k in (1, 2, 3, 4)] == [timedelta(days=8)] * 3 + [None]
    # plugin failures: 300s, 300s, 600s, 1200s ... (Kill Bill's loop), 8 attempts
    assert [c.plugin_failure_retry(k) for k in (1, 2, 3, 4)] == [timedelta(seconds=s) for s in (300, 300, 600, 1200)]
    assert c.plugin_failure_retry(9) is None
    assert [c.janitor_delay(True, a) for a in (1, 2, 3)] == [timedelta(hours=1), timedelta(days=1), None]
    assert c.janitor_delay(False, 1) == timedelta(minutes=5) and c.janitor_delay(False, 8) is None


def test_tenant_values() -> None:
    c = PaymentConfig.of({"org.killbill.payment.plugin.timeout": "5s", "org.killbill.payment.retry.days": "1,2",
                          "org.killbill.payment.janitor.unknown.retries": "1m, 2h", "billow.payment.checkAmounts":
                          "false", "org.killbill.payment.failure.retry.start.sec": "60"})
    assert (c.plugin_timeout, c.retry_days, c.janitor_unknown, c.check_amounts) == (5.0, (1, 2), (60.0, 7200.0),
                                                                                   False)
    assert c.plugin_failure_retry(1) == timedelta(seconds=60)
    bad = PaymentConfig.of({"org.killbill.payment.plugin.timeout": "soon", "org.killbill.payment.retry.days": "x"})
    assert (bad.plugin_timeout, bad.retry_days) == (30.0, (8, 8, 8))
    assert (seconds("500ms"), seconds("2d"), seconds("7")) == (0.5, 172800.0, 7.0)
