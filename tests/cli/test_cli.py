"""The `billow` command: migrations and the demo, on fresh databases."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billow import Billow
from billow.cli.main import app
from billow.core.context import CallContext
from billow.invoice.credit import balance


def test_cli_db_upgrade_and_demo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "0001_foundation" in r.output or "revision" in r.output
    r = runner.invoke(app, ["demo", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "demo-acme" in r.output and "demo-dupont" in r.output
    assert "starter-monthly" in r.output and "prioritysupport-monthly" in r.output
    # running the demo again reuses what exists
    r = runner.invoke(app, ["demo", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    kb = Billow(url)
    tenant = kb.tenants.get_by_api_key("demo")
    ctx = CallContext().for_tenant(tenant.record_id, tenant.id)
    assert kb.accounts.list(ctx).total == 4
    # every invoice with something to pay was paid with the test gateway, once (the second demo paid nothing more),
    # but those of the account without a payment method, which is past due
    for account in kb.accounts.list(ctx).items:
        if account.external_key == "demo-late":
            assert kb.overdue.account_state(ctx, account.id).name == "PAST_DUE"
            assert [balance(inv) for inv in kb.invoices.of_account(ctx, account.id)] == [Decimal("600.00")]
            continue
        assert kb.overdue.account_state(ctx, account.id).is_clear
        invoices = kb.invoices.of_account(ctx, account.id)
        payments = kb.payment.payments.of_account(ctx, account.id)
        assert all(balance(inv) == 0 for inv in invoices)
        assert len(payments) == sum(1 for inv in invoices if inv.paid_amount > 0)
    assert "Demo invoices and their payments" in r.output
    assert "Demo overdue states" in r.output and "PAST_DUE" in r.output and "Your account is past due" in r.output
    # the past-due account's email, written to a file
    late = kb.accounts.get_by_key(ctx, "demo-late")
    [(email, _)] = kb.emails.of_account(ctx, late.id)
    assert (email.status.value, email.recipients, email.subject) == ("SENT", "ap@late.example",
                                                                      "Your Account Is Past Due")
    written = tmp_path / "billow-invoices" / "emails" / f"{email.id}.eml"
    assert f"written to {written}" in r.output.replace("\n", "")
    text = written.read_text()
    assert "Subject: Your Account Is Past Due" in text and "Your account is past due" in text
    kb.close()


def test_cli_bill_bills_the_accounts_due_by_the_day_given(tmp_path: Path) -> None:
    """`billow bill --date D` bills every account due by the end of D, once; run again, it has nothing to do."""
    from datetime import UTC, datetime

    from billow.account.model import AccountData
    from billow.core.clock import TestClock
    from billow.entitlement.model import SubscriptionRequest
    from billow.invoice.model import InvoiceItemType
    from tests.resilience.nodes import CATALOG

    url = f"sqlite:///{tmp_path / 'bill.db'}"
    kb = Billow(url, TestClock(datetime(2024, 1, 15, 12, tzinfo=UTC)))
    tenant = kb.tenants.create(CallContext(user_name="tests"), "bill", "secret")
    ctx = CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)
    kb.catalogs.upload(ctx, CATALOG)
    ids = []
    for i in range(3):
        acc = kb.accounts.create(ctx, AccountData(name=f"bill {i}", currency="USD", external_key=f"b{i}"))
        kb.entitlements.create(ctx, [SubscriptionRequest(account_id=acc.id, plan_name="basic-monthly")])
        ids.append(acc.id)
    assert kb.run_until_idle(60)
    runner = CliRunner()
    r = runner.invoke(app, ["bill", "--date", "2024-02-14", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "0 accounts, 0 invoices" in r.output  # due on the 15th
    r = runner.invoke(app, ["bill", "--date", "2024-02-15", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "3 accounts, 3 invoices" in r.output
    r = runner.invoke(app, ["bill", "--date", "2024-02-15", "--database-url", url], env={"COLUMNS": "200"})
    assert "0 accounts, 0 invoices" in r.output
    r = runner.invoke(app, ["bill", "--date", "15/02/2024", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    for account_id in ids:
        periods = sorted(it.start_date.isoformat() for inv in kb.invoices.of_account(ctx, account_id)
                         for it in inv.items if it.type is InvoiceItemType.RECURRING and it.start_date)
        assert periods == ["2024-01-15", "2024-02-15"]
    kb.close()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BILLOW_BUS_PACK_ROWS", "lots", "BILLOW_BUS_PACK_ROWS: 'lots' is not a whole number"),
    ("BILLOW_BUS_PROCESSES", "two", "BILLOW_BUS_PROCESSES: 'two' is not a whole number")])
def test_serve_names_a_bad_bus_setting_of_the_environment(tmp_path: Path, name: str, value: str,
                                                          message: str) -> None:
    url = f"sqlite:///{tmp_path / 'bad-env.db'}"
    r = CliRunner().invoke(app, ["serve", "--database-url", url], env={name: value, "COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert not (tmp_path / "bad-env.db").exists()  # refused before anything was created
