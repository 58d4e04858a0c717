"""A SUBSCRIPTION_ACTION dry run of STOP_BILLING on a subscription already cancelled at the end of its term, on
SQLite and PostgreSQL.

Kill Bill checks no state here (`SubscriptionApiBase.populateDryRunEvents`): the what-if CANCEL is at the date
given, else at the billing policy's date, else now, and it takes the place of the subscription's events after it
(`DefaultSubscriptionDao.mergeDryRunEvents`). So with no date or policy the stored end-of-term cancellation is
dropped and the dry run shows the repair of an immediate cancellation; at the end of term (or any later date) the
stored cancellation stands and there is nothing to invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from billow.entitlement.model import BillingActionPolicy, EntitlementActionPolicy, SubscriptionRequest
from billow.invoice.dry_run import DryRunRequest
from tests.invoice.scenarios import World, invoices_of, items_of

REP, CBA = "REPAIR_ADJ", "CBA_ADJ"


def _stop(w: World, sid: str, **kw: object) -> list[tuple[str, date | None, date | None, D]] | None:
    bundle = w.view(sid).subscription.bundle_id
    request = DryRunRequest("SUBSCRIPTION_ACTION", subscription_id=sid, bundle_id=bundle, action="STOP_BILLING",
                            **kw)  # type: ignore[arg-type]
    invoice = w.kb.invoices.dry_run(w.ctx, w.account.id, None, request)
    return None if invoice is None else items_of(invoice)


def _cancelled_at_end_of_term(w: World) -> str:
    sid = w.create("silver-monthly")
    w.advance(days=10)  # 2024-01-25; invoiced 2024-01-15 .. 2024-02-15
    w.kb.entitlements.cancel(w.ctx, sid, entitlement_policy=EntitlementActionPolicy.END_OF_TERM,
                             billing_policy=BillingActionPolicy.END_OF_TERM)
    return sid


def test_no_date_nor_policy_simulates_an_immediate_cancel(w: World) -> None:
    sid = _cancelled_at_end_of_term(w)
    # 21 of the 31 days repaired: 20 × 21/31 = 13.548.. → 13.55, and the negative invoice becomes credit
    expected = [(CBA, date(2024, 1, 25), date(2024, 1, 25), D("13.55")),
                (REP, date(2024, 1, 25), date(2024, 2, 15), D("-13.55"))]
    assert _stop(w, sid) == expected
    assert _stop(w, sid, billing_policy=BillingActionPolicy.IMMEDIATE) == expected
    # nothing happened
    assert w.view(sid).billing_end is not None and len(invoices_of(w)) == 1


def test_end_of_term_the_same_date_or_later_changes_nothing(w: World) -> None:
    sid = _cancelled_at_end_of_term(w)
    assert _stop(w, sid, billing_policy=BillingActionPolicy.END_OF_TERM) is None
    assert _stop(w, sid, effective_date=date(2024, 2, 15)) is None
    assert _stop(w, sid, effective_date=date(2024, 2, 20)) is None


def test_a_date_before_the_end_of_term_repairs_from_that_date(w: World) -> None:
    sid = _cancelled_at_end_of_term(w)
    # cancelled on 2024-02-05 instead: 10 of 31 days repaired, 20 × 10/31 = 6.45
    # (the credit is dated the day the dry run happens, as every CBA item: today's UTC date)
    assert _stop(w, sid, effective_date=date(2024, 2, 5)) == [
        (CBA, date(2024, 1, 25), date(2024, 1, 25), D("6.45")), (REP, date(2024, 2, 5), date(2024, 2, 15), D("-6.45"))]


def test_the_add_ons_of_a_base_are_stopped_with_it(w: World) -> None:
    base = w.create("silver-monthly")
    bundle = w.view(base).subscription.bundle_id
    w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=w.account.id, plan_name="shield-monthly",
                                                         bundle_id=bundle)])
    w.advance(days=10)
    w.kb.entitlements.cancel(w.ctx, base, billing_policy=BillingActionPolicy.END_OF_TERM)
    items = _stop(w, base)
    assert items is not None
    # silver 20 and shield 5, each 21 of 31 days: 13.55 and 3.39
    assert sorted(a for t, _, _, a in items if t == REP) == [D("-13.55"), D("-3.39")]
    assert [a for t, _, _, a in items if t == CBA] == [D("16.94")]
