"""Bundle transfers and quantity changes on Kill Bill's own reference catalog, driven by the test clock, on SQLite
and PostgreSQL.

Each test replays a beatrix integration test (killbill/killbill 0.24, `beatrix/src/test/java/org/killbill/billing/
beatrix/integration/TestBundleTransfer.java` and `TestWithQuantityUpdate.java`) on the catalog it uses
(`beatrix/default/catalogTest.xml`, loaded as is) and asserts its ExpectedInvoiceItemCheck figures. Where Kill Bill's
test asserts nothing the figure follows Kill Bill's rules (billing-semantics.md 4.2-4.5: recurring price × quantity
prorated by days, repair = −round(days/period × amount)) and the arithmetic is shown. As in test_reference_catalogs,
beatrix pays each invoice and Billow has no payments yet: only where account credit lands differs, and is said.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from billow.account.model import Account, AccountData
from billow.app import Billow
from billow.catalog.model import BillingPeriod
from billow.core.context import CallContext
from billow.entitlement.model import BillingActionPolicy, SubscriptionRequest
from billow.invoice.model import Invoice
from billow.invoice.model import InvoiceItemType as T
from tests.invoice.reference import RefWorld, items
from tests.invoice.reference import new_world as world

R, FX, REP, CBA = "RECURRING", "FIXED", "REPAIR_ADJ", "CBA_ADJ"
DEFAULT = "beatrix/default/catalogTest.xml"
MONTHLY, ANNUAL = BillingPeriod.MONTHLY, BillingPeriod.ANNUAL
BILLED = (T.RECURRING, T.FIXED, T.REPAIR_ADJ)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def _account(w: RefWorld, bcd: int | None) -> Account:
    """A second account as beatrix's `getAccountData(bcd)` makes it (USD, UTC, reference time = now)."""
    return w.kb.accounts.create(w.ctx, AccountData(name="beatrix", currency="USD", bill_cycle_day_local=bcd,
                                                   time_zone="UTC", reference_time=w.kb.clock.utcnow()))


def _invoices_of(w: RefWorld, account: Account) -> list[Invoice]:
    w.idle()
    return w.kb.invoices.of_account(w.ctx, account.id)


# ------------------------------------------------------------------------------------------------- TestBundleTransfer


def test_transfer_annual_end_of_term(billow: Billow, tenant_ctx: CallContext) -> None:
    """testBundleTransferWithBPAnnualOnly: the destination bills a whole year from the transfer day (the annual
    plan is aligned on the subscription, which starts again there), the source nothing more."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 0, 15, 42), bcd=3)
    sid = w.create(product="Shotgun", period=ANNUAL, key="externalKey")
    assert len(w.invoices()) == 1
    w.add_days(40)  # the trial ended 2012-05-01: the first year is invoiced
    assert len(w.invoices()) == 2
    dest = _account(w, 17)
    w.kb.entitlements.transfer_bundle(w.ctx, w.bundle_of(sid), dest.id)
    w.idle()
    [first] = _invoices_of(w, dest)
    assert items(first) == [(R, date(2012, 5, 11), date(2013, 5, 11), D("2399.95"))]
    # checkNoMoreInvoiceToGenerate(account): the source is cancelled at its charged-through date
    assert len(w.invoices()) == 2
    assert w.kb.entitlements.view(w.ctx, sid).billing_end == at(2013, 5, 1, 0, 15, 42)


def test_transfer_monthly_end_of_term(billow: Billow, tenant_ctx: CallContext) -> None:
    """testBundleTransferWithBPMonthlyOnly: the destination's bill cycle day is the transfer's day."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 0, 15, 42), bcd=0)
    sid = w.create(product="Shotgun", period=MONTHLY, key="externalKey")
    w.add_days(32)
    dest = _account(w, 0)
    w.kb.entitlements.transfer_bundle(w.ctx, w.bundle_of(sid), dest.id)
    w.idle()
    assert w.kb.accounts.get(w.ctx, w.account.id).bill_cycle_day_local == 1
    assert w.kb.accounts.get(w.ctx, dest.id).bill_cycle_day_local == 3
    [first] = _invoices_of(w, dest)
    assert items(first) == [(R, date(2012, 5, 3), date(2012, 6, 3), D("249.95"))]
    assert len(w.invoices()) == 2
    w.add_days(31)  # the source stopped at 2012-06-01; the destination bills its next month
    assert len(w.invoices()) == 2
    assert [items(i) for i in _invoices_of(w, dest)][1] == [(R, date(2012, 6, 3), date(2012, 7, 3), D("249.95"))]


