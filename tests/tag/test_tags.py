"""Tags on objects, on SQLite and PostgreSQL: adding and removing with Kill Bill's rules and errors, the events
and push notifications they make, reads, searches, audit, tenant isolation, and the bulk control-tag read of
the internal API (`DefaultTagUserApi`, `DefaultTagDao`, `JaxRsResourceBase`, `AccountResource`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event

from billow.account.model import AccountData
from billow.core.errors import BillowError
from billow.core.objects import ObjectType
from billow.push.model import push_key
from billow.tag.events import TagCreationEvent
from tests.tag.conftest import Objects, published

AUTO_PAY_OFF = "00000000-0000-0000-0000-000000000001"
AUTO_INVOICING_OFF = "00000000-0000-0000-0000-000000000002"
WRITTEN_OFF = "00000000-0000-0000-0000-000000000004"
MANUAL_PAY = "00000000-0000-0000-0000-000000000005"
TEST = "00000000-0000-0000-0000-000000000006"
PARTNER = "00000000-0000-0000-0000-000000000007"
PARK = "00000000-0000-0001-0000-000000000001"
UNKNOWN = "3f9a7c1e-0000-4000-8000-000000000000"
TAG_EXCEPTION = "org.killbill.billing.util.api.TagApiException"
NOT_FOUND = "org.killbill.billing.util.callcontext.InternalCallContextFactory$ObjectDoesNotExist"


def _error(exc: pytest.ExceptionInfo[BillowError]) -> tuple[int, int | None, str, str]:
    e = exc.value
    return e.status, e.code, e.class_name, e.message


def _names(o: Objects, kind: ObjectType, object_id: str, **kw: Any) -> list[str]:
    return [v.definition_name for v in o.kb.tags.tags_of(o.ctx, kind, object_id, **kw)]


def test_a_control_tag_on_an_account_is_listed_and_announced(objects: Objects) -> None:
    o = objects
    [tag] = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST])
    [view] = o.kb.tags.tags_of(o.ctx, ObjectType.ACCOUNT, o.account_id, audit="FULL")
    assert (view.tag.id, view.tag.object_type, view.tag.object_id, view.tag.tag_definition_id,
            view.definition_name) == (tag.id, ObjectType.ACCOUNT, o.account_id, TEST, "TEST")
    assert [(a.change_type, a.object_type, a.object_id, a.reason_code) for a in view.audit_logs] == [
        ("INSERT", "TAG", tag.id, "test")]
    [ev] = published(o.kb, o.ctx, "TAG_CREATION")
    assert isinstance(ev, TagCreationEvent)
    # Kill Bill's push notification: objectType TAG, objectId the tag (not the account), metaData its definition
    key = push_key(ev, "http://127.0.0.1:9/cb", 0)
    assert (key["eventType"], key["accountId"], key["objectType"], key["objectId"]) == (
        "TAG_CREATION", o.account_id, "TAG", tag.id)
    assert json.loads(key["metaData"]) == {"tagDefinitionName": "TEST"}
    assert (ev.tagged_object_id, ev.tagged_object_type, ev.is_control_tag) == (o.account_id, "ACCOUNT", True)


def test_a_tag_already_there_is_left_alone(objects: Objects) -> None:
    o = objects
    first = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST, PARTNER])
    again = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST, TEST])
    assert len(first) == 2 and again == []
    assert _names(o, ObjectType.ACCOUNT, o.account_id) == ["TEST", "PARTNER"]
    assert len(published(o.kb, o.ctx, "TAG_CREATION")) == 2


def test_a_request_with_an_unknown_definition_changes_nothing(objects: Objects) -> None:
    o = objects
    with pytest.raises(BillowError) as exc:
        o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST, UNKNOWN])
    assert _error(exc) == (400, 3902, TAG_EXCEPTION, f"The tag definition {UNKNOWN} does not exist")
    assert _names(o, ObjectType.ACCOUNT, o.account_id) == []
    assert published(o.kb, o.ctx, "TAG_CREATION") == []


def test_park_is_reserved_to_the_system(objects: Objects) -> None:
    o = objects
    for object_id in (o.account_id, UNKNOWN):  # refused before the object is even looked up
        with pytest.raises(BillowError) as exc:
            o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, object_id, [PARK])
        assert _error(exc) == (400, 3953, TAG_EXCEPTION,
                               f"Cannot add the system tag {PARK} (reserved to Kill Bill internal system)")


@pytest.mark.parametrize(("definition", "name", "kind"), [
    (WRITTEN_OFF, "WRITTEN_OFF", ObjectType.ACCOUNT),
    (AUTO_INVOICING_OFF, "AUTO_INVOICING_OFF", ObjectType.INVOICE),
    (AUTO_PAY_OFF, "AUTO_PAY_OFF", ObjectType.BUNDLE),
    (MANUAL_PAY, "MANUAL_PAY", ObjectType.SUBSCRIPTION),
])
def test_a_control_tag_goes_on_its_object_types_only(objects: Objects, definition: str, name: str,
                                                     kind: ObjectType) -> None:
    o = objects
    object_id = {ObjectType.ACCOUNT: o.account_id, ObjectType.INVOICE: o.invoice_id, ObjectType.BUNDLE: o.bundle_id,
                 ObjectType.SUBSCRIPTION: o.subscription_id}[kind]
    with pytest.raises(BillowError) as exc:
        o.kb.tags.add_tags(o.ctx, kind, object_id, [definition])
    assert _error(exc) == (400, None, "java.lang.IllegalStateException",
                           f"Invalid control tag '{name}' for object type '{kind.value}'")
    assert _names(o, kind, object_id) == []


def test_user_definitions_go_on_any_object_type(objects: Objects) -> None:
    """Kill Bill does not enforce a user definition's applicable object types (TestTag.testGetAllTags)."""
    o = objects
    payments_only = o.kb.tags.create_definition(o.ctx, "txn-only", "transactions", [ObjectType.TRANSACTION])
    o.kb.tags.add_tags(o.ctx, ObjectType.BUNDLE, o.bundle_id, [payments_only.id])
    o.kb.tags.add_tags(o.ctx, ObjectType.INVOICE, o.invoice_id, [WRITTEN_OFF])
    assert _names(o, ObjectType.BUNDLE, o.bundle_id) == ["txn-only"]
    assert _names(o, ObjectType.INVOICE, o.invoice_id) == ["WRITTEN_OFF"]
    [ev] = [e for e in published(o.kb, o.ctx, "TAG_CREATION") if isinstance(e, TagCreationEvent)
            and e.tagged_object_type == "BUNDLE"]
    assert (ev.account_id, ev.tag_definition_name, ev.is_control_tag) == (o.account_id, "txn-only", False)


