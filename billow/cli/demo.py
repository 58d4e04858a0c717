"""The demo: a tenant and a few accounts, created through the service API and printed."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from billow.account.model import AccountData
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
    AccountData(external_key="demo-tanaka", name="Tanaka KK", email="keiri@tanaka.example", currency="JPY",
                time_zone="Asia/Tokyo", locale="ja_JP", country="JP", bill_cycle_day_local=15),
]


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
    hook = getattr(billow, "extend_demo", None)
    if hook is not None:
        hook(tctx, accounts, console)
