"""The payment model: Kill Bill's payment methods, payments, transactions and attempts (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from billow.payment.plugin_api import PaymentPluginStatus, PluginProperty, TransactionType

__all__ = ["TransactionType", "TransactionStatus", "PaymentMethod", "Payment", "PaymentTransaction",
           "PaymentAttempt", "PaymentPluginStatus", "PluginProperty"]


class TransactionStatus(StrEnum):
    """Kill Bill's `TransactionStatus`."""

    SUCCESS = "SUCCESS"
    UNKNOWN = "UNKNOWN"
    PENDING = "PENDING"
    PAYMENT_FAILURE = "PAYMENT_FAILURE"
    PLUGIN_FAILURE = "PLUGIN_FAILURE"
    PAYMENT_SYSTEM_OFF = "PAYMENT_SYSTEM_OFF"


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    record_id: int
    id: str
    account_id: str
    account_record_id: int
    plugin_name: str
    external_key: str
    is_active: bool
    plugin_info: tuple[PluginProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentTransaction:
    record_id: int
    id: str
    payment_id: str
    transaction_type: TransactionType
    external_key: str
    status: TransactionStatus
    amount: Decimal | None
    currency: str
    processed_amount: Decimal
    processed_currency: str | None
    effective_date: datetime
    created_date: datetime
    updated_date: datetime
    gateway_error_code: str | None = None
    gateway_error_msg: str | None = None
    first_payment_reference_id: str | None = None
    second_payment_reference_id: str | None = None
    attempt_id: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    record_id: int
    id: str
    account_id: str
    account_record_id: int
    payment_method_id: str
    external_key: str
    payment_number: int
    state_name: str
    last_success_state_name: str | None
    created_date: datetime
    updated_date: datetime
    transactions: tuple[PaymentTransaction, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class PaymentAttempt:
    record_id: int
    id: str
    account_id: str
    payment_method_id: str | None
    payment_external_key: str
    transaction_id: str | None
    transaction_external_key: str
    transaction_type: TransactionType
    state_name: str
    amount: Decimal | None
    currency: str | None
    plugin_name: str
    invoice_id: str | None
    created_date: datetime
    updated_date: datetime