def test_an_unknown_object_or_one_of_another_tenant_is_not_found(objects: Objects,
                                                                 other_tenant: tuple[Any, str]) -> None:
    o = objects
    other_ctx, other_account = other_tenant
    cases = [(ObjectType.BUNDLE, UNKNOWN), (ObjectType.SUBSCRIPTION, UNKNOWN), (ObjectType.INVOICE, UNKNOWN),
             (ObjectType.INVOICE_ITEM, UNKNOWN), (ObjectType.ACCOUNT, other_account),
             (ObjectType.PAYMENT, UNKNOWN)]  # no payment service yet: no payment exists
    for kind, object_id in cases:
        with pytest.raises(BillowError) as exc:
            o.kb.tags.add_tags(o.ctx, kind, object_id, [TEST])
        assert _error(exc) == (404, None, NOT_FOUND, f"Object id={object_id} type={kind.value} doesn't exist!")
    # and the other tenant cannot tag this tenant's account
    with pytest.raises(BillowError) as exc:
        o.kb.tags.add_tags(other_ctx, ObjectType.ACCOUNT, o.account_id, [TEST])
    assert exc.value.status == 404
    assert o.kb.tags.page(o.ctx).total == 0 and o.kb.tags.page(other_ctx).total == 0


def test_removal_keeps_the_row_inactive_audits_a_delete_and_announces_it(objects: Objects) -> None:
    o = objects
    watch = o.kb.tags.create_definition(o.ctx, "watch", "to watch", [ObjectType.SUBSCRIPTION]).id
    [tag] = o.kb.tags.add_tags(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [watch])
    o.kb.tags.remove_tags(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [watch])
    assert _names(o, ObjectType.SUBSCRIPTION, o.subscription_id) == []
    [removed] = o.kb.tags.tags_of(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, included_deleted=True,
                                  audit="FULL")
    assert removed.tag.id == tag.id and removed.tag.is_active is False
    assert [a.change_type for a in removed.audit_logs] == ["INSERT", "DELETE"]
    history = o.kb.tags.tag_audit_logs(o.ctx, tag.id)
    assert [(a.change_type, (a.history or {}).get("isActive")) for a in history] == [("INSERT", True),
                                                                                      ("DELETE", False)]
    [ev] = published(o.kb, o.ctx, "TAG_DELETION")
    key = push_key(ev, "http://127.0.0.1:9/cb", 0)
    assert (key["accountId"], key["objectType"], key["objectId"], json.loads(key["metaData"])) == (
        o.account_id, "TAG", tag.id, {"tagDefinitionName": "watch"})
    with pytest.raises(BillowError) as exc:
        o.kb.tags.remove_tags(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [watch])
    assert _error(exc) == (404, 3950, TAG_EXCEPTION, "The tag does not exist (name: watch)")
    with pytest.raises(BillowError) as exc:
        o.kb.tags.remove_tags(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [UNKNOWN])
    assert _error(exc) == (400, 3902, TAG_EXCEPTION, f"The tag definition {UNKNOWN} does not exist")
    o.kb.tags.remove_tags(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [])  # nothing asked: nothing done


