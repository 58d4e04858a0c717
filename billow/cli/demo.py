"""The demo: a tenant and a few accounts, created through the service API and printed."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from billow.account.model import Account, AccountData
from billow.app import Billow
from billow.core.context import CallContext
from billow.core.errors import Conflict

DEMO_API_KEY = "demo"
DEMO_API_SECRET = "demosecret"

DEMO_ACCOUNTS = [
    AccountData(external_key="demo-acme", name="Acme Corp", email="billing@acme.example", currency="USD",
                time_zone="America/New_York", locale="en_US", country="US", company_name="Acme Corp"),
    AccountData(external_key="demo-dupont", name="Marie Dupont", first_name_length=5, email="marie@dupont.example",
                currency="EUR", time_zone="Europe/Paris", locale="fr_FR", country="FR"),
    AccountData(external_key="demo-smith", name="Smith & Sons Ltd", email="accounts@smith.example", currency="GBP",
                time_zone="Europe/London", locale="en_GB", country="GB", bill_cycle_day_local=15),
    # no payment method: its invoice stays unpaid and the demo's overdue configuration blocks it
    AccountData(external_key="demo-late", name="Late Payer Inc", email="ap@late.example", currency="USD",
                time_zone="America/Chicago", locale="en_US", country="US"),
]
UNPAID = "demo-late"

# The demo tenant's dunning: one unpaid invoice blocks changes, two or $1,000 unpaid block the service
DEMO_OVERDUE = """<overdueConfig>
  <accountOverdueStates>
    <state name="SUSPENDED">
      <condition><totalUnpaidInvoiceBalanceEqualsOrExceeds>1000</totalUnpaidInvoiceBalanceEqualsOrExceeds></condition>
      <externalMessage>Service suspended: please pay your invoices</externalMessage>
      <blockChanges>true</blockChanges>
      <disableEntitlementAndChangesBlocked>true</disableEntitlementAndChangesBlocked>
      <autoReevaluationInterval><unit>DAYS</unit><number>1</number></autoReevaluationInterval>
    </state>
    <state name="PAST_DUE">
      <condition><numberOfUnpaidInvoicesEqualsOrExceeds>1</numberOfUnpaidInvoicesEqualsOrExceeds></condition>
      <externalMessage>Your account is past due</externalMessage>
      <blockChanges>true</blockChanges>
      <autoReevaluationInterval><unit>DAYS</unit><number>1</number></autoReevaluationInterval>
    </state>
  </accountOverdueStates>
