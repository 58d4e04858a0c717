"""The account export (`GET /1.0/kb/export/{accountId}`): every row of one account, in every table.

Each service dumps its own tables through its internal API (`export`), the data layer the audit log and
the queues; this gathers them in one read unit of work and writes Kill Bill's format
(`util/.../export/dao/DatabaseExportDao.java`, `CSVExportOutputStream.java`): tables by name, each with rows
written as `-- <table> <col>|<col>|...` then one `|`-separated line per row, with no quoting; text has its
line feeds and vertical bars written `\\N{LINE FEED}` / `\\N{VERTICAL LINE}`; null is empty, booleans are
true/false, instants `2024-01-31T10:00:00.000+00:00`. Tables without rows are left out.

One difference with Kill Bill: it leaves the first row of each table unescaped (it goes out with the
header); Billow escapes every row, so a line feed in the first row cannot break the file.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.core.bus.export import account_rows as queue_rows
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.db.export import TableDump, audit_rows, non_empty
from billow.entitlement.internal import EntitlementInternalApi
from billow.invoice.internal import InvoiceInternalApi
from billow.payment.stack import PaymentExport


def cell(value: Any) -> str:
    """One value as Kill Bill's CSV export writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        instant = value.astimezone(UTC) if value.tzinfo is not None else value
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+00:00"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    text = str(value)
    return text.replace("\n", "\\N{LINE FEED}").replace("|", "\\N{VERTICAL LINE}")


def to_csv(dumps: Sequence[TableDump]) -> str:
    """Kill Bill's CSV export of table dumps: tables by name, only those with rows."""
    out: list[str] = []
    for dump in sorted(non_empty(dumps), key=lambda d: d.table):
        out.append(f"-- {dump.table} " + "|".join(dump.columns) + "\n")
        out.extend("|".join(cell(v) for v in row) + "\n" for row in dump.rows)
    return "".join(out)


class AccountExport:
    """The user API of the export: one read unit of work over every service's tables."""

    def __init__(self, db: Database, accounts: AccountInternalApi, entitlements: EntitlementInternalApi,
                 invoices: InvoiceInternalApi, payments: PaymentExport | None = None) -> None:
        self.db = db
        self.accounts = accounts
        self.entitlements = entitlements
        self.invoices = invoices
        self.payments = payments

    def tables(self, ctx: CallContext, account_id: str) -> list[TableDump]:
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            return [*self.accounts.export(uow, account), *self.entitlements.export(uow, account),
                    *self.invoices.export(uow, account),
                    *(self.payments.export(uow, account) if self.payments else ()), audit_rows(uow, account.record_id),
                    *queue_rows(uow, account.record_id)]

    def csv(self, ctx: CallContext, account_id: str) -> str:
        """The account's rows in Kill Bill's export format (404 for an unknown account)."""
        return to_csv(self.tables(ctx, account_id))