def test_transfer_monthly_immediately(billow: Billow, tenant_ctx: CallContext) -> None:
    """testBundleTransferWithBPMonthlyOnlyWIthCancellationImm: the source's period is repaired from the transfer."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 0, 15, 42), bcd=9)
    sid = w.create(product="Shotgun", period=MONTHLY, key="externalKey")
    w.add_days(32)
    dest = _account(w, 15)
    w.kb.entitlements.transfer_bundle(w.ctx, w.bundle_of(sid), dest.id, requested_date=w.kb.clock.utcnow(),
                                      billing_policy=BillingActionPolicy.IMMEDIATE)
    w.idle()
    invoices = w.invoices()
    assert len(invoices) == 3
    assert items(invoices[1], *BILLED) == [(R, date(2012, 5, 1), date(2012, 5, 9), D("66.65"))]
    assert items(invoices[2]) == [(CBA, date(2012, 5, 3), date(2012, 5, 3), D("49.99")),
                                  (REP, date(2012, 5, 3), date(2012, 5, 9), D("-49.99"))]
    # Billow (unpaid invoices): that credit pays the older invoice instead of staying on the account
    assert [it.amount for it in invoices[1].items if it.type is T.CBA_ADJ] == [D("-49.99")]
    [first] = _invoices_of(w, dest)
    assert items(first) == [(R, date(2012, 5, 3), date(2012, 5, 15), D("99.98"))]


def test_transfer_with_an_add_on(billow: Billow, tenant_ctx: CallContext) -> None:
    """testBundleTransferWithAddOn: base and add-on move on a billing day (IMMEDIATE, `transferEntitlements`):
    the source's month is repaired whole, the destination bills it."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1), bcd=1)
    dest = _account(w, 1)
    base = w.create(product="Shotgun", period=MONTHLY, key="bundle-with-add-on")
    bundle = w.bundle_of(base)
    addon = w.create(product="Telescopic-Scope", period=MONTHLY, bundle_id=bundle)
    invoices = w.invoices()
    assert items(invoices[0]) == [(FX, date(2012, 4, 1), date(2012, 5, 1), D("0"))]
    assert items(invoices[1]) == [(R, date(2012, 4, 1), date(2012, 5, 1), D("399.95"))]
    w.add_days(30)
    assert items(w.invoices()[2], *BILLED) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("249.95")),
                                               (R, date(2012, 5, 1), date(2012, 6, 1), D("999.95"))]
    w.set_time(at(2012, 6, 1, 1, 0))
    assert items(w.invoices()[3], *BILLED) == [(R, date(2012, 6, 1), date(2012, 7, 1), D("249.95")),
                                               (R, date(2012, 6, 1), date(2012, 7, 1), D("999.95"))]
    new = w.kb.entitlements.transfer_bundle(w.ctx, bundle, dest.id, requested_date=date(2012, 6, 1),
                                            billing_policy=BillingActionPolicy.IMMEDIATE)
    w.idle()
    invoices = w.invoices()
    assert len(invoices) == 5
    assert items(invoices[4]) == [(CBA, date(2012, 6, 1), date(2012, 6, 1), D("1249.90")),
                                  (REP, date(2012, 6, 1), date(2012, 7, 1), D("-999.95")),
                                  (REP, date(2012, 6, 1), date(2012, 7, 1), D("-249.95"))]
    [first] = _invoices_of(w, dest)
    assert items(first) == [(R, date(2012, 6, 1), date(2012, 7, 1), D("249.95")),
                            (R, date(2012, 6, 1), date(2012, 7, 1), D("999.95"))]
    transfer_day = date(2012, 6, 1)
    time = w.account.time
    for sid in (base, addon):
        old = w.kb.entitlements.view(w.ctx, sid)
        assert old.entitlement_start is not None and old.entitlement_end is not None and old.billing_end is not None
        assert (time.local_date(old.entitlement_start), time.local_date(old.entitlement_end)) == (
            date(2012, 4, 1), transfer_day)
        assert (time.local_date(old.subscription.start_date), time.local_date(old.billing_end)) == (
            date(2012, 4, 1), transfer_day)
    moved = w.kb.entitlements.bundle_views(w.ctx, new.id)[1]
    assert len(moved) == 2
    for v in moved:
        assert v.entitlement_start is not None and time.local_date(v.entitlement_start) == transfer_day
        assert time.local_date(v.subscription.start_date) == transfer_day
        assert v.entitlement_end is None and v.billing_end is None
    # checkNoMoreInvoiceToGenerate(account)
    w.add_days(31)
    assert len(w.invoices()) == 5


