"""Bus events of the tenant service (Kill Bill: TENANT_CONFIG_CHANGE, TENANT_CONFIG_DELETION)."""

from __future__ import annotations

import dataclasses
from typing import Any

from billow.core.bus.event import BusEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class TenantConfigChangeEvent(BusEvent):
    event_type = "TENANT_CONFIG_CHANGE"
    object_type = "TENANT_KVS"
    key: str = ""

    def meta_data(self) -> dict[str, Any] | None:
        return {"key": self.key}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TenantConfigDeletionEvent(BusEvent):
    event_type = "TENANT_CONFIG_DELETION"
    object_type = "TENANT_KVS"
    key: str = ""

    def meta_data(self) -> dict[str, Any] | None:
        return {"key": self.key}
