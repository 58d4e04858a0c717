"""An account walked through overdue states on the test clock as its payments fail, then back to clear when it
pays (both databases): blocking states, AUTO_INVOICING_OFF, entitlement and billing blocked, OVERDUE_CHANGE."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from billow.core.bus.tables import notifications
from billow.core.objects import ObjectType
from billow.entitlement.model import BlockingStateType
from billow.overdue.model import CLEAR_STATE_NAME, OVERDUE_SERVICE
from billow.tag.model import AUTO_INVOICING_OFF, BUILT_IN_NAMES, OVERDUE_ENFORCEMENT_OFF
from tests.payment.conftest import PayWorld

# Three states, the most severe first (Kill Bill's rule: the first whose condition holds wins)
CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<overdueConfig>
  <accountOverdueStates>
    <initialReevaluationInterval><unit>DAYS</unit><number>10</number></initialReevaluationInterval>
    <state name="SUSPENDED">
      <condition>
        <timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>50</number>
        </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds>
      </condition>
      <externalMessage>Service suspended</externalMessage>
      <blockChanges>true</blockChanges>
      <disableEntitlementAndChangesBlocked>true</disableEntitlementAndChangesBlocked>
      <autoReevaluationInterval><unit>DAYS</unit><number>5</number></autoReevaluationInterval>
    </state>
    <state name="BLOCKED">
      <condition>
        <timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>40</number>
        </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds>
      </condition>
      <externalMessage>Service blocked</externalMessage>
      <disableEntitlementAndChangesBlocked>true</disableEntitlementAndChangesBlocked>
      <autoReevaluationInterval><unit>DAYS</unit><number>5</number></autoReevaluationInterval>
    </state>
    <state name="WARNING">
      <condition>
        <timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>30</number>
        </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds>
      </condition>
      <externalMessage>Please pay</externalMessage>
      <blockChanges>true</blockChanges>
      <autoReevaluationInterval><unit>DAYS</unit><number>5</number></autoReevaluationInterval>
    </state>
  </accountOverdueStates>
</overdueConfig>
"""


def _state(pw: PayWorld) -> str:
    assert pw.kb.run_until_idle(30)
    return pw.kb.overdue.account_state(pw.ctx, pw.account_id).name


def _overdue_states(pw: PayWorld) -> list[tuple[date, str, bool, bool, bool]]:
    acc = pw.kb.entitlements.internal
    with pw.kb.db.read(pw.ctx) as uow:
        states = acc.blocking_states(uow, pw.kb.accounts.internal.get(uow, pw.account_id))
    return [(s.effective_date.date(), s.state_name, s.block_change, s.block_entitlement, s.block_billing)
            for s in states if s.service == OVERDUE_SERVICE and s.type is BlockingStateType.ACCOUNT]


def _at(pw: PayWorld, day: date) -> None:
    """Day by day to `day` (10:00 UTC), as time passes: each day's notifications fire on their day."""
    while pw.w.clock.utcnow().date() < day:
        pw.w.advance(days=1)


def _control_tags(pw: PayWorld) -> set[str]:
    with pw.kb.db.read(pw.ctx) as uow:
        arid = pw.w.account.record_id
        return set(pw.kb.payment.invoices.tags.control_tags(uow, [arid])[arid])


def test_failed_payments_walk_the_account_through_its_states_and_payment_clears_it(pw: PayWorld) -> None:
    pw.kb.overdue.upload_xml(pw.ctx, CONFIG)
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    sub = pw.w.create("silver-monthly")  # 2024-01-15: $20 invoiced, the payment declined
    assert _state(pw) == CLEAR_STATE_NAME
    # clear with an unpaid invoice: checked again at the initial interval (10 days)
    with pw.kb.db.read_connection() as conn:
        checks = [r.effective_date for r in conn.execute(select(notifications).where(
            notifications.c.queue_name == "overdue-check-queue",
            notifications.c.search_key1 == pw.w.account.record_id))]
    assert [c.date() for c in checks] == [date(2024, 1, 25)]

    _at(pw, date(2024, 2, 13))
    assert _state(pw) == CLEAR_STATE_NAME  # 29 days since the unpaid invoice of 2024-01-15
    _at(pw, date(2024, 2, 14))
    assert _state(pw) == "WARNING"  # 30 days
    view = pw.w.view(sub)
    assert view.state != "BLOCKED"
    _at(pw, date(2024, 2, 24))
    assert _state(pw) == "BLOCKED"  # 40 days: entitlement and billing blocked, invoicing off
    assert AUTO_INVOICING_OFF in _control_tags(pw)
    _at(pw, date(2024, 3, 5))
    assert _state(pw) == "SUSPENDED"  # 50 days
    assert _overdue_states(pw) == [
        (date(2024, 2, 14), "WARNING", True, False, False),
        (date(2024, 2, 24), "BLOCKED", True, True, True),
        (date(2024, 3, 5), "SUSPENDED", True, True, True),
    ]
    # every change announced, in order
    changes = [e for e in pw.w.published(pw.account_id) if e == "OverdueChangeEvent"]
    assert len(changes) == 3

    # the customer pays everything: clear at once, billing and invoicing back on
    pw.configure("ACTION_CLEAR")
    pw.kb.payment.invoices.pay_all(pw.ctx, pw.account_id)
    assert _state(pw) == CLEAR_STATE_NAME
    assert _overdue_states(pw)[-1] == (date(2024, 3, 5), CLEAR_STATE_NAME, False, False, False)
    assert AUTO_INVOICING_OFF not in _control_tags(pw)
    # the 10 blocked days (2024-02-24 to 03-05) of the $20 period 02-15..03-15 (29 days) are repaired and credited
    # once invoicing is back on: 20 x 10 / 29 = 6.90, left as account credit after the $40 paid
    invoices = pw.kb.invoices.of_account(pw.ctx, pw.account_id)
    assert [(i.type.value, i.start_date, i.end_date, i.amount) for i in invoices[-1].items] == [
        ("REPAIR_ADJ", date(2024, 2, 24), date(2024, 3, 5), Decimal("-6.90")),
        ("CBA_ADJ", date(2024, 3, 5), date(2024, 3, 5), Decimal("6.90"))]
    assert pw.kb.invoices.account_balances(pw.ctx, pw.kb.accounts.get(pw.ctx, pw.account_id)) == (
        Decimal("-6.90"), Decimal("6.90"))


