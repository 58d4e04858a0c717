"""SQL for `invoice_checkpoints`: each account's incremental-run checkpoint (`incremental.py`), and the count of
its invoice history rows it was made at.

A checkpoint is derived data, never the only copy of anything: a row that is missing, or whose history count
no longer matches, only sends the account's next run through the full generator. Every insert and update of
`invoices` and `invoice_items`, by any service, writes a history row in its transaction (`core/db/audit.py`),
so a count that moved means the history changed since the checkpoint. A count, not the latest record id: a
history row committed late with a smaller id still changes the count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Index,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.sql.selectable import ScalarSelect

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import RecordId, metadata
from billow.core.db.sets import in_values
from billow.core.db.types import UTCDateTime
from billow.invoice.incremental import BillingCheckpoint
from billow.invoice.store import invoice_items, invoices

checkpoints = Table(
    "invoice_checkpoints", metadata,
    Column("account_record_id", RecordId, primary_key=True, autoincrement=False),
    Column("tenant_record_id", RecordId, nullable=False),
    Column("history_count", BigInteger, nullable=False),
    Column("checkpoint", Text, nullable=False),
    Column("updated_date", UTCDateTime(), nullable=False),
)

HISTORIES = (invoices.history, invoice_items.history)
for _h in HISTORIES:
    Index(f"ix_{_h.name}_account", _h.c.account_record_id)


def _count(h: Table, account: ColumnElement[Any]) -> ScalarSelect[int]:
    return select(func.count()).where(h.c.account_record_id == account).scalar_subquery()


def valid(conn: Connection, tenant: int, account_record_ids: Sequence[int]) -> dict[int, BillingCheckpoint]:
    """The accounts' checkpoints whose invoice history has not changed since they were made."""
    if not account_record_ids:
        return {}
    c = checkpoints.c
    live = _count(HISTORIES[0], c.account_record_id) + _count(HISTORIES[1], c.account_record_id)
    rows = conn.execute(select(c.account_record_id, c.history_count, c.checkpoint, live.label("live"))
                        .where(c.tenant_record_id == tenant, in_values(conn, c.account_record_id,
                                                                        list(account_record_ids))))
    return {r.account_record_id: BillingCheckpoint.from_json(json.loads(r.checkpoint))
            for r in rows if r.history_count == r.live}


# both histories in one statement (a round trip fewer for each invoice run)
_HISTORY_COUNTS = Prepared(lambda dialect: union_all(*(
    select(h.c.account_record_id, func.count()).where(in_param(dialect, h.c.account_record_id, "accounts"))
    .group_by(h.c.account_record_id) for h in HISTORIES)))
_FORGET = Prepared(lambda dialect: delete(checkpoints).where(
    checkpoints.c.tenant_record_id == bindparam("tenant"),
    in_param(dialect, checkpoints.c.account_record_id, "accounts")))


def history_counts(conn: Connection, account_record_ids: Sequence[int]) -> dict[int, int]:
    """The count of invoice and item history rows of each account (as this transaction sees them)."""
    counts = dict.fromkeys(account_record_ids, 0)
    for arid, n in conn.execute(_HISTORY_COUNTS(conn), {"accounts": list(account_record_ids)}):
        counts[arid] += n
    return counts


def save(conn: Connection, tenant: int, made: Mapping[int, BillingCheckpoint], forget: Sequence[int],
         now: datetime) -> None:
    """Store the accounts' new checkpoints at their current history counts; drop those of `forget`."""
    ids = sorted({*made, *forget})
    if not ids:
        return
    conn.execute(_FORGET(conn), {"tenant": tenant, "accounts": ids})
    if made:
        counts = history_counts(conn, list(made))
        conn.execute(insert(checkpoints), [
            {"account_record_id": arid, "tenant_record_id": tenant, "history_count": counts[arid],
             "checkpoint": json.dumps(cp.to_json(), separators=(",", ":")), "updated_date": now}
            for arid, cp in made.items()])
