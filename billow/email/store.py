"""SQL for the email service's table `email_notifications`: each email an event asked for, and what became of it
(audited: every change of status is in the audit log, with its history)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Connection, Integer, String, Text, select

from billow.core.db.schema import audited_table
from billow.core.db.types import UTCDateTime
from billow.email.model import EmailNotification, EmailStatus, Template

email_notifications = audited_table(
    "email_notifications", "EMAIL_NOTIFICATION",
    Column("account_id", String(36), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("template", String(32), nullable=False),
    Column("object_id", String(36), nullable=True),
    Column("details", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("recipients", Text, nullable=True),
    Column("subject", String(255), nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("last_error", String(512), nullable=True),
    Column("sent_date", UTCDateTime(), nullable=True),
)
T = email_notifications.table


def to_email(row: Any) -> EmailNotification:
    m = row._mapping if hasattr(row, "_mapping") else row
    return EmailNotification(
        record_id=m["record_id"], id=m["id"], account_record_id=m["account_record_id"], account_id=m["account_id"],
        event_type=m["event_type"], template=Template(m["template"]), object_id=m["object_id"],
        details=json.loads(m["details"]), status=EmailStatus(m["status"]), attempts=m["attempts"],
        recipients=m["recipients"], subject=m["subject"], message_id=m["message_id"], last_error=m["last_error"],
        sent_date=m["sent_date"], created_date=m["created_date"], updated_date=m["updated_date"])


def by_id(conn: Connection, tenant_record_id: int, email_id: str) -> EmailNotification | None:
    row = conn.execute(select(T).where(T.c.tenant_record_id == tenant_record_id, T.c.id == email_id)).first()
    return None if row is None else to_email(row)


def of_account(conn: Connection, tenant_record_id: int, account_record_id: int) -> list[EmailNotification]:
    rows = conn.execute(select(T).where(T.c.tenant_record_id == tenant_record_id,
                                        T.c.account_record_id == account_record_id).order_by(T.c.record_id))
    return [to_email(r) for r in rows]
