"""Tenants: isolated billing spaces, each with its own API key and secret (Kill Bill's tenants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Tenant:
    record_id: int
    id: str
    external_key: str | None
    api_key: str
    created_date: datetime


@dataclass(frozen=True, slots=True)
class TenantKeyValue:
    key: str
    values: list[str]
