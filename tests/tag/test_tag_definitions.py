"""Tag definitions on SQLite and PostgreSQL: Kill Bill's built-ins (never stored), a tenant's own ones, their
rules, errors, audit and isolation (`DefaultTagDefinitionDao`, `TagDefinitionResource`, `SystemTags`)."""

from __future__ import annotations

import pytest

from billow.app import Billow
from billow.core.context import CallContext
from billow.core.errors import BillowError
from billow.core.objects import ObjectType
from tests.tag.conftest import Objects, published_classes

CONTROL_NAMES = ["AUTO_PAY_OFF", "AUTO_INVOICING_OFF", "OVERDUE_ENFORCEMENT_OFF", "WRITTEN_OFF", "MANUAL_PAY", "TEST",
                 "PARTNER", "AUTO_INVOICING_DRAFT", "AUTO_INVOICING_REUSE_DRAFT"]


def _error(exc: pytest.ExceptionInfo[BillowError]) -> tuple[int, int | None, str, str]:
    e = exc.value
    return e.status, e.code, e.class_name, e.message


def test_tenant_definitions_come_first_then_park_then_the_control_tags(billow: Billow, tenant_ctx: CallContext
                                                                       ) -> None:
    mine = billow.tags.create_definition(tenant_ctx, "vip", "Very important", [ObjectType.ACCOUNT])
    found = [v.definition for v in billow.tags.definitions(tenant_ctx, "FULL")]
    assert [d.name for d in found] == ["vip", "__PARK__", *CONTROL_NAMES]
    assert found[0].id == mine.id and not found[0].is_control_tag
    by_name = {d.name: d for d in found}
    assert by_name["AUTO_PAY_OFF"].id == "00000000-0000-0000-0000-000000000001"
    assert by_name["WRITTEN_OFF"].id == "00000000-0000-0000-0000-000000000004"
    assert by_name["AUTO_INVOICING_REUSE_DRAFT"].id == "00000000-0000-0000-0000-000000000009"
    assert by_name["__PARK__"].id == "00000000-0000-0001-0000-000000000001"
    assert by_name["__PARK__"].is_control_tag is False
    assert all(by_name[n].is_control_tag for n in CONTROL_NAMES)
    assert by_name["WRITTEN_OFF"].applicable_object_types == (ObjectType.INVOICE,)
    assert by_name["MANUAL_PAY"].description == ("Indicates that Killbill doesn't process payments for that account "
                                                 "(external payments only)")
    assert by_name["AUTO_INVOICING_OFF"].description == "Suspends invoicing until removed."
    # built-ins have no rows: no audit logs whatever the level; the tenant's own has its creation
    views = {v.definition.name: v for v in billow.tags.definitions(tenant_ctx, "FULL")}
    assert views["TEST"].audit_logs == ()
    assert [(a.change_type, a.changed_by, a.reason_code, a.comments) for a in views["vip"].audit_logs] == [
        ("INSERT", "tests", "test", "fixture")]


def test_a_definition_by_id_with_its_audit_levels(billow: Billow, tenant_ctx: CallContext) -> None:
    mine = billow.tags.create_definition(tenant_ctx, "gold", "Gold customers", [ObjectType.ACCOUNT,
                                                                                 ObjectType.BUNDLE])
    assert billow.tags.definition(tenant_ctx, mine.id).definition.applicable_object_types == (
        ObjectType.ACCOUNT, ObjectType.BUNDLE)
    assert billow.tags.definition(tenant_ctx, mine.id, "NONE").audit_logs == ()
    assert [a.change_type for a in billow.tags.definition(tenant_ctx, mine.id, "MINIMAL").audit_logs] == ["INSERT"]
    built_in = billow.tags.definition(tenant_ctx, "00000000-0000-0000-0000-000000000002", "FULL")
    assert built_in.definition.name == "AUTO_INVOICING_OFF" and built_in.audit_logs == ()
    with pytest.raises(BillowError) as exc:
        billow.tags.definition(tenant_ctx, "00000000-0000-0000-0000-0000000000aa")
    assert _error(exc) == (404, 3902, "org.killbill.billing.util.api.TagDefinitionApiException",
                           "The tag definition 00000000-0000-0000-0000-0000000000aa does not exist")


@pytest.mark.parametrize(("name", "description", "types", "message"), [
    (None, "d", [ObjectType.ACCOUNT], "TagDefinition name needs to be set"),
    ("", "d", [ObjectType.ACCOUNT], "TagDefinition name needs to be set"),
    ("n", None, [ObjectType.ACCOUNT], "TagDefinition description needs to be set"),
    ("n", "d", [], "Applicable object types must be set"),
    ("n", "d", None, "Applicable object types must be set"),
    ("abcdefghijklmnopqrstu", "d", [ObjectType.ACCOUNT], "name: longer than 20 characters"),
    ("n", "d" * 201, [ObjectType.ACCOUNT], "description: longer than 200 characters"),
])
def test_creation_needs_a_name_a_description_and_object_types(billow: Billow, tenant_ctx: CallContext,
                                                              name: str | None, description: str | None,
                                                              types: list[ObjectType] | None, message: str) -> None:
    with pytest.raises(BillowError) as exc:
        billow.tags.create_definition(tenant_ctx, name, description, types)
    assert (exc.value.status, exc.value.message) == (400, message)
    assert [v.definition.name for v in billow.tags.definitions(tenant_ctx)][0] == "__PARK__"


