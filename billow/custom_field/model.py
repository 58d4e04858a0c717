"""Custom fields (Kill Bill's `CustomField`, `custom_fields` rows): a name and a value on an object.

No I/O here. Several fields of an object may share a name; the same name *and* value twice is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billow.core.db.audit_read import AuditLogEntry
from billow.core.objects import ObjectType


@dataclass(frozen=True, slots=True)
class CustomField:
    record_id: int
    id: str
    object_id: str
    object_type: ObjectType
    name: str
    value: str | None
    account_record_id: int
    is_active: bool
    created_date: datetime


@dataclass(frozen=True, slots=True)
class CustomFieldInput:
    """A field a caller gives (CustomFieldJson): `name` and `value` to create one; `id` and `value` (and, if
    given, the unchanged `name`) to modify one."""

    name: str | None = None
    value: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomFieldView:
    """A field as the API shows it (CustomFieldJson), with the audit logs asked for."""

    field: CustomField
    audit_logs: tuple[AuditLogEntry, ...] = ()
