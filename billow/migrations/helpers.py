"""Helpers for migrations: the row conventions of DESIGN.md, and audited tables with history twins.

Migrations are snapshots: they never import a service's table definitions,
so a later change to a service does not rewrite an old migration.
`tests/test_migrations.py` checks that the migrated schema matches the tables
the services declare.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime


def record_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def entity_columns(*, account_owned: bool, tenant_nullable: bool = False) -> list[sa.Column]:
    cols = [
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("created_date", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(50), nullable=False),
        sa.Column("updated_date", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(50), nullable=False),
    ]
    if account_owned:
        cols.append(sa.Column("account_record_id", record_id(), nullable=True))
    cols.append(sa.Column("tenant_record_id", record_id(), nullable=tenant_nullable))
    return cols


def create_audited(name: str, *columns: sa.Column, account_owned: bool = True,
                   tenant_nullable: bool = False, constraints: tuple = ()) -> None:
    base = entity_columns(account_owned=account_owned, tenant_nullable=tenant_nullable)
    # entity columns come first, then the table's own, as in billow.core.db.schema
    op.create_table(name, *base, *columns, *constraints)
    op.create_index(f"ix_{name}_tenant_record_id", name, ["tenant_record_id"])
    if account_owned:
        op.create_index(f"ix_{name}_account_record_id", name, ["account_record_id"])
    history_cols = [
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("target_record_id", record_id(), nullable=False),
        sa.Column("change_type", sa.String(6), nullable=False),
    ]
    for col in [*base[1:], *columns]:
        history_cols.append(sa.Column(col.name, col.type, nullable=True))
    op.create_table(f"{name}_history", *history_cols)
    op.create_index(f"ix_{name}_history_target_record_id", f"{name}_history", ["target_record_id"])


def drop_audited(name: str) -> None:
    op.drop_table(f"{name}_history")
    op.drop_table(name)