</overdueConfig>
"""


def run_demo(billow: Billow, console: Console) -> None:
    ctx = CallContext(user_name="demo")
    try:
        tenant = billow.tenants.create(ctx, DEMO_API_KEY, DEMO_API_SECRET, "demo-tenant")
    except Conflict:
        tenant = billow.tenants.get_by_api_key(DEMO_API_KEY)
    tctx = ctx.for_tenant(tenant.record_id, tenant.id)
    accounts = []
    for data in DEMO_ACCOUNTS:
        try:
            accounts.append(billow.accounts.create(tctx, data))
        except Conflict:
            assert data.external_key is not None
            accounts.append(billow.accounts.get_by_key(tctx, data.external_key))
    table = Table(title=f"Demo tenant (apiKey={DEMO_API_KEY}, apiSecret={DEMO_API_SECRET})")
    for col in ("account id", "external key", "name", "currency", "time zone", "BCD"):
        table.add_column(col)
    for a in accounts:
        table.add_row(a.id, a.external_key, a.name or "", a.currency or "", a.time_zone, str(a.bill_cycle_day_local))
    console.print(table)
    for a in accounts:  # each pays with Kill Bill's test gateway: invoices are paid as they are made
        if a.payment_method_id is None and a.external_key != UNPAID:
            billow.payment.methods.add(tctx, a.id, "killbill-payment-test", is_default=True)
    if billow.overdue.config(tctx).evaluates is False:
        billow.overdue.upload_xml(tctx, DEMO_OVERDUE)
    _email_settings(billow, tctx)
    _subscriptions(billow, tctx, accounts, console)
    _payments(billow, tctx, accounts, console)
    _overdue(billow, tctx, accounts, console)
    _emails(billow, tctx, accounts, console)
    _invoice_files(billow, tctx, accounts, console)


def _overdue(billow: Billow, ctx: CallContext, accounts: list[Account], console: Console) -> None:
    billow.run_until_idle(30)
    table = Table(title="Demo overdue states")
    for col in ("account", "state", "message", "changes blocked", "service blocked"):
        table.add_column(col)
    for account in accounts:
        state = billow.overdue.account_state(ctx, account.id)
        table.add_row(account.external_key, "clear" if state.is_clear else state.name, state.external_message,
                      "yes" if state.blocks_changes else "no", "yes" if state.disable_entitlement else "no")
    console.print(table)


def _email_settings(billow: Billow, ctx: CallContext) -> None:
    """The demo tenant emails its customers when their overdue state changes, as files (no SMTP server needed)."""
    from billow.cli.invoice import demo_output_dir
    from billow.email.model import PLUGIN_NAME

    key = f"PLUGIN_CONFIG_{PLUGIN_NAME}"
    if billow.tenants.get_values(ctx, key).values:
        return
    prefix = "org.killbill.billing.plugin.email-notifications."
    billow.tenants.add_value(ctx, key, "\n".join([
        f"{prefix}defaultEvents=OVERDUE_CHANGE", f"{prefix}smtp.defaultSender=billing@demo.example",
        f"{prefix}file.directory={demo_output_dir(billow) / 'emails'}"]), replace=True)


def _emails(billow: Billow, ctx: CallContext, accounts: list[Account], console: Console) -> None:
    from billow.cli.invoice import demo_output_dir

    billow.run_until_idle(30)
    folder = demo_output_dir(billow) / "emails"
    for account in accounts:
        if account.external_key != UNPAID:
            continue
        for email, _ in billow.emails.of_account(ctx, account.id):
            where = folder / f"{email.id}.eml"
            console.print(f"Email to {email.recipients} ({email.event_type} {email.details.get('state', '')}): "
                          f"\"{email.subject}\", {email.status.value}" + (f", written to {where}" if where.exists()
                                                                          else ""))


def _payments(billow: Billow, ctx: CallContext, accounts: list[Account], console: Console) -> None:
    from billow.invoice.credit import balance

    billow.run_until_idle(30)
    table = Table(title="Demo invoices and their payments")
    for col in ("account", "invoice", "amount", "paid", "balance", "payment"):
        table.add_column(col)
    for account in accounts:
        paid_by = {r.invoice_id: r.payment_id for r in billow.payment.invoices.of_account(ctx, account.id)
                   if r.success}
        for inv in billow.invoices.of_account(ctx, account.id):
            charged = balance(inv) + inv.paid_amount
            table.add_row(account.external_key, str(inv.invoice_number), f"{charged} {inv.currency}",
                          str(inv.paid_amount), str(balance(inv)), (paid_by.get(inv.id) or "")[:13])
    console.print(table)


# what each demo account subscribes to, on Billow's default catalog
DEMO_PLANS = {
    "demo-acme": [["starter-monthly", "prioritysupport-monthly"]],
    "demo-dupont": [["professional-annual"]],
    "demo-smith": [["professional-monthly-promo"], ["onboarding-fixedterm"]],
    "demo-late": [["onboarding-fixedterm"]],
}


def _subscriptions(billow: Billow, ctx: CallContext, accounts: list[Account], console: Console) -> None:
    from billow.entitlement.model import SubscriptionRequest

    if billow.catalogs.catalog(ctx) is None:
        billow.catalogs.upload_default(ctx)
    table = Table(title="Demo subscriptions")
    for col in ("account", "bundle", "plan", "phase", "state", "BCD"):
        table.add_column(col)
    for account in accounts:
        _, bundles, views = billow.entitlements.account_views(ctx, account.id)
        if not views:
            for plans in DEMO_PLANS.get(account.external_key, []):
                billow.entitlements.create(ctx, [SubscriptionRequest(account_id=account.id, plan_name=p)
                                                 for p in plans])
            _, bundles, views = billow.entitlements.account_views(ctx, account.id)
        keys = {b.id: b.external_key for b in bundles}
        for v in views:
            cur = v.current
            table.add_row(account.external_key, keys.get(v.subscription.bundle_id, "")[:13],
                          cur.plan.name if cur and cur.plan else "", cur.phase.name if cur and cur.phase else "",
                          v.state.value, str(v.bill_cycle_day_local or ""))
    console.print(table)
    billow.run_until_idle(30)
    invoices = Table(title="Demo invoices")
    for col in ("account", "number", "date", "target", "status", "amount", "balance", "items"):
        invoices.add_column(col)
    from billow.invoice.credit import balance

    for account in accounts:
        for inv in billow.invoices.of_account(ctx, account.id):
            amount = sum((it.amount for it in inv.items if it.type.is_charge or it.type.value.endswith("_ADJ")
                          and it.type.value != "CBA_ADJ"), start=0)
            invoices.add_row(account.external_key, str(inv.invoice_number), str(inv.invoice_date),
                             str(inv.target_date or ""), inv.status.value, f"{amount:.2f} {inv.currency}",
                             f"{balance(inv):.2f}", ", ".join(f"{it.type.value} {it.amount:.2f}" for it in inv.items))
    console.print(invoices)


def _invoice_files(billow: Billow, ctx: CallContext, accounts: list[Account], console: Console) -> None:
    """The last step: one invoice written as HTML and PDF (a French one with something to pay, when there is)."""
    from billow.cli.invoice import demo_output_dir, write_invoice

    ordered = sorted(accounts, key=lambda a: a.locale != "fr_FR")
    invoices = [inv for a in ordered for inv in billow.invoices.of_account(ctx, a.id) if inv.items]
    invoice = next((inv for inv in invoices if any(it.amount for it in inv.items)), invoices[0] if invoices else None)
    if invoice is None:
        return
    out = demo_output_dir(billow)
    stem = f"invoice-{invoice.invoice_number or invoice.id}"
    html = write_invoice(billow, ctx, invoice.id, out / f"{stem}.html", fmt="html")
    console.print(f"Invoice {invoice.invoice_number} as HTML: {html}")
    try:
        pdf = write_invoice(billow, ctx, invoice.id, out / f"{stem}.pdf", fmt="pdf")
    except Exception as exc:  # noqa: BLE001 - the demo goes on without a PDF library
        console.print(f"Invoice {invoice.invoice_number} as PDF: not written ({exc})")
        return
    console.print(f"Invoice {invoice.invoice_number} as PDF: {pdf}")
