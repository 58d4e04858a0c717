"""The overdue model: a tenant's overdue configuration and what its evaluation reads (plain data, no I/O).

Kill Bill's `DefaultOverdueConfig`, `DefaultOverdueStatesAccount`, `DefaultOverdueState`, `DefaultOverdueCondition`
and `DefaultDuration` (overdue/config), `BillingState` (overdue/config/api); ../shared/spec/platform.md B.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from billow.catalog.model import TimeUnit  # Kill Bill's overdue durations use catalog.api.TimeUnit too

OVERDUE_SERVICE = "overdue-service"
CLEAR_STATE_NAME = "__KILLBILL__CLEAR__OVERDUE_STATE__"


class CancellationPolicy(StrEnum):
    """killbill-api `OverdueCancellationPolicy`."""

    END_OF_TERM = "END_OF_TERM"
    IMMEDIATE = "IMMEDIATE"
    NONE = "NONE"


class PaymentResponse(StrEnum):
    """killbill-api `PaymentResponse` (the values `responseForLastFailedPaymentIn` lists)."""

    INVALID_CARD = "INVALID_CARD"
    EXPIRED_CARD = "EXPIRED_CARD"
    LOST_OR_STOLEN_CARD = "LOST_OR_STOLEN_CARD"
    DO_NOT_HONOR = "DO_NOT_HONOR"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    DECLINE = "DECLINE"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    DUPLICATE_TRANSACTION = "DUPLICATE_TRANSACTION"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Duration:
    unit: TimeUnit
    number: int

    @property
    def is_set(self) -> bool:
        """Kill Bill treats an UNLIMITED or zero duration as absent (`DefaultDuration`)."""
        return self.unit is not TimeUnit.UNLIMITED and self.number > 0

    def add_to(self, day: date) -> date:
        if self.unit is TimeUnit.DAYS:
            return day + relativedelta(days=self.number)
        if self.unit is TimeUnit.WEEKS:
            return day + relativedelta(weeks=self.number)
        if self.unit is TimeUnit.MONTHS:
            return day + relativedelta(months=self.number)
        if self.unit is TimeUnit.YEARS:
            return day + relativedelta(years=self.number)
        return date.max

    def days(self, since: date) -> int:
        """The day count of this duration from `since` (Kill Bill's `toJodaPeriod().toStandardDays()` on DAYS and
        WEEKS; months and years counted from the date they start)."""
        return (self.add_to(since) - since).days if self.is_set else 0


@dataclass(frozen=True, slots=True)
class OverdueCondition:
    """All present clauses must hold; an absent clause holds (`DefaultOverdueCondition.evaluate`)."""

    number_of_unpaid_invoices: int | None = None
    total_unpaid_balance: Decimal | None = None
    time_since_earliest_unpaid: Duration | None = None
    responses: tuple[PaymentResponse, ...] | None = None
    control_tag_inclusion: str | None = None
    control_tag_exclusion: str | None = None


@dataclass(frozen=True, slots=True)
class OverdueState:
    name: str
    condition: OverdueCondition | None = None
    external_message: str = ""
    block_changes: bool = False
    disable_entitlement: bool = False
    cancellation_policy: CancellationPolicy = CancellationPolicy.NONE
    is_clear: bool = False
    auto_reevaluation: Duration | None = None

    @property
    def blocks_changes(self) -> bool:
        """`block_change` of its blocking state: blockChanges or disableEntitlementAndChangesBlocked."""
        return self.block_changes or self.disable_entitlement


CLEAR_STATE = OverdueState(CLEAR_STATE_NAME, is_clear=True)


@dataclass(frozen=True, slots=True)
class OverdueConfig:
    states: tuple[OverdueState, ...] = ()
    initial_reevaluation: Duration | None = None

    @property
    def evaluates(self) -> bool:
        """A configuration without any state with a condition never changes an account (Kill Bill skips it)."""
        return any(s.condition is not None for s in self.states)

    def state(self, name: str) -> OverdueState:
        """A state by name; an unknown name (a state of an older configuration, or the clear state) is clear."""
        for s in self.states:
            if s.name == name:
                return s
        return CLEAR_STATE if name == CLEAR_STATE_NAME else OverdueState(name, is_clear=True)


@dataclass(frozen=True, slots=True)
class BillingState:
    """What an account's overdue evaluation reads (Kill Bill's `BillingState`), in the account's time zone."""

    unpaid_invoice_count: int
    unpaid_balance: Decimal
    earliest_unpaid_invoice_date: date | None
    control_tags: frozenset[str] = field(default_factory=frozenset)
    # Kill Bill hard-codes the last failed payment's response (a TODO in BillingStateCalculator)
    last_failed_payment_response: PaymentResponse | None = PaymentResponse.INSUFFICIENT_FUNDS
