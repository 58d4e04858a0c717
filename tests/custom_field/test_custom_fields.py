"""Custom fields on SQLite and PostgreSQL: creation, modification and removal with Kill Bill's rules and errors,
events and push notifications, reads, searches, audit and tenant isolation (`DefaultCustomFieldUserApi`,
`DefaultCustomFieldDao`, `JaxRsResourceBase`, `CustomFieldResource`)."""

from __future__ import annotations

from typing import Any

import pytest

from billow.core.errors import BillowError
from billow.core.objects import ObjectType
from billow.custom_field.model import CustomFieldInput as F
from billow.push.model import push_key
from tests.tag.conftest import Objects, published

CF_EXCEPTION = "org.killbill.billing.util.api.CustomFieldApiException"
NOT_FOUND = "org.killbill.billing.util.callcontext.InternalCallContextFactory$ObjectDoesNotExist"
UNKNOWN = "6e0c5a7d-0000-4000-8000-000000000000"


def _error(exc: pytest.ExceptionInfo[BillowError]) -> tuple[int, int | None, str, str]:
    e = exc.value
    return e.status, e.code, e.class_name, e.message


def _fields(o: Objects, kind: ObjectType, object_id: str) -> list[tuple[str, str | None]]:
    return [(v.field.name, v.field.value) for v in o.kb.custom_fields.fields_of(o.ctx, kind, object_id)]


def test_fields_are_created_listed_audited_and_announced(objects: Objects) -> None:
    o = objects
    created = o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id,
                                            [F("crm", "1234"), F("crm", "5678"), F("segment", "smb")])
    assert [(f.name, f.value, f.object_type, f.object_id) for f in created] == [
        ("crm", "1234", ObjectType.ACCOUNT, o.account_id), ("crm", "5678", ObjectType.ACCOUNT, o.account_id),
        ("segment", "smb", ObjectType.ACCOUNT, o.account_id)]
    views = o.kb.custom_fields.fields_of(o.ctx, ObjectType.ACCOUNT, o.account_id, "FULL")
    assert [v.field.id for v in views] == [f.id for f in created]
    assert [(a.change_type, a.object_type, a.object_id, a.changed_by) for a in views[0].audit_logs] == [
        ("INSERT", "CUSTOM_FIELD", created[0].id, "tests")]
    events = published(o.kb, o.ctx, "CUSTOM_FIELD_CREATION")
    assert [e.object_id for e in events] == [f.id for f in created]
    key = push_key(events[0], "http://127.0.0.1:9/cb", 0)
    assert (key["accountId"], key["objectType"], key["objectId"], key["metaData"]) == (
        o.account_id, "CUSTOM_FIELD", created[0].id, None)


@pytest.mark.parametrize(("field", "message"), [
    (F(None, "v"), "CustomFieldJson name needs to be set"),
    (F("", "v"), "CustomFieldJson name needs to be set"),
    (F("n", None), "CustomFieldJson value needs to be set"),
    (F("n", ""), "CustomFieldJson value needs to be set"),
    (F("n" * 65, "v"), "name: longer than 64 characters"),
    (F("n", "v" * 256), "value: longer than 255 characters"),
])
def test_a_field_needs_a_name_and_a_value(objects: Objects, field: F, message: str) -> None:
    o = objects
    with pytest.raises(BillowError) as exc:
        o.kb.custom_fields.add_fields(o.ctx, ObjectType.BUNDLE, o.bundle_id, [F("ok", "ok"), field])
    assert (exc.value.status, exc.value.message) == (400, message)
    assert _fields(o, ObjectType.BUNDLE, o.bundle_id) == []


def test_the_same_name_and_value_twice_is_refused_and_changes_nothing(objects: Objects) -> None:
    o = objects
    o.kb.custom_fields.add_fields(o.ctx, ObjectType.INVOICE, o.invoice_id, [F("po", "42")])
    for request in ([F("other", "1"), F("po", "42")], [F("x", "1"), F("x", "1")]):
        with pytest.raises(BillowError) as exc:
            o.kb.custom_fields.add_fields(o.ctx, ObjectType.INVOICE, o.invoice_id, request)
        status, code, class_name, message = _error(exc)
        assert (status, code, class_name) == (400, 9000, CF_EXCEPTION)
        assert message.startswith("The custom field ") and message.endswith(" already exists")
    assert _fields(o, ObjectType.INVOICE, o.invoice_id) == [("po", "42")]
    # the same pair on another object is another field
    o.kb.custom_fields.add_fields(o.ctx, ObjectType.INVOICE_ITEM, o.item_id, [F("po", "42")])
    assert _fields(o, ObjectType.INVOICE_ITEM, o.item_id) == [("po", "42")]


