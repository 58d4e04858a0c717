"""Bus events of the custom-field service (Kill Bill's CUSTOM_FIELD_CREATION and CUSTOM_FIELD_DELETION; a
modified value announces nothing). Pushed with objectType CUSTOM_FIELD, objectId the field's id and no
metaData (`BeatrixListener`); accountId is the account the object with the field belongs to."""

from __future__ import annotations

import dataclasses

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class _CustomFieldEvent(BusEvent):
    object_type = "CUSTOM_FIELD"
    field_object_id: str = ""
    field_object_type: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomFieldCreationEvent(_CustomFieldEvent):
    event_type = "CUSTOM_FIELD_CREATION"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomFieldDeletionEvent(_CustomFieldEvent):
    event_type = "CUSTOM_FIELD_DELETION"