def test_names_are_lower_case_and_unique_among_active_definitions(billow: Billow, tenant_ctx: CallContext) -> None:
    for name in ("Vip", "AUTO_PAY_OFF"):  # upper case is refused first, so control tag names are never 'taken'
        with pytest.raises(BillowError) as exc:
            billow.tags.create_definition(tenant_ctx, name, "d", [ObjectType.ACCOUNT])
        assert _error(exc) == (400, 3904, "org.killbill.billing.util.api.TagDefinitionApiException",
                               f"The tag definition name must be in lowercase {name}")
    first = billow.tags.create_definition(tenant_ctx, "vip", "d", [ObjectType.ACCOUNT])
    with pytest.raises(BillowError) as exc:
        billow.tags.create_definition(tenant_ctx, "vip", "other", [ObjectType.BUNDLE])
    assert _error(exc) == (409, 3901, "org.killbill.billing.util.api.TagDefinitionApiException",
                           "The tag definition vip already exists ")
    billow.tags.delete_definition(tenant_ctx, first.id)
    again = billow.tags.create_definition(tenant_ctx, "vip", "again", [ObjectType.BUNDLE])
    assert again.id != first.id
    assert [v.definition.id for v in billow.tags.definitions(tenant_ctx)][0] == again.id


def test_deletion_of_built_ins_unknown_and_used_definitions(objects: Objects) -> None:
    kb, ctx = objects.kb, objects.ctx
    for definition_id in ("00000000-0000-0000-0000-000000000006", "00000000-0000-0001-0000-000000000001",
                          "5f2b0c51-0000-4000-8000-000000000000"):
        with pytest.raises(BillowError) as exc:
            kb.tags.delete_definition(ctx, definition_id)
        assert _error(exc) == (404, 3902, "org.killbill.billing.util.api.TagDefinitionApiException",
                               f"The tag definition {definition_id} does not exist")
    mine = kb.tags.create_definition(ctx, "loyal", "Loyal customer", [ObjectType.ACCOUNT])
    kb.tags.add_tags(ctx, ObjectType.ACCOUNT, objects.account_id, [mine.id])
    with pytest.raises(BillowError) as exc:
        kb.tags.delete_definition(ctx, mine.id)
    assert _error(exc) == (400, 3903, "org.killbill.billing.util.api.TagDefinitionApiException",
                           f"The tag definition {mine.id} is currently in use")
    kb.tags.remove_tags(ctx, ObjectType.ACCOUNT, objects.account_id, [mine.id])
    kb.tags.delete_definition(ctx, mine.id)
    with pytest.raises(BillowError) as exc:
        kb.tags.definition(ctx, mine.id)
    assert exc.value.status == 404
    assert "loyal" not in [v.definition.name for v in kb.tags.definitions(ctx)]
    # the removed tag still names its definition
    old = kb.tags.tags_of(ctx, ObjectType.ACCOUNT, objects.account_id, included_deleted=True)
    assert [v.definition_name for v in old] == ["loyal"]
    # audit with history: created, then retired (a DELETE keeping the row, inactive)
    logs = kb.tags.definition_audit_logs(ctx, mine.id)
    assert [(a.change_type, a.object_type, a.object_id) for a in logs] == [
        ("INSERT", "TAG_DEFINITION", mine.id), ("DELETE", "TAG_DEFINITION", mine.id)]
    assert logs[0].history is not None and logs[0].history["isActive"] is True
    assert logs[1].history is not None and logs[1].history["isActive"] is False
    assert logs[1].history["name"] == "loyal"
    # internal events only (no push notification for definitions)
    classes = published_classes(kb, ctx)
    assert classes.count("TagDefinitionCreationEvent") == 1 and classes.count("TagDefinitionDeletionEvent") == 1


def test_definitions_are_the_tenants_own(billow: Billow, tenant_ctx: CallContext,
                                         other_tenant: tuple[CallContext, str]) -> None:
    other_ctx, _ = other_tenant
    mine = billow.tags.create_definition(tenant_ctx, "shared-name", "mine", [ObjectType.ACCOUNT])
    for call in (lambda: billow.tags.definition(other_ctx, mine.id),
                 lambda: billow.tags.delete_definition(other_ctx, mine.id),
                 lambda: billow.tags.definition_audit_logs(other_ctx, mine.id)):
        with pytest.raises(BillowError) as exc:
            call()
        assert exc.value.status == 404
    assert "shared-name" not in [v.definition.name for v in billow.tags.definitions(other_ctx)]
    theirs = billow.tags.create_definition(other_ctx, "shared-name", "theirs", [ObjectType.BUNDLE])
    assert theirs.id != mine.id
    assert billow.tags.definition(tenant_ctx, mine.id).definition.description == "mine"


def test_audit_logs_of_an_unknown_definition_or_a_built_in_are_not_found(billow: Billow,
                                                                        tenant_ctx: CallContext) -> None:
    for definition_id in ("00000000-0000-0000-0000-000000000001", "9d0b1d7e-0000-4000-8000-000000000000"):
        with pytest.raises(BillowError) as exc:
            billow.tags.definition_audit_logs(tenant_ctx, definition_id)
        assert _error(exc) == (404, None,
                               "org.killbill.billing.util.callcontext.InternalCallContextFactory$ObjectDoesNotExist",
                               f"Object id={definition_id} type=TAG_DEFINITION doesn't exist!")
