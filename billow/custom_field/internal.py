"""The custom-field service's internal API: fields read and changed in the caller's unit of work.

Kill Bill: `DefaultCustomFieldUserApi`, `DefaultCustomFieldDao`, `DefaultCustomFieldInternalApi`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from billow.core.db import UnitOfWork
from billow.core.objects import ObjectOwner, ObjectType
from billow.custom_field import store
from billow.custom_field.errors import field_exists, field_not_found, invalid_update
from billow.custom_field.events import CustomFieldCreationEvent, CustomFieldDeletionEvent
from billow.custom_field.model import CustomField, CustomFieldInput


class CustomFieldInternalApi:
    def fields_of(self, uow: UnitOfWork, object_id: str, object_type: ObjectType) -> list[CustomField]:
        return store.fields_of_object(uow.conn, uow.tenant, object_id, object_type)

    def add(self, uow: UnitOfWork, owner: ObjectOwner, object_id: str, object_type: ObjectType,
            fields: Sequence[CustomFieldInput]) -> list[CustomField]:
        """New fields on an object of `owner`'s account (the caller holds its lock). The same name and value
        twice on an object (already there, or twice in `fields`) is refused: CUSTOM_FIELD_ALREADY_EXISTS,
        naming the id the new field would have had (`DefaultCustomFieldDao.checkEntityAlreadyExists`)."""
        taken: set[tuple[str | None, str | None]] = {(f.name, f.value)
                                                     for f in self.fields_of(uow, object_id, object_type)}
        rows = []
        for f in fields:
            field_id = str(uuid.uuid4())
            if (f.name, f.value) in taken:
                raise field_exists(field_id)
            taken.add((f.name, f.value))
            rows.append({"id": field_id, "object_id": object_id, "object_type": object_type.value,
                         "field_name": f.name, "field_value": f.value, "is_active": True,
                         "account_record_id": owner.account_record_id})
        created = [store.to_field(r) for r in uow.insert_many("custom_fields", rows)]
        for cf in created:
            uow.post(CustomFieldCreationEvent(
                tenant_record_id=uow.tenant, account_record_id=owner.account_record_id, account_id=owner.account_id,
                object_id=cf.id, user_token=uow.ctx.user_token, field_object_id=object_id,
                field_object_type=object_type.value))
        return created

    def modify(self, uow: UnitOfWork, object_id: str, object_type: ObjectType,
               fields: Sequence[CustomFieldInput]) -> list[CustomField]:
        """New values of existing fields of the object (`DefaultCustomFieldDao.updateCustomFields`): an audited
        UPDATE, no event. The name, when given, must be the field's."""
        out = []
        for f in fields:
            assert f.id is not None
            current = store.field_by_id(uow.conn, uow.tenant, f.id)
            if current is None:
                raise field_not_found(f.id)
            if current.object_id != object_id:
                raise invalid_update(f.id, object_id, "ObjectId")
            if current.object_type is not object_type:
                raise invalid_update(f.id, object_type.value, "ObjectType")
            if f.name is not None and f.name != current.name:
                raise invalid_update(f.id, f.name, "FieldName")
            out.append(store.to_field(uow.update("custom_fields", current.record_id, {"field_value": f.value})))
        return out

    def remove(self, uow: UnitOfWork, owner: ObjectOwner, fields: Sequence[CustomField]) -> None:
        """Retire fields (the rows stay, inactive), one CUSTOM_FIELD_DELETION each."""
        for cf in fields:
            uow.soft_delete("custom_fields", cf.record_id, {"is_active": False})
            uow.post(CustomFieldDeletionEvent(
                tenant_record_id=uow.tenant, account_record_id=owner.account_record_id, account_id=owner.account_id,
                object_id=cf.id, user_token=uow.ctx.user_token, field_object_id=cf.object_id,
                field_object_type=cf.object_type.value))
