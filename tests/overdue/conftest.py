"""Fixtures of the overdue tests: the payment tests' world (a tenant, an account, the test gateway)."""

from tests.payment.conftest import pw, world  # noqa: F401 - fixture re-export
