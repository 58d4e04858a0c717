"""The call context: who does what, for which tenant, and why.

Kill Bill carries it as a `CallContext`; the REST layer fills it from
`X-Killbill-CreatedBy`, `X-Killbill-Reason`, `X-Killbill-Comment` and
`X-Request-Id`, and the audit layer writes it into every audit row.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field, replace

# The user token of the request (or bus entry) being handled in this thread or task, for the logs.
current_user_token: contextvars.ContextVar[str | None] = contextvars.ContextVar("billow_user_token", default=None)


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_record_id: int | None = None
    tenant_id: str | None = None
    user_name: str = "system"
    reason_code: str | None = None
    comments: str | None = None
    user_token: str = field(default_factory=lambda: str(uuid.uuid4()))

    def for_tenant(self, tenant_record_id: int, tenant_id: str) -> CallContext:
        return replace(self, tenant_record_id=tenant_record_id, tenant_id=tenant_id)

    @property
    def tenant(self) -> int:
        """The tenant record id; every tenant-scoped query needs it."""
        if self.tenant_record_id is None:
            raise RuntimeError("call context has no tenant")
        return self.tenant_record_id


def internal_context(tenant_record_id: int | None = None, tenant_id: str | None = None,
                     user_name: str = "billow", user_token: str | None = None) -> CallContext:
    """A context for work the system does by itself (bus handlers, billing runs)."""
    return CallContext(
        tenant_record_id=tenant_record_id,
        tenant_id=tenant_id,
        user_name=user_name,
        user_token=user_token or str(uuid.uuid4()),
    )