def test_overdue_enforcement_off_clears_and_freezes_the_account(pw: PayWorld) -> None:
    pw.kb.overdue.upload_xml(pw.ctx, CONFIG)
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    pw.w.create("silver-monthly")
    assert _state(pw) == CLEAR_STATE_NAME
    _at(pw, date(2024, 2, 24))
    assert _state(pw) == "BLOCKED"
    pw.kb.tags.add_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[OVERDUE_ENFORCEMENT_OFF].id])
    assert _state(pw) == CLEAR_STATE_NAME
    assert AUTO_INVOICING_OFF not in _control_tags(pw)
    _at(pw, date(2024, 3, 10))  # still unpaid, but enforcement is off
    assert _state(pw) == CLEAR_STATE_NAME


def test_an_account_of_a_tenant_without_configuration_stays_clear(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    pw.w.create("silver-monthly")
    assert _state(pw) == CLEAR_STATE_NAME
    pw.w.advance(days=60)
    assert _state(pw) == CLEAR_STATE_NAME
    assert _overdue_states(pw) == []


REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "overdue"


def test_kill_bills_server_profile_states_in_order(pw: PayWorld) -> None:
    path = REFERENCE / "killbill-profiles-main" / "overdue.xml"
    if not path.exists():
        pytest.skip(f"Kill Bill's reference overdue files are not beside this clone ({path})")
    pw.kb.overdue.upload_xml(pw.ctx, path.read_bytes())
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    pw.w.create("silver-monthly")  # 2024-01-15; no initial interval: events and the states' checks drive it
    assert _state(pw) == CLEAR_STATE_NAME
    seen = []
    day = date(2024, 1, 15)
    while day < date(2024, 3, 20):
        day += timedelta(days=1)
        _at(pw, day)
        name = pw.kb.overdue.account_state(pw.ctx, pw.account_id).name
        if not seen or seen[-1][1] != name:
            seen.append((day, name))
    # OD1 at 30 days is first seen when the next invoice (2024-02-15) re-evaluates; then every 5 days
    assert seen == [(date(2024, 1, 16), CLEAR_STATE_NAME), (date(2024, 2, 15), "OD1"), (date(2024, 2, 25), "OD2"),
                    (date(2024, 3, 6), "OD3")]


CANCELLING = """<overdueConfig><accountOverdueStates>
  <state name="CANCELLED">
    <condition><numberOfUnpaidInvoicesEqualsOrExceeds>1</numberOfUnpaidInvoicesEqualsOrExceeds></condition>
    <externalMessage>Cancelled for non-payment</externalMessage>
    <blockChanges>true</blockChanges>
    <subscriptionCancellationPolicy>END_OF_TERM</subscriptionCancellationPolicy>
  </state>
</accountOverdueStates></overdueConfig>"""


def test_a_state_that_cancels_subscriptions_and_a_duplicate_event_that_changes_nothing(pw: PayWorld) -> None:
    pw.kb.overdue.upload_xml(pw.ctx, CANCELLING)
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    sub = pw.w.create("silver-monthly")
    assert _state(pw) == "CANCELLED"  # the declined payment leaves one unpaid invoice
    view = pw.w.view(sub)  # entitlement ends now, billing at the end of the term paid for (still owed)
    assert view.state.value == "CANCELLED"
    assert view.billing_end is not None and view.billing_end.date() == date(2024, 2, 15)
    before = (_overdue_states(pw), pw.w.published(pw.account_id).count("OverdueChangeEvent"))
    # the same event again (at-least-once delivery, another node): nothing more written
    from billow.invoice.events import InvoicePaymentErrorEvent

    with pw.kb.db.transaction(pw.ctx) as uow:
        uow.post(InvoicePaymentErrorEvent(tenant_record_id=uow.tenant, account_record_id=pw.w.account.record_id,
                                          account_id=pw.account_id, object_id=None))
    assert _state(pw) == "CANCELLED"
    assert (_overdue_states(pw), pw.w.published(pw.account_id).count("OverdueChangeEvent")) == before
    assert before[1] == 1
