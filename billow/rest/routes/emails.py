"""`/1.0/kb/accounts/{accountId}/emailNotifications` (Billow's; Kill Bill's email plugin keeps no such record):
the emails the account was sent or is to be sent, with what became of each and, with `audit`, every change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.db.audit_read import AuditLogEntry
from billow.email.model import EmailNotification
from billow.rest.common import AuditLevel, Ctx, audit_log_json
from billow.rest.deps import App
from billow.rest.jsonio import KBJSONResponse, format_instant

router = APIRouter(tags=["Account"])


def email_json(e: EmailNotification, logs: list[AuditLogEntry]) -> dict[str, Any]:
    return {
        "emailNotificationId": e.id, "accountId": e.account_id, "eventType": e.event_type,
        "template": e.template.value, "objectId": e.object_id, "status": e.status.value, "attempts": e.attempts,
        "recipients": [r.strip() for r in (e.recipients or "").split(",") if r.strip()], "subject": e.subject,
        "messageId": e.message_id, "lastError": e.last_error, "details": e.details,
        "createdDate": format_instant(e.created_date), "sentDate": format_instant(e.sent_date),
        "auditLogs": [audit_log_json(entry) for entry in logs],
    }


@router.get("/1.0/kb/accounts/{accountId}/emailNotifications", operation_id="getAccountEmailNotifications")
async def account_email_notifications(ctx: Ctx, kb: App, audit: AuditLevel, accountId: str) -> Response:
    found = await run_in_threadpool(kb.emails.of_account, ctx, accountId, audit=audit)
    return KBJSONResponse([email_json(e, logs) for e, logs in found])
