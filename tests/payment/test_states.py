"""Kill Bill's payment state machine as pure functions: every legal transition, a table of illegal ones, status
and state mapping, and the aggregate amounts (unit and property tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billow.payment import states
from billow.payment.model import PaymentTransaction, TransactionStatus
from billow.payment.plugin_api import PaymentPluginStatus, TransactionType

T = TransactionType
NOW = datetime(2024, 1, 1, tzinfo=UTC)

LEGAL = [
    (None, T.AUTHORIZE), (None, T.PURCHASE), (None, T.CREDIT),
    ("AUTH_SUCCESS", T.CAPTURE), ("AUTH_SUCCESS", T.VOID),
    ("CAPTURE_SUCCESS", T.CAPTURE), ("CAPTURE_SUCCESS", T.REFUND), ("CAPTURE_SUCCESS", T.CHARGEBACK),
    ("PURCHASE_SUCCESS", T.REFUND), ("PURCHASE_SUCCESS", T.CHARGEBACK),
    ("REFUND_SUCCESS", T.REFUND), ("REFUND_SUCCESS", T.CHARGEBACK),
    ("CHARGEBACK_SUCCESS", T.CHARGEBACK), ("CHARGEBACK_FAILED", T.REFUND),
]
ILLEGAL = [
    ("AUTH_SUCCESS", T.REFUND), ("AUTH_SUCCESS", T.CHARGEBACK), ("AUTH_SUCCESS", T.PURCHASE),
    ("CAPTURE_SUCCESS", T.VOID), ("PURCHASE_SUCCESS", T.VOID), ("PURCHASE_SUCCESS", T.CAPTURE),
    ("VOID_SUCCESS", T.CAPTURE), ("VOID_SUCCESS", T.VOID), ("VOID_SUCCESS", T.REFUND),
    ("PURCHASE_SUCCESS", T.CREDIT), ("CREDIT_SUCCESS", T.REFUND), ("CHARGEBACK_SUCCESS", T.REFUND),
    (None, T.CAPTURE), (None, T.REFUND), (None, T.VOID), (None, T.CHARGEBACK),
]


@pytest.mark.parametrize(("last", "kind"), LEGAL)
def test_legal(last: str | None, kind: TransactionType) -> None:
    assert states.is_legal(last, kind)


@pytest.mark.parametrize(("last", "kind"), ILLEGAL)
def test_illegal(last: str | None, kind: TransactionType) -> None:
    assert not states.is_legal(last, kind)


def test_plugin_status_mapping() -> None:
    assert [states.status_of(s) for s in PaymentPluginStatus] == [
        TransactionStatus.SUCCESS, TransactionStatus.PENDING, TransactionStatus.PAYMENT_FAILURE,
        TransactionStatus.UNKNOWN, TransactionStatus.PLUGIN_FAILURE]
    assert states.status_of(None) is TransactionStatus.UNKNOWN


def test_entering_states() -> None:
    assert states.next_states(None, T.PURCHASE, TransactionStatus.PAYMENT_FAILURE) == ("PURCHASE_FAILED", None)
    assert states.next_states(None, T.AUTHORIZE, TransactionStatus.SUCCESS) == ("AUTH_SUCCESS", "AUTH_SUCCESS")
    assert states.next_states("AUTH_SUCCESS", T.CAPTURE, TransactionStatus.UNKNOWN) == ("CAPTURE_ERRORED",
                                                                                         "AUTH_SUCCESS")
    assert states.next_states("AUTH_SUCCESS", T.CAPTURE, TransactionStatus.PLUGIN_FAILURE)[0] == "CAPTURE_ERRORED"
    assert states.next_states("PURCHASE_SUCCESS", T.CHARGEBACK, TransactionStatus.PAYMENT_FAILURE) == (
        "CHARGEBACK_FAILED", "CHARGEBACK_FAILED")  # a reversal is a success state (isSuccessState)
    assert states.next_states(None, T.PURCHASE, TransactionStatus.PENDING) == ("PURCHASE_PENDING", None)


def trx(kind: TransactionType, amount: str, status: TransactionStatus = TransactionStatus.SUCCESS,
        n: int = 0) -> PaymentTransaction:
    return PaymentTransaction(n, f"t{n}", "p", kind, f"k{n}", status, Decimal(amount), "USD",
                              states.processed_amount(status, None, Decimal(amount)), "USD", NOW, NOW, NOW)


def test_aggregates() -> None:
    auth = [trx(T.AUTHORIZE, "50", n=1), trx(T.CAPTURE, "20", n=2), trx(T.CAPTURE, "5", TransactionStatus.
                                                                             PAYMENT_FAILURE, n=3)]
    agg = states.aggregates(auth)
    assert (agg["authAmount"], agg["capturedAmount"], agg["isAuthVoided"]) == (Decimal(50), Decimal(20), False)
    voided = states.aggregates([trx(T.AUTHORIZE, "50", n=1), trx(T.VOID, "0", n=2)])
    assert (voided["authAmount"], voided["isAuthVoided"]) == (Decimal(0), True)
    cb = states.aggregates([trx(T.PURCHASE, "30", n=1), trx(T.CHARGEBACK, "10", n=2)])
    assert cb["purchasedAmount"] == Decimal(20)
    assert states.processed_amount(TransactionStatus.PAYMENT_FAILURE, Decimal(3), Decimal(3)) == 0


kinds = st.sampled_from(list(TransactionType))
statuses = st.sampled_from([s for s in TransactionStatus if s is not TransactionStatus.PAYMENT_SYSTEM_OFF])


@given(st.lists(st.tuples(kinds, statuses), max_size=12))
def test_walking_the_machine_keeps_its_invariants(steps: list[tuple[TransactionType, TransactionStatus]]) -> None:
    """Any sequence of attempted transactions, applied only when legal: the last success state is a state the link
    machine knows or a terminal one, a failure never moves it, and nothing follows a VOID."""
    last: str | None = None
    voided = False
    for kind, status in steps:
        if not states.is_legal(last, kind):
            continue
        assert not voided
        state, new_last = states.next_states(last, kind, status)
        if status is TransactionStatus.SUCCESS or (kind is T.CHARGEBACK and status is
                                                   TransactionStatus.PAYMENT_FAILURE):
            assert new_last == state
        elif status is not TransactionStatus.SUCCESS and kind is not T.CHARGEBACK:
            assert new_last == last
        last = new_last
        voided = last == "VOID_SUCCESS"
        # terminal success states link to nothing; every CHARGEBACK state counts as a success (isSuccessState),
        # so an errored chargeback (only an admin fix makes one: chargebacks never call a plugin) is terminal too
        assert last is None or last in states.LEGAL or last in ("VOID_SUCCESS", "CREDIT_SUCCESS") \
            or last.startswith("CHARGEBACK")


@given(st.lists(st.tuples(st.sampled_from([T.AUTHORIZE, T.CAPTURE, T.PURCHASE, T.REFUND, T.VOID]), statuses,
                          st.integers(min_value=1, max_value=10_000)), max_size=10))
def test_aggregates_only_count_successes(rows: list[tuple[TransactionType, TransactionStatus, int]]) -> None:
    txs = [trx(k, str(Decimal(a) / 100), s, n=i) for i, (k, s, a) in enumerate(rows)]
    agg = states.aggregates(txs)
    ok = [t for t in txs if t.status is TransactionStatus.SUCCESS]
    for key, kind in (("capturedAmount", T.CAPTURE), ("purchasedAmount", T.PURCHASE), ("refundedAmount", T.REFUND),
                      ("authAmount", T.AUTHORIZE)):
        assert 0 <= Decimal(agg[key]) <= sum((t.processed_amount for t in ok if t.transaction_type is kind),
                                             Decimal(0))
