"""Tags and tag definitions (Kill Bill's `Tag`, `TagDefinition`, `ControlTagType`, `SystemTags`).

No I/O here. The control tags and the `__PARK__` system tag are *built in*: fixed ids, names, descriptions
and applicable object types, never stored (killbill-api `util/tag/ControlTagType.java`; Kill Bill
`util/.../tag/dao/SystemTags.java`). A tenant's own definitions are rows of `tag_definitions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from billow.core.db.audit_read import AuditLogEntry
from billow.core.objects import ObjectType

AUTO_PAY_OFF = "AUTO_PAY_OFF"
AUTO_INVOICING_OFF = "AUTO_INVOICING_OFF"
OVERDUE_ENFORCEMENT_OFF = "OVERDUE_ENFORCEMENT_OFF"
WRITTEN_OFF = "WRITTEN_OFF"
MANUAL_PAY = "MANUAL_PAY"
TEST = "TEST"
PARTNER = "PARTNER"
AUTO_INVOICING_DRAFT = "AUTO_INVOICING_DRAFT"
AUTO_INVOICING_REUSE_DRAFT = "AUTO_INVOICING_REUSE_DRAFT"
PARK = "__PARK__"


@dataclass(frozen=True, slots=True)
class TagDefinition:
    """A tag definition. Built-ins have no record id and no dates."""

    id: str
    name: str
    description: str
    applicable_object_types: tuple[ObjectType, ...]
    is_control_tag: bool = False
    record_id: int | None = None
    created_date: datetime | None = None

    @property
    def built_in(self) -> bool:
        return self.record_id is None


def _uuid(most: int, least: int) -> str:
    """Java's `new UUID(most, least)` as text."""
    h = f"{most:016x}{least:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ACCOUNT = (ObjectType.ACCOUNT,)

# ControlTagType, in its declaration order (the order GET /tagDefinitions lists them in)
CONTROL_TAGS: tuple[TagDefinition, ...] = tuple(
    TagDefinition(_uuid(0, n), name, description, types, is_control_tag=True)
    for n, (name, description, types) in enumerate((
        (AUTO_PAY_OFF, "Suspends payments until removed.", _ACCOUNT),
        (AUTO_INVOICING_OFF, "Suspends invoicing until removed.", _ACCOUNT),
        (OVERDUE_ENFORCEMENT_OFF, "Suspends overdue enforcement behaviour until removed.", _ACCOUNT),
        (WRITTEN_OFF, "Indicates that an invoice is written off. No billing or payment effect.",
         (ObjectType.INVOICE,)),
        (MANUAL_PAY, "Indicates that Killbill doesn't process payments for that account (external payments only)",
         _ACCOUNT),
        (TEST, "Indicates that this is a test account", _ACCOUNT),
        (PARTNER, "Indicates that this is a partner account", _ACCOUNT),
        (AUTO_INVOICING_DRAFT, "Generate account invoices in DRAFT mode.", _ACCOUNT),
        (AUTO_INVOICING_REUSE_DRAFT, "Use existing draft invoice if exists.", _ACCOUNT),
    ), start=1))

# SystemTags: reserved to Kill Bill itself (parked accounts); not a control tag, cannot be added by callers
PARK_TAG = TagDefinition(_uuid(1, 1), PARK, "Accounts with invalid invoicing state", _ACCOUNT)

BUILT_INS: Mapping[str, TagDefinition] = {d.id: d for d in (*CONTROL_TAGS, PARK_TAG)}
BUILT_IN_NAMES: Mapping[str, TagDefinition] = {d.name: d for d in (*CONTROL_TAGS, PARK_TAG)}
CONTROL_TAG_NAMES: Mapping[str, str] = {d.id: d.name for d in CONTROL_TAGS}


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag: a definition attached to an object (`tags` row). Removal keeps the row, inactive."""

    record_id: int
    id: str
    tag_definition_id: str
    object_id: str
    object_type: ObjectType
    account_record_id: int
    is_active: bool
    created_date: datetime


@dataclass(frozen=True, slots=True)
class TagView:
    """A tag as the API shows it (TagJson): with its definition's name and the audit logs asked for."""

    tag: Tag
    definition_name: str
    audit_logs: tuple[AuditLogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class TagDefinitionView:
    definition: TagDefinition
    audit_logs: tuple[AuditLogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlTagsOfAccounts:
    """The control tags of some accounts, read at once: those on each account itself (by account record id)
    and those on the accounts' other objects (invoices' WRITTEN_OFF, ...), by object id."""

    accounts: Mapping[int, frozenset[str]] = field(default_factory=dict)
    objects: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def of_account(self, account_record_id: int) -> frozenset[str]:
        return self.accounts.get(account_record_id, frozenset())

    def of_object(self, object_id: str) -> frozenset[str]:
        return self.objects.get(object_id, frozenset())