def test_an_unknown_object_or_one_of_another_tenant_is_not_found(objects: Objects,
                                                                 other_tenant: tuple[Any, str]) -> None:
    o = objects
    other_ctx, other_account = other_tenant
    for kind, object_id in ((ObjectType.SUBSCRIPTION, UNKNOWN), (ObjectType.ACCOUNT, other_account),
                            (ObjectType.PAYMENT_METHOD, UNKNOWN)):
        with pytest.raises(BillowError) as exc:
            o.kb.custom_fields.add_fields(o.ctx, kind, object_id, [F("a", "b")])
        assert _error(exc) == (404, None, NOT_FOUND, f"Object id={object_id} type={kind.value} doesn't exist!")
    assert o.kb.custom_fields.page(o.ctx).total == 0
    o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id, [F("a", "b")])
    assert o.kb.custom_fields.fields_of(other_ctx, ObjectType.ACCOUNT, o.account_id) == []
    assert o.kb.custom_fields.search(other_ctx, "a").items == []


def test_modification_changes_values_with_an_audited_update_and_no_event(objects: Objects) -> None:
    o = objects
    [crm, seg] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id,
                                               [F("crm", "1"), F("segment", "smb")])
    changed = o.kb.custom_fields.modify_fields(o.ctx, ObjectType.ACCOUNT, o.account_id,
                                               [F(None, "2", crm.id), F("segment", "enterprise", seg.id)])
    assert [(f.id, f.value) for f in changed] == [(crm.id, "2"), (seg.id, "enterprise")]
    assert _fields(o, ObjectType.ACCOUNT, o.account_id) == [("crm", "2"), ("segment", "enterprise")]
    logs = o.kb.custom_fields.field_audit_logs(o.ctx, crm.id)
    assert [(a.change_type, (a.history or {}).get("fieldValue")) for a in logs] == [("INSERT", "1"), ("UPDATE", "2")]
    assert len(published(o.kb, o.ctx, "CUSTOM_FIELD_CREATION")) == 2
    assert [e.event_type for e in published(o.kb, o.ctx, "CUSTOM_FIELD_DELETION")] == []


def test_modification_errors(objects: Objects, other_tenant: tuple[Any, str]) -> None:
    o = objects
    other_ctx, other_account = other_tenant
    [crm] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id, [F("crm", "1")])
    [theirs] = o.kb.custom_fields.add_fields(other_ctx, ObjectType.ACCOUNT, other_account, [F("crm", "1")])
    [on_bundle] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.BUNDLE, o.bundle_id, [F("b", "1")])
    cases = [
        ([F(None, "2")], 400, None, "CustomFieldJson id needs to be set"),
        ([F(None, None, crm.id)], 400, None, "CustomFieldJson value needs to be set"),
        ([F(None, "2", UNKNOWN)], 400, 9001, f"The custom field does not exists for id {UNKNOWN}"),
        ([F(None, "2", theirs.id)], 400, 9001, f"The custom field does not exists for id {theirs.id}"),
        ([F(None, "2", on_bundle.id)], 400, 9002,
         f"Failed to update custom field {on_bundle.id}: Invalid value {o.account_id} for field ObjectId"),
        ([F(None, "2", crm.id), F("renamed", "2", crm.id)], 400, 9002,
         f"Failed to update custom field {crm.id}: Invalid value renamed for field FieldName"),
    ]
    for request, status, code, message in cases:
        with pytest.raises(BillowError) as exc:
            o.kb.custom_fields.modify_fields(o.ctx, ObjectType.ACCOUNT, o.account_id, request)
        assert (exc.value.status, exc.value.code, exc.value.message) == (status, code, message)
    assert _fields(o, ObjectType.ACCOUNT, o.account_id) == [("crm", "1")]  # the first change was rolled back
    with pytest.raises(BillowError) as exc:
        o.kb.custom_fields.modify_fields(o.ctx, ObjectType.INVOICE, o.bundle_id, [F(None, "2", on_bundle.id)])
    assert exc.value.status == 404  # the object of the path must exist


