"""Reading audit logs back, for Kill Bill's `.../auditLogs` and `.../auditLogsWithHistory`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from billow.core.db.schema import AUDITED, audit_log

# Kill Bill's audit levels: NONE, MINIMAL (the creation only), FULL.
AUDIT_LEVELS = ("NONE", "MINIMAL", "FULL")


@dataclass(frozen=True, slots=True)
class AuditLogEntry:
    change_type: str
    change_date: datetime
    object_type: str
    object_id: str
    changed_by: str
    reason_code: str | None
    comments: str | None
    user_token: str | None
    history: dict[str, Any] | None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snapshot(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("record_id", "change_type"):
            continue
        if k == "target_record_id":
            out["recordId"] = v
            continue
        out[_camel(k)] = v
    return out


def audit_logs(conn: Connection, tenant_record_id: int, table_name: str, record_ids: list[int],
               *, level: str = "FULL", with_history: bool = False) -> dict[int, list[AuditLogEntry]]:
    """Audit entries of the given rows, oldest first, keyed by the rows' record ids."""
    if level == "NONE" or not record_ids:
        return {rid: [] for rid in record_ids}
    entry = AUDITED[table_name]
    a = audit_log
    q = select(a).where(a.c.tenant_record_id == tenant_record_id, a.c.table_name == table_name,
                        a.c.target_record_id.in_(record_ids))
    if level == "MINIMAL":
        q = q.where(a.c.change_type == "INSERT")
    rows = conn.execute(q.order_by(a.c.record_id)).all()
    h = entry.history
    history_ids = [r.history_record_id for r in rows if r.history_record_id is not None]
    histories: dict[int, dict[str, Any]] = {}
    if history_ids:
        for hr in conn.execute(select(h).where(h.c.record_id.in_(history_ids))):
            histories[hr.record_id] = dict(hr._mapping)
    out: dict[int, list[AuditLogEntry]] = {rid: [] for rid in record_ids}
    for r in rows:
        hist = histories.get(r.history_record_id) if r.history_record_id is not None else None
        out[r.target_record_id].append(AuditLogEntry(
            change_type=r.change_type, change_date=r.created_date, object_type=entry.object_type,
            object_id=hist["id"] if hist else "", changed_by=r.created_by, reason_code=r.reason_code,
            comments=r.comments, user_token=r.user_token,
            history=_snapshot(hist) if (with_history and hist) else None,
        ))
    return out
