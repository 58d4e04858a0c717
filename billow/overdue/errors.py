"""Overdue errors (Kill Bill's `ErrorCode` range 5000)."""

from __future__ import annotations

from dataclasses import dataclass

from billow.core.errors import InvalidInput

OVERDUE_INVALID_FOR_TENANT = 5010
OVERDUE_EXCEPTION = "org.killbill.billing.overdue.api.OverdueApiException"


@dataclass(frozen=True)
class Problem:
    """One problem of an overdue configuration: where (`path`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class OverdueConfigError(ValueError):
    """An overdue configuration is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid overdue configuration")


def invalid_config(exc: OverdueConfigError) -> InvalidInput:
    return InvalidInput(f"Invalid overdue config for tenant : {exc}", code=OVERDUE_INVALID_FOR_TENANT,
                        class_name=OVERDUE_EXCEPTION)