def test_a_failed_removal_removes_nothing(objects: Objects) -> None:
    o = objects
    o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST])
    with pytest.raises(BillowError):
        o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST, PARTNER])
    assert _names(o, ObjectType.ACCOUNT, o.account_id) == ["TEST"]
    assert published(o.kb, o.ctx, "TAG_DELETION") == []


def test_auto_pay_off_stays_on_an_account_without_default_payment_method(objects: Objects) -> None:
    o = objects
    o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [AUTO_PAY_OFF])
    with pytest.raises(BillowError) as exc:
        o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [AUTO_PAY_OFF])
    assert _error(exc) == (400, 3951, TAG_EXCEPTION, "The tag AUTO_PAY_OFF cannot be removed because  the account "
                                                     "does not have a default payment method")
    o.kb.accounts.update(o.ctx, o.account_id, AccountData(payment_method_id="1b1b1b1b-0000-4000-8000-000000000000"))
    o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [AUTO_PAY_OFF])
    assert _names(o, ObjectType.ACCOUNT, o.account_id) == []


def test_reads_look_the_object_up_where_kill_bill_does(objects: Objects) -> None:
    o = objects
    assert o.kb.tags.tags_of(o.ctx, ObjectType.ACCOUNT, UNKNOWN) == []  # AccountResource: no look-up
    assert o.kb.tags.tags_of(o.ctx, ObjectType.INVOICE, UNKNOWN) == []  # InvoiceResource with audit NONE
    for kw in ({"must_exist": True}, {"account_id": UNKNOWN}):
        with pytest.raises(BillowError) as exc:
            o.kb.tags.tags_of(o.ctx, ObjectType.BUNDLE, UNKNOWN, **kw)  # type: ignore[arg-type]
        assert exc.value.status == 404
    assert o.kb.tags.tags_of(o.ctx, ObjectType.INVOICE_ITEM, o.item_id, account_id=o.account_id) == []


def test_all_tags_of_an_account_cover_every_one_of_its_objects(objects: Objects) -> None:
    o = objects
    mine = o.kb.tags.create_definition(o.ctx, "flagged", "flagged", [ObjectType.ACCOUNT])
    for kind, object_id in ((ObjectType.ACCOUNT, o.account_id), (ObjectType.BUNDLE, o.bundle_id),
                            (ObjectType.SUBSCRIPTION, o.subscription_id), (ObjectType.INVOICE, o.invoice_id),
                            (ObjectType.INVOICE_ITEM, o.item_id)):
        o.kb.tags.add_tags(o.ctx, kind, object_id, [mine.id])
    o.kb.tags.add_tags(o.ctx, ObjectType.INVOICE, o.invoice_id, [WRITTEN_OFF])
    o.kb.tags.remove_tags(o.ctx, ObjectType.BUNDLE, o.bundle_id, [mine.id])
    found = o.kb.tags.account_tags(o.ctx, o.account_id, audit="MINIMAL")
    assert [(v.tag.object_type.value, v.definition_name) for v in found] == [
        ("ACCOUNT", "flagged"), ("SUBSCRIPTION", "flagged"), ("INVOICE", "flagged"), ("INVOICE_ITEM", "flagged"),
        ("INVOICE", "WRITTEN_OFF")]
    assert all([a.change_type for a in v.audit_logs] == ["INSERT"] for v in found)
    invoices = o.kb.tags.account_tags(o.ctx, o.account_id, object_type=ObjectType.INVOICE)
    assert [v.definition_name for v in invoices] == ["flagged", "WRITTEN_OFF"]
    assert len(o.kb.tags.account_tags(o.ctx, o.account_id, included_deleted=True)) == 6
    with pytest.raises(BillowError) as exc:
        o.kb.tags.account_tags(o.ctx, UNKNOWN)
    assert _error(exc)[:3] == (404, None, NOT_FOUND)


