"""The tag service's internal API: tags read and changed in the caller's unit of work.

What services above call: the invoice billing run reads the control tags of a whole batch at once
(`control_tags_of_accounts`); payment and overdue will read the accounts' control tags (`control_tags`:
AUTO_PAY_OFF, MANUAL_PAY, OVERDUE_ENFORCEMENT_OFF) and add or remove tags themselves (closing an account adds
AUTO_INVOICING_OFF, an overdue state with `disableInvoicing` too). Kill Bill: `DefaultTagInternalApi`,
`DefaultTagUserApi`, `DefaultTagDao`, `DefaultTagDefinitionDao`, `SystemTags`.
"""

from __future__ import annotations

from collections.abc import Sequence

from billow.core.db import UnitOfWork
from billow.core.objects import ObjectOwner, ObjectType
from billow.tag import store
from billow.tag.errors import (
    control_tag_not_applicable,
    definition_not_found,
    tag_is_system,
    tag_not_found,
    unknown_definition_of_tag,
)
from billow.tag.events import TagCreationEvent, TagDeletionEvent
from billow.tag.model import BUILT_INS, CONTROL_TAGS, PARK_TAG, ControlTagsOfAccounts, Tag, TagDefinition


class TagInternalApi:
    # -- definitions ------------------------------------------------------------------------------
    def definitions(self, uow: UnitOfWork) -> list[TagDefinition]:
        """`getTagDefinitions(includeSystemTags=true)`: the tenant's active definitions (oldest first), then
        `__PARK__`, then the control tags in `ControlTagType` order."""
        return [*store.definitions(uow.conn, uow.tenant), PARK_TAG, *CONTROL_TAGS]

    def find_definition(self, uow: UnitOfWork, definition_id: str) -> TagDefinition | None:
        """A built-in definition or an active one of the tenant."""
        built_in = BUILT_INS.get(definition_id)
        if built_in is not None:
            return built_in
        row = store.definition_row(uow.conn, uow.tenant, definition_id)
        return store.to_definition(row) if row is not None else None

    def definition(self, uow: UnitOfWork, definition_id: str) -> TagDefinition:
        found = self.find_definition(uow, definition_id)
        if found is None:
            raise definition_not_found(definition_id)
        return found

    def definition_names(self, uow: UnitOfWork, definition_ids: Sequence[str]) -> dict[str, str]:
        """{id: name} of built-in and tenant definitions (removed ones included: old tags still name them)."""
        out = {i: BUILT_INS[i].name for i in definition_ids if i in BUILT_INS}
        out.update(store.definition_names(uow.conn, uow.tenant, [i for i in definition_ids if i not in out]))
        return out

    # -- control tags -----------------------------------------------------------------------------
    def control_tags_of_accounts(self, uow: UnitOfWork, account_record_ids: Sequence[int]) -> ControlTagsOfAccounts:
        """The control tags on these accounts and on their objects (invoices, ...), in one query."""
        accounts: dict[int, set[str]] = {}
        objects: dict[str, set[str]] = {}
        for account_record_id, object_id, object_type, name in store.control_tags(uow.conn, uow.tenant,
                                                                                  account_record_ids):
            if object_type == ObjectType.ACCOUNT.value:
                accounts.setdefault(account_record_id, set()).add(name)
            else:
                objects.setdefault(object_id, set()).add(name)
        return ControlTagsOfAccounts({k: frozenset(v) for k, v in accounts.items()},
                                     {k: frozenset(v) for k, v in objects.items()})

    def control_tags(self, uow: UnitOfWork, account_record_ids: Sequence[int]) -> dict[int, frozenset[str]]:
        """The names of the control tags on each of these accounts (every account given is a key)."""
        found = self.control_tags_of_accounts(uow, account_record_ids)
        return {rid: found.of_account(rid) for rid in account_record_ids}

    # -- tags -------------------------------------------------------------------------------------
    def tags_of(self, uow: UnitOfWork, object_id: str, object_type: ObjectType, *,
                included_deleted: bool = False) -> list[Tag]:
        return store.tags_of_object(uow.conn, uow.tenant, object_id, object_type, included_deleted=included_deleted)

    def add(self, uow: UnitOfWork, owner: ObjectOwner, object_id: str, object_type: ObjectType, definition_id: str,
            *, system: bool = False) -> Tag | None:
        """Tag an object of `owner`'s account (`DefaultTagUserApi.addTag`, `DefaultTagDao.create`). The caller
        holds the account lock. A tag already there is left alone (None), as Kill Bill swallows
        TAG_ALREADY_EXISTS. `system` lets Kill Bill's own code add `__PARK__`."""
        if definition_id == PARK_TAG.id and not system:
            raise tag_is_system(definition_id)
        definition = self.find_definition(uow, definition_id)
        if definition is None:
            raise unknown_definition_of_tag(definition_id)
        if definition.is_control_tag and object_type not in definition.applicable_object_types:
            raise control_tag_not_applicable(definition.name, object_type)
        if any(t.tag_definition_id == definition_id for t in self.tags_of(uow, object_id, object_type)):
            return None
        row = uow.insert("tags", {"tag_definition_id": definition_id, "object_id": object_id,
                                  "object_type": object_type.value, "is_active": True,
                                  "account_record_id": owner.account_record_id})
        tag = store.to_tag(row)
        uow.post(TagCreationEvent(
            tenant_record_id=uow.tenant, account_record_id=owner.account_record_id, account_id=owner.account_id,
            object_id=tag.id, user_token=uow.ctx.user_token, tag_definition_id=definition_id,
            tag_definition_name=definition.name, is_control_tag=definition.is_control_tag,
            tagged_object_id=object_id, tagged_object_type=object_type.value))
        return tag

    def remove(self, uow: UnitOfWork, owner: ObjectOwner, object_id: str, object_type: ObjectType,
               definition_id: str) -> Tag:
        """Remove the object's tag of this definition (`DefaultTagDao.deleteTag`): the row stays, inactive;
        one TAG_DELETION. The caller holds the account lock."""
        definition = self.find_definition(uow, definition_id)
        if definition is None:
            raise unknown_definition_of_tag(definition_id)
        found = [t for t in self.tags_of(uow, object_id, object_type) if t.tag_definition_id == definition_id]
        if not found:
            raise tag_not_found(definition.name)
        for t in found:  # one normally; Kill Bill removes them all and announces the first
            uow.soft_delete("tags", t.record_id, {"is_active": False})
        tag = found[0]
        uow.post(TagDeletionEvent(
            tenant_record_id=uow.tenant, account_record_id=owner.account_record_id, account_id=owner.account_id,
            object_id=tag.id, user_token=uow.ctx.user_token, tag_definition_id=definition_id,
            tag_definition_name=definition.name, is_control_tag=definition.is_control_tag,
            tagged_object_id=object_id, tagged_object_type=object_type.value))
        return tag
