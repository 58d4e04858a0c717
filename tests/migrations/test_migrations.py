"""The schema comes only from the migrations, and it matches the tables the services declare."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billow.app import Billow
from billow.core.db import metadata


def test_migrated_schema_matches_service_tables(billow: Billow) -> None:
    with billow.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, metadata)
    # index naming differs harmlessly between the two; tables and columns must not
    relevant = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
                and not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert relevant == []
    assert billow.db.current_revision() == billow.db.head_revision()


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    kb = Billow(f"sqlite:///{tmp_path / 'twice.db'}")
    kb.db.upgrade()
    assert kb.db.current_revision() == kb.db.head_revision()
    kb.close()


def test_no_schema_without_migrations(tmp_path: Path) -> None:
    kb = Billow(f"sqlite:///{tmp_path / 'bare.db'}", migrate=False)
    assert kb.db.current_revision() is None
    with pytest.raises(Exception, match="no such table"):
        kb.accounts.list(_ctx())
    kb.close()


def _ctx():  # type: ignore[no-untyped-def]
    from billow.core.context import CallContext

    return CallContext(tenant_record_id=1, tenant_id="x")
