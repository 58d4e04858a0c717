"""Account emails and the account hierarchy through the account service, on SQLite and PostgreSQL (Kill Bill's
`AccountResource` emails and children, `DefaultAccountUserApi`, `DefaultAccountDao`)."""

from __future__ import annotations

import pytest

from billow.account.model import AccountData
from billow.app import Billow
from billow.core.context import CallContext
from billow.core.errors import InvalidInput, NotFound

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def _emails(billow: Billow, ctx: CallContext, account_id: str) -> list[str]:
    return [e.email for e in billow.accounts.emails(ctx, account_id)]


def test_add_list_and_remove_emails(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Mail", currency="USD"))
    billow.accounts.add_email(tenant_ctx, account.id, "a@example.com")
    billow.accounts.add_email(tenant_ctx, account.id, "b@example.com")
    billow.accounts.add_email(tenant_ctx, account.id, "a@example.com")  # already there: not added twice
    assert _emails(billow, tenant_ctx, account.id) == ["a@example.com", "b@example.com"]
    assert {e.account_id for e in billow.accounts.emails(tenant_ctx, account.id)} == {account.id}
    removed = billow.accounts.emails(tenant_ctx, account.id)[0]
    billow.accounts.remove_email(tenant_ctx, account.id, "a@example.com")
    billow.accounts.remove_email(tenant_ctx, account.id, "nobody@example.com")  # nothing to remove: no error
    assert _emails(billow, tenant_ctx, account.id) == ["b@example.com"]
    # the removed row keeps its history: added, then deleted (marked inactive)
    logs = billow.accounts.email_audit_logs(tenant_ctx, removed.id)
    assert [(e.change_type, e.object_type, e.object_id, e.changed_by) for e in logs] == [
        ("INSERT", "ACCOUNT_EMAIL", removed.id, "tests"), ("DELETE", "ACCOUNT_EMAIL", removed.id, "tests")]
    assert [(e.history or {}).get("isActive") for e in logs] == [True, False]
    assert [(e.history or {}).get("email") for e in logs] == ["a@example.com"] * 2
    # the email can come back: a new row
    billow.accounts.add_email(tenant_ctx, account.id, "a@example.com")
    assert _emails(billow, tenant_ctx, account.id) == ["b@example.com", "a@example.com"]
    assert billow.accounts.emails(tenant_ctx, account.id)[-1].id != removed.id


def test_email_refusals_and_unknowns(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Mail", currency="USD"))
    for bad, match in ((None, "email: needs to be set"), ("", "email: needs to be set"),
                       ("x" * 120 + "@example.com", "email: longer than 128")):
        with pytest.raises(InvalidInput, match=match):
            billow.accounts.add_email(tenant_ctx, account.id, bad)
    with pytest.raises(NotFound) as e:
        billow.accounts.add_email(tenant_ctx, UNKNOWN, "a@example.com")
    assert e.value.code == 3002
    assert billow.accounts.emails(tenant_ctx, account.id) == []
    assert billow.accounts.emails(tenant_ctx, UNKNOWN) == []  # Kill Bill does not look the account up
    assert billow.accounts.email_audit_logs(tenant_ctx, UNKNOWN) == []


def test_emails_are_the_tenants_own(billow: Billow, tenant_ctx: CallContext) -> None:
    account = billow.accounts.create(tenant_ctx, AccountData(name="Mail", currency="USD"))
    billow.accounts.add_email(tenant_ctx, account.id, "a@example.com")
    [email] = billow.accounts.emails(tenant_ctx, account.id)
    other = billow.tenants.create(CallContext(user_name="tests"), f"other-{account.id[:8]}", "secret")
    octx = CallContext(user_name="intruder").for_tenant(other.record_id, other.id)
    assert billow.accounts.emails(octx, account.id) == []
    assert billow.accounts.email_audit_logs(octx, email.id) == []
    billow.accounts.remove_email(octx, account.id, "a@example.com")
    with pytest.raises(NotFound):
        billow.accounts.add_email(octx, account.id, "b@example.com")
    assert _emails(billow, tenant_ctx, account.id) == ["a@example.com"]


def test_children_and_parent_rules(billow: Billow, tenant_ctx: CallContext) -> None:
    parent = billow.accounts.create(tenant_ctx, AccountData(name="Parent", currency="USD"))
    first = billow.accounts.create(tenant_ctx, AccountData(name="First", currency="USD",
                                                          parent_account_id=parent.id,
                                                          is_payment_delegated_to_parent=True))
    second = billow.accounts.create(tenant_ctx, AccountData(name="Second", currency="USD"))
    billow.accounts.update(tenant_ctx, second.id, AccountData(parent_account_id=parent.id))
    children = billow.accounts.children(tenant_ctx, parent.id)
    assert [(c.id, c.is_payment_delegated_to_parent) for c in children] == [(first.id, True), (second.id, False)]
    assert billow.accounts.children(tenant_ctx, first.id) == []
    assert billow.accounts.children(tenant_ctx, UNKNOWN) == []  # Kill Bill does not look the parent up
    # an update leaving the parent out keeps it, and keeps the delegation
    billow.accounts.update(tenant_ctx, first.id, AccountData(notes="kept"))
    kept = billow.accounts.get(tenant_ctx, first.id)
    assert (kept.parent_account_id, kept.is_payment_delegated_to_parent) == (parent.id, True)
    # a parent must exist (Kill Bill: ACCOUNT_DOES_NOT_EXIST_FOR_ID), and an account is not its own parent
    with pytest.raises(NotFound) as e:
        billow.accounts.create(tenant_ctx, AccountData(name="Orphan", currency="USD", parent_account_id=UNKNOWN))
    assert (e.value.code, e.value.message) == (3002, f"Account does not exist for id {UNKNOWN}")
    with pytest.raises(InvalidInput, match="parentAccountId"):
        billow.accounts.update(tenant_ctx, parent.id, AccountData(parent_account_id=parent.id))
