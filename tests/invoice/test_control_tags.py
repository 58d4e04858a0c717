"""What control tags do to invoicing, on the test clock (SQLite and PostgreSQL), with Kill Bill's figures.

Kill Bill: `DefaultInternalBillingApi` and `InvoiceDispatcher.processAccountInternal` (AUTO_INVOICING_OFF skips
runs that are not API calls), `InvoiceTagHandler` (its removal runs the account at today),
`DefaultInvoiceGenerator` / `InvoiceDispatcher.generateKillBillInvoice` / `DefaultInvoiceDao.createInvoices`
(AUTO_INVOICING_DRAFT, AUTO_INVOICING_REUSE_DRAFT), `DefaultInvoice.getBalance` and
`DefaultInvoiceDao.getAccountBalance` (WRITTEN_OFF), `DefaultInvoiceUserApi.getInvoiceAsHTML` (MANUAL_PAY).
The catalog is the entitlement tests' (silver-monthly: $20.00 a month in advance, billed on the 15th).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from billow.account.model import AccountData
from billow.core.objects import ObjectType
from billow.entitlement.model import SubscriptionRequest
from billow.invoice.model import InvoiceItemType, InvoiceStatus
from billow.invoice.presentation.service import INVOICE_MP_TEMPLATE, INVOICE_TEMPLATE
from billow.invoice.service import ItemInput
from tests.invoice.scenarios import World, invoices_of, items_of
from tests.tag.conftest import published

R, CBA = "RECURRING", "CBA_ADJ"
AUTO_INVOICING_OFF = "00000000-0000-0000-0000-000000000002"
WRITTEN_OFF = "00000000-0000-0000-0000-000000000004"
MANUAL_PAY = "00000000-0000-0000-0000-000000000005"
TEST = "00000000-0000-0000-0000-000000000006"
PARTNER = "00000000-0000-0000-0000-000000000007"
AUTO_INVOICING_DRAFT = "00000000-0000-0000-0000-000000000008"
AUTO_INVOICING_REUSE_DRAFT = "00000000-0000-0000-0000-000000000009"


def _tag(w: World, *definitions: str, kind: ObjectType = ObjectType.ACCOUNT, object_id: str | None = None) -> None:
    w.kb.tags.add_tags(w.ctx, kind, object_id or w.account.id, list(definitions))


def _untag(w: World, *definitions: str, kind: ObjectType = ObjectType.ACCOUNT, object_id: str | None = None) -> None:
    w.kb.tags.remove_tags(w.ctx, kind, object_id or w.account.id, list(definitions))
    assert w.kb.run_until_idle(30)


def _balance(w: World) -> D:
    return w.kb.invoices.account_balances(w.ctx, w.kb.accounts.get(w.ctx, w.account.id))[0]


def _month(start: date, end: date) -> tuple[str, date, date, D]:
    return (R, start, end, D("20.00"))


def test_auto_invoicing_off_skips_every_run_and_its_removal_catches_up(w: World) -> None:
    _tag(w, AUTO_INVOICING_OFF)
    sid = w.create("silver-monthly")
    assert invoices_of(w) == []  # the SUBSCRIPTION_CREATION run did nothing
    w.advance(days=31)  # 2024-02-15
    w.advance(days=35)  # 2024-03-21
    assert invoices_of(w) == []
    assert w.view(sid).subscription.charged_through_date is None
    _untag(w, AUTO_INVOICING_OFF)  # 2024-03-21: one invoice for everything due up to today
    [catch_up] = invoices_of(w)
    assert items_of(catch_up) == [_month(date(2024, 1, 15), date(2024, 2, 15)),
                                  _month(date(2024, 2, 15), date(2024, 3, 15)),
                                  _month(date(2024, 3, 15), date(2024, 4, 15))]
    assert (catch_up.invoice_date, catch_up.target_date, catch_up.status) == (
        date(2024, 3, 21), date(2024, 3, 21), InvoiceStatus.COMMITTED)
    assert _balance(w) == D("60.00")
    assert w.view(sid).subscription.charged_through_date == datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
    w.advance(days=25)  # 2024-04-15: billed as usual again
    assert [items_of(i) for i in invoices_of(w)[1:]] == [[_month(date(2024, 4, 15), date(2024, 5, 15))]]


def test_auto_invoicing_off_stops_the_billing_run_after_the_first_invoice(w: World) -> None:
    w.create("silver-monthly")
    w.advance(days=5)
    _tag(w, AUTO_INVOICING_OFF)
    w.advance(days=26)  # 2024-02-15: the next-billing-date run skips the account
    w.advance(days=30)  # 2024-03-16
    assert [items_of(i) for i in invoices_of(w)] == [[_month(date(2024, 1, 15), date(2024, 2, 15))]]
    _untag(w, AUTO_INVOICING_OFF)
    invoices = invoices_of(w)
    assert [items_of(i) for i in invoices[1:]] == [[_month(date(2024, 2, 15), date(2024, 3, 15)),
                                                    _month(date(2024, 3, 15), date(2024, 4, 15))]]
    assert invoices[1].target_date == date(2024, 3, 16)
    assert [e.event_type for e in published(w.kb, w.ctx, "INVOICE_CREATION")] == ["INVOICE_CREATION"] * 2


def test_api_runs_still_invoice_under_auto_invoicing_off(w: World) -> None:
    _tag(w, AUTO_INVOICING_OFF)
    w.create("silver-monthly")
    assert invoices_of(w) == []
    preview = w.kb.invoices.dry_run(w.ctx, w.account.id, date(2024, 1, 15))
    assert preview is not None and items_of(preview) == [_month(date(2024, 1, 15), date(2024, 2, 15))]
    made = w.kb.invoices.trigger(w.ctx, w.account.id, None)
    assert items_of(made) == [_month(date(2024, 1, 15), date(2024, 2, 15))]
    w.advance(days=31)  # the next billing date the API run recorded fires, and is skipped
    assert len(invoices_of(w)) == 1


def test_removing_another_tag_or_auto_invoicing_off_of_nothing_due_makes_no_invoice(w: World) -> None:
    w.create("silver-monthly")
    _tag(w, AUTO_INVOICING_OFF, TEST)
    _untag(w, TEST)
    _untag(w, AUTO_INVOICING_OFF)  # everything due was invoiced already
    assert len(invoices_of(w)) == 1


def test_auto_invoicing_draft_keeps_new_invoices_in_draft_until_committed(w: World) -> None:
    _tag(w, AUTO_INVOICING_DRAFT)
    sid = w.create("silver-monthly")
    [first] = invoices_of(w)
    assert first.status is InvoiceStatus.DRAFT and items_of(first) == [_month(date(2024, 1, 15), date(2024, 2, 15))]
    assert _balance(w) == D("0.00")  # a draft owes nothing yet
    assert w.view(sid).subscription.charged_through_date is None
    assert published(w.kb, w.ctx, "INVOICE_CREATION") == []
    w.advance(days=31)  # 2024-02-15: the next billing date was recorded all the same; a second draft
    drafts = invoices_of(w)
    assert [(i.status, items_of(i)) for i in drafts] == [
        (InvoiceStatus.DRAFT, [_month(date(2024, 1, 15), date(2024, 2, 15))]),
        (InvoiceStatus.DRAFT, [_month(date(2024, 2, 15), date(2024, 3, 15))])]
    w.kb.invoices.commit(w.ctx, drafts[0].id)
    assert _balance(w) == D("20.00")
    assert w.view(sid).subscription.charged_through_date == datetime(2024, 2, 15, 10, 0, tzinfo=UTC)
    _untag(w, AUTO_INVOICING_DRAFT)
    w.advance(days=29)  # 2024-03-15: committed again
    third = invoices_of(w)[2]
    assert (third.status, items_of(third)) == (InvoiceStatus.COMMITTED, [_month(date(2024, 3, 15),
                                                                                date(2024, 4, 15))])
    assert _balance(w) == D("40.00")  # the second draft still owes nothing


def test_auto_invoicing_reuse_draft_adds_to_the_draft_and_commits_it_without_the_draft_tag(w: World) -> None:
    _tag(w, AUTO_INVOICING_DRAFT, AUTO_INVOICING_REUSE_DRAFT)
    w.create("silver-monthly")
    w.advance(days=31)  # 2024-02-15: onto the same draft
    [draft] = invoices_of(w)
    assert draft.status is InvoiceStatus.DRAFT and draft.target_date == date(2024, 2, 15)
    assert items_of(draft) == [_month(date(2024, 1, 15), date(2024, 2, 15)),
                               _month(date(2024, 2, 15), date(2024, 3, 15))]
    _untag(w, AUTO_INVOICING_DRAFT)
    w.advance(days=29)  # 2024-03-15: a run not in draft mode adds to the draft and commits it
    [invoice] = invoices_of(w)
    assert invoice.id == draft.id and invoice.status is InvoiceStatus.COMMITTED
    assert invoice.target_date == date(2024, 3, 15)
    assert len(invoice.items) == 3 and _balance(w) == D("60.00")
    assert [e.object_id for e in published(w.kb, w.ctx, "INVOICE_CREATION")] == [invoice.id]
    w.advance(days=31)  # 2024-04-15: no draft left: a new invoice, COMMITTED
    assert [(i.status, items_of(i)) for i in invoices_of(w)[1:]] == [
        (InvoiceStatus.COMMITTED, [_month(date(2024, 4, 15), date(2024, 5, 15))])]


def test_written_off_invoices_owe_nothing_and_take_no_credit(w: World) -> None:
    w.create("silver-monthly")
    [first] = invoices_of(w)
    assert _balance(w) == D("20.00")
    _tag(w, WRITTEN_OFF, kind=ObjectType.INVOICE, object_id=first.id)
    written_off = w.kb.invoices.get(w.ctx, first.id)
    assert written_off.written_off and _balance(w) == D("0.00")
    # account credit is not spent on a written-off invoice...
    w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(5))], InvoiceItemType.CREDIT_ADJ,
                            requested=None, auto_commit=True)
    assert _balance(w) == D("-5.00")
    assert [it.type for it in w.kb.invoices.get(w.ctx, first.id).items] == [InvoiceItemType.RECURRING]
    # ...but on the next one
    w.advance(days=31)
    second = invoices_of(w)[-1]
    assert items_of(second) == [(CBA, date(2024, 2, 15), date(2024, 2, 15), D("-5.00")),
                                _month(date(2024, 2, 15), date(2024, 3, 15))]
    assert _balance(w) == D("15.00")
    _untag(w, WRITTEN_OFF, kind=ObjectType.INVOICE, object_id=first.id)
    assert not w.kb.invoices.get(w.ctx, first.id).written_off
    assert _balance(w) == D("35.00")


def test_manual_pay_accounts_get_the_manual_pay_template(w: World) -> None:
    w.create("silver-monthly")
    [invoice] = invoices_of(w)
    w.kb.presentation.upload_template(w.ctx, INVOICE_TEMPLATE, b"<p>regular {{invoice.invoiceNumber}}</p>",
                                      delete_if_exists=True)

    def html() -> str:
        return w.kb.presentation.html(w.ctx, invoice.id)

    assert html().startswith("<p>regular ")
    _tag(w, MANUAL_PAY)
    # no manual-pay template uploaded: Billow's default (Kill Bill's default manual-pay template is its default)
    assert "regular" not in html() and "<html" in html().lower()
    w.kb.presentation.upload_template(w.ctx, INVOICE_MP_TEMPLATE, b"<p>pay by wire {{invoice.invoiceNumber}}</p>",
                                      delete_if_exists=True)
    assert html().startswith("<p>pay by wire ")
    _untag(w, MANUAL_PAY)
    assert html().startswith("<p>regular ")


def test_test_and_partner_tags_change_no_invoice(w: World) -> None:
    _tag(w, TEST, PARTNER)
    w.create("silver-monthly")
    w.advance(days=31)
    assert [items_of(i) for i in invoices_of(w)] == [[_month(date(2024, 1, 15), date(2024, 2, 15))],
                                                     [_month(date(2024, 2, 15), date(2024, 3, 15))]]
    assert all(i.status is InvoiceStatus.COMMITTED for i in invoices_of(w))


def test_a_billing_batch_reads_its_control_tags_at_once(w: World) -> None:
    accounts = [w.account] + [w.kb.accounts.create(w.ctx, AccountData(name=f"Batch {i}", currency="USD"))
                              for i in range(3)]
    for a in accounts:
        w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=a.id, plan_name="silver-monthly")])
    assert w.kb.run_until_idle(30)
    w.kb.tags.add_tags(w.ctx, ObjectType.ACCOUNT, accounts[1].id, [AUTO_INVOICING_OFF])
    w.kb.tags.add_tags(w.ctx, ObjectType.ACCOUNT, accounts[2].id, [AUTO_INVOICING_DRAFT])
    run = w.kb.invoices.run
    original = run.control_tags
    reads: list[list[int]] = []

    def counting(uow, record_ids):  # type: ignore[no-untyped-def]
        reads.append(sorted(record_ids))
        return original(uow, record_ids)

    run.control_tags = counting
    try:
        w.advance(days=31)  # 2024-02-15: one batch bills the four accounts
    finally:
        run.control_tags = original
    # the batch reads the four accounts' tags at once; the payment service then reads, once for each pack of
    # INVOICE_CREATION events (the bus may run the two in one pack or two), the accounts of the two new COMMITTED
    # invoices, each once (written-off invoices have no balance)
    batch = sorted(a.record_id for a in accounts)
    assert reads[0] == batch
    assert sorted(arid for read in reads[1:] for arid in read) == sorted([accounts[0].record_id,
                                                                          accounts[3].record_id])
    statuses = [[(i.status, i.target_date) for i in w.kb.invoices.of_account(w.ctx, a.id)] for a in accounts]
    jan, feb = date(2024, 1, 15), date(2024, 2, 15)
    assert statuses == [[(InvoiceStatus.COMMITTED, jan), (InvoiceStatus.COMMITTED, feb)],
                        [(InvoiceStatus.COMMITTED, jan)],
                        [(InvoiceStatus.COMMITTED, jan), (InvoiceStatus.DRAFT, feb)],
                        [(InvoiceStatus.COMMITTED, jan), (InvoiceStatus.COMMITTED, feb)]]
