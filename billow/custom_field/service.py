"""The custom-field service's user API: fields on accounts, bundles, subscriptions, invoices and invoice items
(payments, payment methods and transactions once their services exist), searches and audit logs.

Rules follow Kill Bill's `DefaultCustomFieldUserApi`, `DefaultCustomFieldDao`, the custom-field parts of
`JaxRsResourceBase` and `AccountResource`, and `CustomFieldResource`. A request is one unit of work: all its
fields or none. The objects fields hang on belong to services above this one: `owners` (given by
`billow.app`) find the account of an object, or fail with Kill Bill's `ObjectDoesNotExist`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import InvalidInput
from billow.core.objects import ObjectOwner, ObjectType, OwnerResolvers, Page, object_does_not_exist, resolve_owner
from billow.custom_field import store
from billow.custom_field.internal import CustomFieldInternalApi
from billow.custom_field.model import CustomField, CustomFieldInput, CustomFieldView


def _check_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{field}: '{value}' is not a UUID") from None


def _check_lengths(f: CustomFieldInput) -> None:
    if f.name is not None and len(f.name) > store.NAME_LENGTH:
        raise InvalidInput(f"name: longer than {store.NAME_LENGTH} characters")
    if f.value is not None and len(f.value) > store.VALUE_LENGTH:
        raise InvalidInput(f"value: longer than {store.VALUE_LENGTH} characters")


class CustomFieldService:
    """Each call is one unit of work; services above use `internal` (`CustomFieldInternalApi`) in theirs."""

    def __init__(self, db: Database, internal: CustomFieldInternalApi, owners: OwnerResolvers) -> None:
        self.db = db
        self.internal = internal
        self.owners = owners

    # ======================================================================== fields of an object
    def fields_of(self, ctx: CallContext, object_type: ObjectType, object_id: str, audit: str = "NONE"
                  ) -> list[CustomFieldView]:
        """The object's active fields (Kill Bill does not look the object up: an unknown one has none)."""
        with self.db.read(ctx) as uow:
            return self._views(uow, self.internal.fields_of(uow, object_id, object_type), audit)

    def add_fields(self, ctx: CallContext, object_type: ObjectType, object_id: str,
                   fields: Sequence[CustomFieldInput]) -> list[CustomField]:
        """`createCustomFields`: every field needs a name and a value."""
        for f in fields:
            if not f.name:
                raise InvalidInput("CustomFieldJson name needs to be set")
            if not f.value:
                raise InvalidInput("CustomFieldJson value needs to be set")
            _check_lengths(f)
        if not fields:
            return []
        with self.db.transaction(ctx) as uow:
            owner = self._locked_owner(uow, object_type, object_id)
            return self.internal.add(uow, owner, object_id, object_type, fields)

    def modify_fields(self, ctx: CallContext, object_type: ObjectType, object_id: str,
                      fields: Sequence[CustomFieldInput]) -> list[CustomField]:
        """`modifyCustomFields`: every field needs its id and a new value."""
        checked = []
        for f in fields:
            if not f.id:
                raise InvalidInput("CustomFieldJson id needs to be set")
            if not f.value:
                raise InvalidInput("CustomFieldJson value needs to be set")
            _check_lengths(f)
            checked.append(CustomFieldInput(name=f.name, value=f.value, id=_check_uuid(f.id, "customFieldId")))
        if not checked:
            return []
        with self.db.transaction(ctx) as uow:
            self._locked_owner(uow, object_type, object_id)
            return self.internal.modify(uow, object_id, object_type, checked)

    def remove_fields(self, ctx: CallContext, object_type: ObjectType, object_id: str,
                      field_ids: Sequence[str] | None = None) -> None:
        """`deleteCustomFields`: the given fields of the object (ids of other objects' fields are ignored), or
        all of them when none is given."""
        wanted = {_check_uuid(i, "customField") for i in field_ids or ()}
        with self.db.transaction(ctx) as uow:
            def chosen() -> list[CustomField]:
                return [f for f in self.internal.fields_of(uow, object_id, object_type) if not wanted or f.id in wanted]

            if not chosen():  # nothing to remove: the object is not even looked up, as in Kill Bill
                return
            owner = self._locked_owner(uow, object_type, object_id)
            self.internal.remove(uow, owner, chosen())  # read again under the account lock

    # ======================================================================== fields of an account, of a tenant
    def account_fields(self, ctx: CallContext, account_id: str, *, object_type: ObjectType | None = None,
                       audit: str = "NONE") -> list[CustomFieldView]:
        """`getAllCustomFields`: the fields of every object of the account (of one type when given)."""
        with self.db.read(ctx) as uow:
            owner = resolve_owner(self.owners, uow, ObjectType.ACCOUNT, account_id)
            found = store.fields_of_account(uow.conn, uow.tenant, owner.account_record_id, object_type)
            return self._views(uow, found, audit)

    def page(self, ctx: CallContext, offset: int = 0, limit: int = 100, audit: str = "NONE"
             ) -> Page[CustomFieldView]:
        with self.db.read(ctx) as uow:
            total = store.count_active(uow.conn, uow.tenant)
            items = self._views(uow, store.page(uow.conn, uow.tenant, offset, limit), audit)
        return Page(items, offset, limit, total, total)

    def search(self, ctx: CallContext, search_key: str, offset: int = 0, limit: int = 100, audit: str = "NONE"
               ) -> Page[CustomFieldView]:
        with self.db.read(ctx) as uow:
            found, matches = store.search(uow.conn, uow.tenant, search_key, offset, limit)
            total = store.count_active(uow.conn, uow.tenant)
            items = self._views(uow, found, audit)
        return Page(items, offset, limit, matches, total)

    def search_by_type_and_name(self, ctx: CallContext, object_type: str | None, name: str | None,
                                value: str | None = None, offset: int = 0, limit: int = 100, audit: str = "NONE"
                                ) -> Page[CustomFieldView]:
        """`searchCustomFieldsByTypeName`: fields of an object type with exactly this name (and value)."""
        if object_type is None:
            raise InvalidInput("objectType in searchCustomFieldsByTypeName() is null")
        if name is None:
            raise InvalidInput("fieldName in searchCustomFieldsByTypeName() is null")
        try:
            kind = ObjectType(object_type)  # Java's ObjectType.valueOf: exact name
        except ValueError:
            raise InvalidInput(f"No enum constant org.killbill.billing.ObjectType.{object_type}") from None
        with self.db.read(ctx) as uow:
            found, matches = store.search_by_type_and_name(uow.conn, uow.tenant, kind, name, value, offset, limit)
            total = store.count_active(uow.conn, uow.tenant)
            items = self._views(uow, found, audit)
        return Page(items, offset, limit, matches, total)

    def field_audit_logs(self, ctx: CallContext, field_id: str) -> list[AuditLogEntry]:
        """`getCustomFieldAuditLogsWithHistory`: every change of the field (removed ones too), with its row."""
        with self.db.read(ctx) as uow:
            found = store.field_by_id(uow.conn, uow.tenant, field_id, active_only=False)
            if found is None:
                raise object_does_not_exist(field_id, ObjectType.CUSTOM_FIELD)
            rid = found.record_id
            return audit_logs(uow.conn, uow.tenant, "custom_fields", [rid], with_history=True)[rid]

    # ======================================================================== helpers
    def _locked_owner(self, uow: UnitOfWork, object_type: ObjectType, object_id: str) -> ObjectOwner:
        owner = resolve_owner(self.owners, uow, object_type, object_id)
        uow.lock_account(owner.account_record_id)
        return owner

    @staticmethod
    def _views(uow: UnitOfWork, found: list[CustomField], audit: str) -> list[CustomFieldView]:
        logs = audit_logs(uow.conn, uow.tenant, "custom_fields", [f.record_id for f in found], level=audit)
        return [CustomFieldView(f, tuple(logs.get(f.record_id, ()))) for f in found]
