"""Bus events of the tag service.

Kill Bill posts USER_TAG_CREATION / CONTROL_TAG_CREATION (and _DELETION) internally; its `BeatrixListener`
pushes both as TAG_CREATION / TAG_DELETION with objectType TAG, objectId the tag's id (not the tagged
object's) and metaData `{"tagDefinitionName": ...}` (plugin-api `TagMetadata`); the notification's accountId
is the account the tagged object belongs to. Tag-definition creation and deletion are internal events only
(USER_TAGDEFINITION_CREATION / _DELETION): no push notification.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class _TagEvent(BusEvent):
    object_type = "TAG"
    tag_definition_id: str = ""
    tag_definition_name: str = ""
    is_control_tag: bool = False
    tagged_object_id: str = ""
    tagged_object_type: str = ""

    def meta_data(self) -> dict[str, Any] | None:
        return {"tagDefinitionName": self.tag_definition_name}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TagCreationEvent(_TagEvent):
    event_type = "TAG_CREATION"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TagDeletionEvent(_TagEvent):
    event_type = "TAG_DELETION"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TagDefinitionCreationEvent(BusEvent):
    """Internal only (empty event type: not pushed)."""

    event_type = ""
    object_type = "TAG_DEFINITION"
    name: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TagDefinitionDeletionEvent(BusEvent):
    event_type = ""
    object_type = "TAG_DEFINITION"
    name: str = ""
