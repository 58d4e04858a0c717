"""The tag service's user API: tag definitions, tags on accounts, bundles, subscriptions, invoices and invoice
items (payments, payment methods and transactions once their services exist), searches and audit logs.

Rules follow Kill Bill's `DefaultTagUserApi`, `DefaultTagDao`, `DefaultTagDefinitionDao` and the tag parts of
`JaxRsResourceBase`, `AccountResource`, `TagResource` and `TagDefinitionResource`. Differences, on purpose:
a request that adds or removes several tags is one unit of work (all or nothing; Kill Bill commits tag by tag);
an object of another tenant is not found (Kill Bill answers 500); a control tag on an object type it does not
apply to is a 400 (Kill Bill's bare IllegalStateException is a 500).

The objects tags hang on belong to services above this one: `owners` (given by `billow.app`) find the account
of an object of each type, and fail with Kill Bill's `ObjectDoesNotExist` when the tenant has no such object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import InvalidInput
from billow.core.objects import ObjectOwner, ObjectType, OwnerResolvers, Page, object_does_not_exist, resolve_owner
from billow.tag import store
from billow.tag.errors import (
    definition_exists,
    definition_has_uppercase,
    definition_in_use,
    definition_not_found,
    tag_cannot_be_removed,
    tag_is_system,
)
from billow.tag.events import TagDefinitionCreationEvent, TagDefinitionDeletionEvent
from billow.tag.internal import TagInternalApi
from billow.tag.model import (
    AUTO_PAY_OFF,
    BUILT_IN_NAMES,
    BUILT_INS,
    PARK_TAG,
    Tag,
    TagDefinition,
    TagDefinitionView,
    TagView,
)

NAME_LENGTH = 20  # tag_definitions.name varchar(20)
DESCRIPTION_LENGTH = 200  # tag_definitions.description varchar(200)

# account record id -> the account's default payment method id (None: none)
DefaultPaymentMethod = Callable[[UnitOfWork, int], str | None]


def check_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{field}: '{value}' is not a UUID") from None


class TagService:
    """Each call is one unit of work; services above use `internal` (`TagInternalApi`) in theirs."""

    def __init__(self, db: Database, internal: TagInternalApi, owners: OwnerResolvers,
                 default_payment_method: DefaultPaymentMethod) -> None:
        self.db = db
        self.internal = internal
        self.owners = owners
        self.default_payment_method = default_payment_method

    # ======================================================================== tag definitions
    def definitions(self, ctx: CallContext, audit: str = "NONE") -> list[TagDefinitionView]:
        with self.db.read(ctx) as uow:
            found = self.internal.definitions(uow)
            return self._definition_views(uow, found, audit)

    def definition(self, ctx: CallContext, definition_id: str, audit: str = "NONE") -> TagDefinitionView:
        with self.db.read(ctx) as uow:
            found = self.internal.definition(uow, definition_id)
            return self._definition_views(uow, [found], audit)[0]

    @staticmethod
    def _definition_views(uow: UnitOfWork, found: list[TagDefinition], audit: str) -> list[TagDefinitionView]:
        # built-ins have no rows, hence no audit logs whatever the level
        rows = [d.record_id for d in found if d.record_id is not None]
        logs = audit_logs(uow.conn, uow.tenant, "tag_definitions", rows, level=audit)
        return [TagDefinitionView(d, tuple(logs.get(d.record_id, ())) if d.record_id is not None else ())
                for d in found]

    def create_definition(self, ctx: CallContext, name: str | None, description: str | None,
                          applicable_object_types: Sequence[ObjectType] | None) -> TagDefinition:
        """`TagDefinitionResource.createTagDefinition` and `DefaultTagUserApi.createTagDefinition`."""
        if not name:
            raise InvalidInput("TagDefinition name needs to be set")
        if not description:
            raise InvalidInput("TagDefinition description needs to be set")
        if not applicable_object_types:
            raise InvalidInput("Applicable object types must be set")
        if any(c.isupper() for c in name):  # before the reserved-name check: control tag names are upper case
            raise definition_has_uppercase(name)
        if len(name) > NAME_LENGTH:
            raise InvalidInput(f"name: longer than {NAME_LENGTH} characters")
        if len(description) > DESCRIPTION_LENGTH:
            raise InvalidInput(f"description: longer than {DESCRIPTION_LENGTH} characters")
        types = ",".join(dict.fromkeys(t.value for t in applicable_object_types))
        with self.db.transaction(ctx) as uow:
            store.lock_definitions(uow.conn, uow.tenant)
            if name in BUILT_IN_NAMES or store.active_definition_by_name(uow.conn, uow.tenant, name) is not None:
                raise definition_exists(name)
            row = uow.insert("tag_definitions", {"name": name, "description": description,
                                                 "applicable_object_types": types, "is_active": True})
            uow.post(TagDefinitionCreationEvent(tenant_record_id=uow.tenant, object_id=row["id"],
                                                user_token=ctx.user_token, name=name))
        return store.to_definition(row)

    def delete_definition(self, ctx: CallContext, definition_id: str) -> None:
        """`DefaultTagDefinitionDao.deleteById`: a tenant's definition no active tag uses. Built-ins are not rows
        of the tenant: not found."""
        with self.db.transaction(ctx) as uow:
            store.lock_definitions(uow.conn, uow.tenant)
            row = store.definition_row(uow.conn, uow.tenant, definition_id)
            if row is None:
                raise definition_not_found(definition_id)
            if store.definition_in_use(uow.conn, uow.tenant, definition_id):
                raise definition_in_use(definition_id)
            uow.soft_delete("tag_definitions", row["record_id"], {"is_active": False})
            uow.post(TagDefinitionDeletionEvent(tenant_record_id=uow.tenant, object_id=definition_id,
                                                user_token=ctx.user_token, name=row["name"]))

    def definition_audit_logs(self, ctx: CallContext, definition_id: str) -> list[AuditLogEntry]:
        """`getTagDefinitionAuditLogsWithHistory`: every change, with the row as it was (removed ones too)."""
        with self.db.read(ctx) as uow:
            row = store.definition_any_state(uow.conn, uow.tenant, definition_id)
            if row is None:
                raise object_does_not_exist(definition_id, ObjectType.TAG_DEFINITION)
            rid = row["record_id"]
            return audit_logs(uow.conn, uow.tenant, "tag_definitions", [rid], with_history=True)[rid]

    # ======================================================================== tags of an object
    def tags_of(self, ctx: CallContext, object_type: ObjectType, object_id: str, *, included_deleted: bool = False,
                audit: str = "NONE", must_exist: bool = False, account_id: str | None = None) -> list[TagView]:
        """The object's tags. Like Kill Bill, the object is looked up only where its resource does (bundles,
        subscriptions; invoices when audit logs are asked for): `must_exist`; `account_id` (invoice items)
        must name an account of the tenant. Otherwise an unknown object simply has no tags."""
        with self.db.read(ctx) as uow:
            if must_exist:
                self._owner(uow, object_type, object_id)
            if account_id is not None:
                self._owner(uow, ObjectType.ACCOUNT, account_id)
            found = self.internal.tags_of(uow, object_id, object_type, included_deleted=included_deleted)
            return self._views(uow, found, audit)

    def add_tags(self, ctx: CallContext, object_type: ObjectType, object_id: str,
                 definition_ids: Sequence[str]) -> list[Tag]:
        """`addTags`: each definition in order; one already on the object is left alone. Returns the new tags."""
        ids = [check_uuid(d, "tagDefinitionId") for d in definition_ids]
        added: list[Tag] = []
        if not ids:
            return added
        with self.db.transaction(ctx) as uow:
            owner: ObjectOwner | None = None
            for definition_id in ids:
                if definition_id == PARK_TAG.id:  # refused before the object is looked up, as Kill Bill does
                    raise tag_is_system(definition_id)
                if owner is None:
                    owner = self._owner(uow, object_type, object_id)
                    uow.lock_account(owner.account_record_id)
                tag = self.internal.add(uow, owner, object_id, object_type, definition_id)
                if tag is not None:
                    added.append(tag)
        return added

    def remove_tags(self, ctx: CallContext, object_type: ObjectType, object_id: str,
                    definition_ids: Sequence[str]) -> None:
        """`removeTags`, and for an account `AccountResource.deleteAccountTags`'s rule: AUTO_PAY_OFF stays on an
        account without a default payment method."""
        ids = [check_uuid(d, "tagDef") for d in definition_ids]
        if not ids:
            return
        with self.db.transaction(ctx) as uow:
            owner = self._owner(uow, object_type, object_id)
            uow.lock_account(owner.account_record_id)
            auto_pay_off = BUILT_IN_NAMES[AUTO_PAY_OFF].id
            if object_type is ObjectType.ACCOUNT and auto_pay_off in ids and \
                    self.default_payment_method(uow, owner.account_record_id) is None:
                # Kill Bill's message has two spaces: its reason starts with one
                raise tag_cannot_be_removed(AUTO_PAY_OFF, " the account does not have a default payment method")
            for definition_id in ids:
                self.internal.remove(uow, owner, object_id, object_type, definition_id)

    # ======================================================================== tags of an account, of a tenant
    def account_tags(self, ctx: CallContext, account_id: str, *, object_type: ObjectType | None = None,
                     included_deleted: bool = False, audit: str = "NONE") -> list[TagView]:
        """`getAllTags`: the tags of every object of the account (of one type when given)."""
        with self.db.read(ctx) as uow:
            owner = self._owner(uow, ObjectType.ACCOUNT, account_id)
            found = store.tags_of_account(uow.conn, uow.tenant, owner.account_record_id,
                                          included_deleted=included_deleted, object_type=object_type)
            return self._views(uow, found, audit)

    def page(self, ctx: CallContext, offset: int = 0, limit: int = 100, audit: str = "NONE") -> Page[TagView]:
        with self.db.read(ctx) as uow:
            total = store.count_active(uow.conn, uow.tenant)
            items = self._views(uow, store.page(uow.conn, uow.tenant, offset, limit), audit)
        return Page(items, offset, limit, total, total)

    def search(self, ctx: CallContext, search_key: str, offset: int = 0, limit: int = 100,
               audit: str = "NONE") -> Page[TagView]:
        """`TagSqlDao.search`: the tag id, or a part of its object type, definition name or description."""
        built_ins = [d.id for d in BUILT_INS.values() if search_key in d.name or search_key in d.description]
        with self.db.read(ctx) as uow:
            found, matches = store.search(uow.conn, uow.tenant, search_key, built_ins, offset, limit)
            total = store.count_active(uow.conn, uow.tenant)
            items = self._views(uow, found, audit)
        return Page(items, offset, limit, matches, total)

    def tag_audit_logs(self, ctx: CallContext, tag_id: str) -> list[AuditLogEntry]:
        """`getTagAuditLogsWithHistory`: every change of the tag (removed ones too), with the row as it was."""
        with self.db.read(ctx) as uow:
            tag = store.tag_by_id(uow.conn, uow.tenant, tag_id)
            if tag is None:
                raise object_does_not_exist(tag_id, ObjectType.TAG)
            return audit_logs(uow.conn, uow.tenant, "tags", [tag.record_id], with_history=True)[tag.record_id]

    # ======================================================================== helpers
    def _owner(self, uow: UnitOfWork, object_type: ObjectType, object_id: str) -> ObjectOwner:
        return resolve_owner(self.owners, uow, object_type, object_id)

    def _views(self, uow: UnitOfWork, found: list[Tag], audit: str) -> list[TagView]:
        names = self.internal.definition_names(uow, list(dict.fromkeys(t.tag_definition_id for t in found)))
        logs = audit_logs(uow.conn, uow.tenant, "tags", [t.record_id for t in found], level=audit)
        return [TagView(t, names.get(t.tag_definition_id, ""), tuple(logs.get(t.record_id, ()))) for t in found]