def test_pages_and_searches_of_the_tenants_tags(objects: Objects, other_tenant: tuple[Any, str]) -> None:
    o = objects
    other_ctx, other_account = other_tenant
    vip = o.kb.tags.create_definition(o.ctx, "vip", "Very important person", [ObjectType.ACCOUNT])
    [t_test] = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST])
    [t_vip] = o.kb.tags.add_tags(o.ctx, ObjectType.BUNDLE, o.bundle_id, [vip.id])
    [t_off] = o.kb.tags.add_tags(o.ctx, ObjectType.INVOICE, o.invoice_id, [WRITTEN_OFF])
    [t_gone] = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [PARTNER])
    o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [PARTNER])
    o.kb.tags.add_tags(other_ctx, ObjectType.ACCOUNT, other_account, [TEST])

    page = o.kb.tags.page(o.ctx, 0, 2)
    assert [v.tag.id for v in page.items] == [t_test.id, t_vip.id]
    assert (page.total, page.max_records) == (3, 3)
    assert [v.tag.id for v in o.kb.tags.page(o.ctx, 2, 2).items] == [t_off.id]

    def found(key: str) -> list[str]:
        result = o.kb.tags.search(o.ctx, key)
        assert result.max_records == 3 and result.total == len(result.items)
        return [v.tag.id for v in result.items]

    assert found("TEST") == [t_test.id]  # a control tag's name
    assert found("this is a test account") == [t_test.id]  # its description
    assert found("important") == [t_vip.id]  # a tenant definition's description
    assert found("BUNDLE") == [t_vip.id]  # the object type
    assert found("INVOICE") == [t_off.id]  # the object type (and part of WRITTEN_OFF's description: no)
    assert found(t_off.id) == [t_off.id]  # the tag's id
    assert found("Partner") == []  # removed tags are not found; matching is case-sensitive
    assert found("test account") == [t_test.id]
    assert found("TEST ") == []
    assert t_gone.id not in found(t_gone.id)
    assert [v.tag.object_id for v in o.kb.tags.search(other_ctx, "TEST").items] == [other_account]


def test_control_tags_of_a_batch_of_accounts_in_one_query(objects: Objects) -> None:
    o = objects
    second = o.kb.accounts.create(o.ctx, AccountData(name="Second", currency="USD"))
    user = o.kb.tags.create_definition(o.ctx, "plain", "a user tag", [ObjectType.ACCOUNT])
    o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [AUTO_INVOICING_OFF, MANUAL_PAY, user.id])
    o.kb.tags.add_tags(o.ctx, ObjectType.INVOICE, o.invoice_id, [WRITTEN_OFF])
    o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, second.id, [TEST, PARTNER])
    o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, second.id, [PARTNER])
    first = o.w.account.record_id
    statements: list[str] = []
    with o.kb.db.read(o.ctx) as uow:
        event.listen(uow.conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        both = o.kb.tags.internal.control_tags_of_accounts(uow, [first, second.record_id])
        by_account = o.kb.tags.internal.control_tags(uow, [first, second.record_id, 10 ** 9])
    assert len(statements) == 2  # one read each
    assert both.of_account(first) == {"AUTO_INVOICING_OFF", "MANUAL_PAY"}
    assert both.of_account(second.record_id) == {"TEST"}
    assert both.of_object(o.invoice_id) == {"WRITTEN_OFF"}
    assert by_account == {first: frozenset({"AUTO_INVOICING_OFF", "MANUAL_PAY"}),
                          second.record_id: frozenset({"TEST"}), 10 ** 9: frozenset()}


def test_audit_logs_of_an_unknown_tag_are_not_found(objects: Objects, other_tenant: tuple[Any, str]) -> None:
    o = objects
    [tag] = o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, [TEST])
    for ctx, tag_id in ((o.ctx, UNKNOWN), (other_tenant[0], tag.id)):
        with pytest.raises(BillowError) as exc:
            o.kb.tags.tag_audit_logs(ctx, tag_id)
        assert _error(exc) == (404, None, NOT_FOUND, f"Object id={tag_id} type=TAG doesn't exist!")


def test_definition_ids_must_be_uuids(objects: Objects) -> None:
    o = objects
    with pytest.raises(BillowError) as exc:
        o.kb.tags.add_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, ["not-a-uuid"])
    assert (exc.value.status, exc.value.message) == (400, "tagDefinitionId: 'not-a-uuid' is not a UUID")
    with pytest.raises(BillowError) as exc:
        o.kb.tags.remove_tags(o.ctx, ObjectType.ACCOUNT, o.account_id, ["nope"])
    assert (exc.value.status, exc.value.message) == (400, "tagDef: 'nope' is not a UUID")
