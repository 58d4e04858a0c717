"""SQL for the custom-field service's table `custom_fields` (account-owned, audited), with Kill Bill's columns
(`util/src/main/resources/org/killbill/billing/util/ddl.sql`). Removal keeps the row with `is_active` false,
as Kill Bill's `markTagAsDeleted` on custom fields does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, ColumnElement, Connection, Index, String, func, or_, select

from billow.core.db.schema import audited_table
from billow.core.db.text import contains
from billow.core.objects import ObjectType
from billow.custom_field.model import CustomField

NAME_LENGTH = 64
VALUE_LENGTH = 255

custom_fields = audited_table(
    "custom_fields", "CUSTOM_FIELD",
    Column("object_id", String(36), nullable=False),
    Column("object_type", String(30), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("field_name", String(NAME_LENGTH), nullable=False),
    Column("field_value", String(VALUE_LENGTH), nullable=True),
    Index("ix_custom_fields_object", "object_id", "object_type"),
)

CF = custom_fields.table


def to_field(m: Any) -> CustomField:
    return CustomField(record_id=m["record_id"], id=m["id"], object_id=m["object_id"],
                       object_type=ObjectType(m["object_type"]), name=m["field_name"], value=m["field_value"],
                       account_record_id=m["account_record_id"], is_active=bool(m["is_active"]),
                       created_date=m["created_date"])


def _fields(conn: Connection, query: Any) -> list[CustomField]:
    return [to_field(r._mapping) for r in conn.execute(query)]


def _active(tenant: int) -> tuple[ColumnElement[bool], ...]:
    return CF.c.tenant_record_id == tenant, CF.c.is_active.is_(True)


def fields_of_object(conn: Connection, tenant: int, object_id: str, object_type: ObjectType) -> list[CustomField]:
    return _fields(conn, select(CF).where(*_active(tenant), CF.c.object_id == object_id,
                                          CF.c.object_type == object_type.value).order_by(CF.c.record_id))


def fields_of_account(conn: Connection, tenant: int, account_record_id: int,
                      object_type: ObjectType | None = None) -> list[CustomField]:
    q = select(CF).where(*_active(tenant), CF.c.account_record_id == account_record_id)
    if object_type is not None:
        q = q.where(CF.c.object_type == object_type.value)
    return _fields(conn, q.order_by(CF.c.record_id))


def field_by_id(conn: Connection, tenant: int, field_id: str, *, active_only: bool = True) -> CustomField | None:
    q = select(CF).where(CF.c.tenant_record_id == tenant, CF.c.id == field_id)
    if active_only:
        q = q.where(CF.c.is_active.is_(True))
    found = _fields(conn, q)
    return found[0] if found else None


def count_active(conn: Connection, tenant: int) -> int:
    return int(conn.execute(select(func.count()).select_from(CF).where(*_active(tenant))).scalar_one())


def page(conn: Connection, tenant: int, offset: int, limit: int) -> list[CustomField]:
    return _fields(conn, select(CF).where(*_active(tenant)).order_by(CF.c.record_id).offset(offset).limit(limit))


def _search(conn: Connection, tenant: int, condition: ColumnElement[bool], offset: int, limit: int
            ) -> tuple[list[CustomField], int]:
    where = (*_active(tenant), condition)
    total = int(conn.execute(select(func.count()).select_from(CF).where(*where)).scalar_one())
    return _fields(conn, select(CF).where(*where).order_by(CF.c.record_id).offset(offset).limit(limit)), total


def search(conn: Connection, tenant: int, key: str, offset: int, limit: int) -> tuple[list[CustomField], int]:
    """`DefaultCustomFieldDao.searchCustomFields(searchKey)`: the id, or a part of the object type, object id,
    name or value."""
    return _search(conn, tenant, or_(CF.c.id == key, contains(conn, CF.c.object_type, key),
                                     contains(conn, CF.c.object_id, key), contains(conn, CF.c.field_name, key),
                                     contains(conn, CF.c.field_value, key)), offset, limit)


def search_by_type_and_name(conn: Connection, tenant: int, object_type: ObjectType, name: str, value: str | None,
                            offset: int, limit: int) -> tuple[list[CustomField], int]:
    """Fields of one object type with exactly this name (and this value, when given)."""
    condition = (CF.c.object_type == object_type.value) & (CF.c.field_name == name)
    if value is not None:
        condition = condition & (CF.c.field_value == value)
    return _search(conn, tenant, condition, offset, limit)