def test_removal_of_chosen_fields_or_all_of_them(objects: Objects) -> None:
    o = objects
    [a, b, c] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id,
                                              [F("a", "1"), F("b", "2"), F("c", "3")])
    [elsewhere] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id, [F("z", "9")])
    # ids of another object's fields and unknown ids are ignored
    o.kb.custom_fields.remove_fields(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [b.id, elsewhere.id, UNKNOWN])
    assert _fields(o, ObjectType.SUBSCRIPTION, o.subscription_id) == [("a", "1"), ("c", "3")]
    assert _fields(o, ObjectType.ACCOUNT, o.account_id) == [("z", "9")]
    o.kb.custom_fields.remove_fields(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id)
    assert _fields(o, ObjectType.SUBSCRIPTION, o.subscription_id) == []
    assert [e.object_id for e in published(o.kb, o.ctx, "CUSTOM_FIELD_DELETION")] == [b.id, a.id, c.id]
    logs = o.kb.custom_fields.field_audit_logs(o.ctx, b.id)  # a removed field keeps its history
    assert [(x.change_type, (x.history or {}).get("isActive")) for x in logs] == [("INSERT", True),
                                                                                   ("DELETE", False)]
    # nothing to remove on an unknown object: no error (Kill Bill does not look it up then)
    o.kb.custom_fields.remove_fields(o.ctx, ObjectType.BUNDLE, UNKNOWN)
    # a re-created pair is allowed once the old one is gone
    o.kb.custom_fields.add_fields(o.ctx, ObjectType.SUBSCRIPTION, o.subscription_id, [F("a", "1")])


def test_fields_of_every_object_of_an_account(objects: Objects) -> None:
    o = objects
    for kind, object_id in ((ObjectType.ACCOUNT, o.account_id), (ObjectType.BUNDLE, o.bundle_id),
                            (ObjectType.INVOICE, o.invoice_id), (ObjectType.INVOICE_ITEM, o.item_id)):
        o.kb.custom_fields.add_fields(o.ctx, kind, object_id, [F("where", kind.value)])
    found = o.kb.custom_fields.account_fields(o.ctx, o.account_id, audit="MINIMAL")
    assert [v.field.value for v in found] == ["ACCOUNT", "BUNDLE", "INVOICE", "INVOICE_ITEM"]
    assert all(len(v.audit_logs) == 1 for v in found)
    assert [v.field.value for v in o.kb.custom_fields.account_fields(o.ctx, o.account_id,
                                                                     object_type=ObjectType.BUNDLE)] == ["BUNDLE"]
    with pytest.raises(BillowError) as exc:
        o.kb.custom_fields.account_fields(o.ctx, UNKNOWN)
    assert _error(exc)[:3] == (404, None, NOT_FOUND)


def test_pages_and_searches(objects: Objects) -> None:
    o = objects
    [crm, seg, po] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.ACCOUNT, o.account_id,
                                                   [F("crm", "QRS-1"), F("segment", "smb"), F("po", "qrs")])
    [inv_po] = o.kb.custom_fields.add_fields(o.ctx, ObjectType.INVOICE, o.invoice_id, [F("po", "qrs")])
    o.kb.custom_fields.remove_fields(o.ctx, ObjectType.ACCOUNT, o.account_id, [seg.id])
    page = o.kb.custom_fields.page(o.ctx, 1, 2)
    assert [v.field.id for v in page.items] == [po.id, inv_po.id] and (page.total, page.max_records) == (3, 3)

    def found(key: str) -> list[str]:
        result = o.kb.custom_fields.search(o.ctx, key)
        assert result.max_records == 3
        return [v.field.id for v in result.items]

    assert found("QRS") == [crm.id]  # a value, case-sensitive (letters no UUID has)
    assert found("qrs") == [po.id, inv_po.id]
    assert found("INVOICE") == [inv_po.id]  # an object type
    assert found(o.invoice_id[:8]) == [inv_po.id]  # part of an object id
    assert found("cr") == [crm.id]  # a name
    assert found(seg.id) == []  # removed
    assert found(crm.id) == [crm.id]
    typed = o.kb.custom_fields.search_by_type_and_name(o.ctx, "ACCOUNT", "po")
    assert [v.field.id for v in typed.items] == [po.id] and typed.total == 1
    assert o.kb.custom_fields.search_by_type_and_name(o.ctx, "INVOICE", "po", "qrs").total == 1
    assert o.kb.custom_fields.search_by_type_and_name(o.ctx, "INVOICE", "po", "qr").total == 0
    for args, message in (((None, "po"), "objectType in searchCustomFieldsByTypeName() is null"),
                          (("ACCOUNT", None), "fieldName in searchCustomFieldsByTypeName() is null"),
                          (("account", "po"), "No enum constant org.killbill.billing.ObjectType.account")):
        with pytest.raises(BillowError) as exc:
            o.kb.custom_fields.search_by_type_and_name(o.ctx, *args)
        assert (exc.value.status, exc.value.message) == (400, message)


def test_audit_logs_of_an_unknown_field_are_not_found(objects: Objects) -> None:
    o = objects
    with pytest.raises(BillowError) as exc:
        o.kb.custom_fields.field_audit_logs(o.ctx, UNKNOWN)
    assert _error(exc) == (404, None, NOT_FOUND, f"Object id={UNKNOWN} type=CUSTOM_FIELD doesn't exist!")