# ---------------------------------------------------------------------------------------------- TestWithQuantityUpdate


def _knife(w: RefWorld, quantity: int) -> str:
    req = SubscriptionRequest(account_id=w.account.id, plan_name="knife-monthly-notrial", quantity=quantity)
    sid = w.kb.entitlements.create(w.ctx, [req])[0].id
    w.idle()
    return sid


def test_quantity_from_the_next_billing_date(billow: Billow, tenant_ctx: CallContext) -> None:
    """testQuantityBasic: 7 knives at 29.95, then 10 from the next billing date (no proration)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2022, 11, 27), bcd=27)
    sid = _knife(w, 7)
    assert [items(i) for i in w.invoices()] == [[(R, date(2022, 11, 27), date(2022, 12, 27), D("209.65"))]]
    w.add_days(15)
    w.kb.entitlements.update_quantity(w.ctx, sid, 10, date(2022, 12, 27))
    w.add_days(15)
    invoices = w.invoices()
    assert len(invoices) == 2
    assert items(invoices[1]) == [(R, date(2022, 12, 27), date(2023, 1, 27), D("299.50"))]
    assert invoices[1].items[0].rate == D("299.50")  # the rate is the price × the quantity, as Kill Bill's


def test_quantity_changed_mid_period_is_repaired(billow: Billow, tenant_ctx: CallContext) -> None:
    """The same subscription, 10 knives from the middle of the period: the rest of it is repaired and billed
    again at the new quantity, as a plan change would be (15 of 30 days)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2022, 11, 27), bcd=27)
    sid = _knife(w, 7)
    w.add_days(15)  # 2022-12-12
    w.kb.entitlements.update_quantity(w.ctx, sid, 10)
    w.idle()
    invoices = w.invoices()
    assert len(invoices) == 2
    # new: 29.95 × 10 × 15/30 = 149.75; repaired: −209.65 × 15/30 = −104.825 → −104.83 (HALF_UP)
    assert items(invoices[1], *BILLED) == [(R, date(2022, 12, 12), date(2022, 12, 27), D("149.75")),
                                           (REP, date(2022, 12, 12), date(2022, 12, 27), D("-104.83"))]
    w.add_days(15)
    assert items(w.invoices()[2]) == [(R, date(2022, 12, 27), date(2023, 1, 27), D("299.50"))]


def test_quantity_multiplies_the_fixed_price_and_a_change_charges_it_again(billow: Billow,
                                                                           tenant_ctx: CallContext) -> None:
    """Refurbish-Maintenance (fixed 599.95 and 199.95 a month) bought twice: both prices are multiplied
    (`FixedAndRecurringInvoiceItemGenerator` l.262 and l.437). A quantity change is a new billing event which keeps
    its phase's fixed price (`DefaultBillingEvent.computeFixedPrice` drops it for a BCD change only), so the fixed
    price is charged again, at the new quantity, on the change's day."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1), bcd=1)
    base = w.create("pistol-monthly-notrial")
    req = SubscriptionRequest(account_id=w.account.id, plan_name="refurbish-maintenance", quantity=2,
                              bundle_id=w.bundle_of(base))
    addon = w.kb.entitlements.create(w.ctx, [req])[0].id
    w.idle()

    def of_addon(inv: Invoice) -> list[tuple[str, date | None, date | None, D]]:
        return sorted((it.type.value, it.start_date, it.end_date, it.amount) for it in inv.items
                      if it.subscription_id == addon or (it.type is T.REPAIR_ADJ and it.amount < -100))

    assert of_addon(w.invoices()[-1]) == [(FX, date(2012, 4, 1), None, D("1199.90")),
                                          (R, date(2012, 4, 1), date(2012, 5, 1), D("399.90"))]
    w.add_days(15)  # 2012-04-16
    w.kb.entitlements.update_quantity(w.ctx, addon, 3)
    w.idle()
    # fixed 599.95 × 3; recurring 199.95 × 3 × 15/30 = 299.925 → 299.93; repaired −399.90 × 15/30 = −199.95
    assert of_addon(w.invoices()[-1]) == [(FX, date(2012, 4, 16), None, D("1799.85")),
                                          (R, date(2012, 4, 16), date(2012, 5, 1), D("299.93")),
                                          (REP, date(2012, 4, 16), date(2012, 5, 1), D("-199.95"))]
