"""Kill Bill's payment state machine (`PaymentStates.xml`, `PaymentStateMachineHelper`), as pure functions.

A payment remembers its last state and its last *success* state; a new transaction is legal when the link
machines allow it from the last success state (so a failed transaction never blocks a retry). Plugin answers
map to transaction statuses as `PaymentTransactionInfoPluginConverter` does, statuses to states as
`getEnteringState` does, and the payment's aggregate amounts follow `DefaultPayment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billow.payment.model import PaymentTransaction, TransactionStatus
from billow.payment.plugin_api import PaymentPluginStatus, TransactionType

BIG_BANG_INIT = "BIG_BANG_INIT"

_PREFIX = {TransactionType.AUTHORIZE: "AUTH", TransactionType.CAPTURE: "CAPTURE",
           TransactionType.PURCHASE: "PURCHASE", TransactionType.REFUND: "REFUND",
           TransactionType.CREDIT: "CREDIT", TransactionType.VOID: "VOID", TransactionType.CHARGEBACK: "CHARGEBACK"}

# link state machines: from the last success state, the transactions that may follow
LEGAL: dict[str, frozenset[TransactionType]] = {
    BIG_BANG_INIT: frozenset({TransactionType.AUTHORIZE, TransactionType.PURCHASE, TransactionType.CREDIT}),
    "AUTH_SUCCESS": frozenset({TransactionType.CAPTURE, TransactionType.VOID}),
    "CAPTURE_SUCCESS": frozenset({TransactionType.CAPTURE, TransactionType.REFUND, TransactionType.CHARGEBACK}),
    "PURCHASE_SUCCESS": frozenset({TransactionType.REFUND, TransactionType.CHARGEBACK}),
    "REFUND_SUCCESS": frozenset({TransactionType.REFUND, TransactionType.CHARGEBACK}),
    "CHARGEBACK_SUCCESS": frozenset({TransactionType.CHARGEBACK}),
    "CHARGEBACK_FAILED": frozenset({TransactionType.REFUND}),
}

INITIAL = frozenset({TransactionType.AUTHORIZE, TransactionType.PURCHASE, TransactionType.CREDIT})


def is_legal(last_success_state: str | None, kind: TransactionType) -> bool:
    """May a `kind` transaction follow a payment whose last success state is this (None: a new payment)?"""
    return kind in LEGAL.get(last_success_state or BIG_BANG_INIT, frozenset())


def status_of(plugin_status: PaymentPluginStatus | None) -> TransactionStatus:
    """`PaymentTransactionInfoPluginConverter.toTransactionStatus`."""
    return {PaymentPluginStatus.PROCESSED: TransactionStatus.SUCCESS,
            PaymentPluginStatus.PENDING: TransactionStatus.PENDING,
            PaymentPluginStatus.ERROR: TransactionStatus.PAYMENT_FAILURE,
            PaymentPluginStatus.CANCELED: TransactionStatus.PLUGIN_FAILURE,
            }.get(plugin_status, TransactionStatus.UNKNOWN) if plugin_status is not None else TransactionStatus.UNKNOWN


def state_name(kind: TransactionType, status: TransactionStatus) -> str:
    """The payment state a transaction of `kind` ending in `status` enters."""
    suffix = {TransactionStatus.SUCCESS: "SUCCESS", TransactionStatus.PENDING: "PENDING",
              TransactionStatus.PAYMENT_FAILURE: "FAILED"}.get(status, "ERRORED")
    return f"{_PREFIX[kind]}_{suffix}"


def is_success_state(name: str) -> bool:
    """`isSuccessState`: ends with SUCCESS, or any CHARGEBACK state (a reversal leaves CHARGEBACK_FAILED)."""
    return name.endswith("SUCCESS") or name.startswith("CHARGEBACK")


def next_states(last_success_state: str | None, kind: TransactionType, status: TransactionStatus
                ) -> tuple[str, str | None]:
    """(state_name, last_success_state_name) after a transaction."""
    entered = state_name(kind, status)
    return entered, entered if is_success_state(entered) else last_success_state


def counts_as_done(status: TransactionStatus) -> bool:
    return status in (TransactionStatus.SUCCESS, TransactionStatus.PENDING)


def processed_amount(status: TransactionStatus, plugin_amount: Decimal | None, requested: Decimal | None) -> Decimal:
    """0 unless SUCCESS or PENDING; else the plugin's amount, or the requested one."""
    if not counts_as_done(status):
        return Decimal(0)
    value = plugin_amount if plugin_amount is not None else requested
    return value if value is not None else Decimal(0)


def aggregates(transactions: Sequence[PaymentTransaction]) -> dict[str, Decimal | bool]:
    """`DefaultPayment`'s amounts: sums of SUCCESS transactions by type; a VOID cancels the latest successful
    non-void transaction before it; a chargeback lowers the captured/purchased amount, a reversal restores it."""
    ok = [t for t in transactions if t.status is TransactionStatus.SUCCESS]
    voided: set[str] = set()
    for i, t in enumerate(ok):
        if t.transaction_type is TransactionType.VOID:
            for prev in reversed(ok[:i]):
                if prev.transaction_type is not TransactionType.VOID and prev.id not in voided:
                    voided.add(prev.id)
                    break
    sums = {k: Decimal(0) for k in TransactionType}
    for t in ok:
        if t.id not in voided and t.transaction_type is not TransactionType.VOID:
            sums[t.transaction_type] += t.processed_amount
    is_auth_voided = any(t.transaction_type is TransactionType.AUTHORIZE and t.id in voided for t in ok)
    chargeback = sums[TransactionType.CHARGEBACK]
    captured, purchased = sums[TransactionType.CAPTURE], sums[TransactionType.PURCHASE]
    if chargeback > 0:
        if purchased > 0:
            purchased = max(purchased - chargeback, Decimal(0))
        else:
            captured = max(captured - chargeback, Decimal(0))
    return {"authAmount": sums[TransactionType.AUTHORIZE], "capturedAmount": captured,
            "purchasedAmount": purchased, "creditedAmount": sums[TransactionType.CREDIT],
            "refundedAmount": sums[TransactionType.REFUND], "isAuthVoided": is_auth_voided}
