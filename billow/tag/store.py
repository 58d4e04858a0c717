"""SQL for the tag service's tables: `tag_definitions` (a tenant's own definitions) and `tags` (account-owned),
with Kill Bill's columns (`util/src/main/resources/org/killbill/billing/util/ddl.sql`). Both are audited;
removal keeps the row with `is_active` false, as Kill Bill's `markTagAsDeleted` does."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Boolean, Column, Connection, String, bindparam, func, literal_column, or_, select, text

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import audited_table
from billow.core.db.sets import in_values
from billow.core.db.text import contains
from billow.core.db.uow import name_lock_key
from billow.core.objects import ObjectType
from billow.tag.model import CONTROL_TAG_NAMES, Tag, TagDefinition

tag_definitions = audited_table(
    "tag_definitions", "TAG_DEFINITION",
    Column("name", String(20), nullable=False),
    Column("applicable_object_types", String(500), nullable=True),
    Column("description", String(200), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    account_owned=False,
)

tags = audited_table(
    "tags", "TAG",
    Column("tag_definition_id", String(36), nullable=False),
    Column("object_id", String(36), nullable=False, index=True),
    Column("object_type", String(30), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
)

TD, TG = tag_definitions.table, tags.table


def to_definition(m: Any) -> TagDefinition:
    types = tuple(ObjectType(t) for t in (m["applicable_object_types"] or "").split(",") if t)
    return TagDefinition(id=m["id"], name=m["name"], description=m["description"], applicable_object_types=types,
                         is_control_tag=False, record_id=m["record_id"], created_date=m["created_date"])


def to_tag(m: Any) -> Tag:
    return Tag(record_id=m["record_id"], id=m["id"], tag_definition_id=m["tag_definition_id"],
               object_id=m["object_id"], object_type=ObjectType(m["object_type"]),
               account_record_id=m["account_record_id"], is_active=bool(m["is_active"]),
               created_date=m["created_date"])


def _rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


# ------------------------------------------------------------------------------------------ tag definitions
def lock_definitions(conn: Connection, tenant: int) -> None:
    """One writer of a tenant's definitions at a time (names are unique among active ones); SQLite write
    transactions are serial already."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": name_lock_key(f"tag_definitions:{tenant}")})


def definitions(conn: Connection, tenant: int) -> list[TagDefinition]:
    """The tenant's active definitions, oldest first."""
    return [to_definition(r) for r in _rows(conn, select(TD).where(
        TD.c.tenant_record_id == tenant, TD.c.is_active.is_(True)).order_by(TD.c.record_id))]


def definition_row(conn: Connection, tenant: int, definition_id: str) -> dict[str, Any] | None:
    """An active definition of the tenant."""
    rows = _rows(conn, select(TD).where(TD.c.tenant_record_id == tenant, TD.c.id == definition_id,
                                        TD.c.is_active.is_(True)))
    return rows[0] if rows else None


def definition_any_state(conn: Connection, tenant: int, definition_id: str) -> dict[str, Any] | None:
    rows = _rows(conn, select(TD).where(TD.c.tenant_record_id == tenant, TD.c.id == definition_id))
    return rows[0] if rows else None


def definition_names(conn: Connection, tenant: int, definition_ids: Collection[str]) -> dict[str, str]:
    """{id: name} of the tenant's definitions among these ids, removed ones too (their old tags show them)."""
    if not definition_ids:
        return {}
    return {r.id: r.name for r in conn.execute(select(TD.c.id, TD.c.name).where(
        TD.c.tenant_record_id == tenant, in_values(conn, TD.c.id, list(definition_ids))))}


def active_definition_by_name(conn: Connection, tenant: int, name: str) -> dict[str, Any] | None:
    rows = _rows(conn, select(TD).where(TD.c.tenant_record_id == tenant, TD.c.name == name,
                                        TD.c.is_active.is_(True)))
    return rows[0] if rows else None


def definition_in_use(conn: Connection, tenant: int, definition_id: str) -> bool:
    return conn.execute(select(TG.c.record_id).where(TG.c.tenant_record_id == tenant,
                                                     TG.c.tag_definition_id == definition_id,
                                                     TG.c.is_active.is_(True)).limit(1)).first() is not None


# ------------------------------------------------------------------------------------------ tags
def tags_of_object(conn: Connection, tenant: int, object_id: str, object_type: ObjectType, *,
                   included_deleted: bool = False) -> list[Tag]:
    q = select(TG).where(TG.c.tenant_record_id == tenant, TG.c.object_id == object_id,
                         TG.c.object_type == object_type.value)
    if not included_deleted:
        q = q.where(TG.c.is_active.is_(True))
    return [to_tag(r) for r in _rows(conn, q.order_by(TG.c.record_id))]


def tags_of_account(conn: Connection, tenant: int, account_record_id: int, *, included_deleted: bool = False,
                    object_type: ObjectType | None = None) -> list[Tag]:
    q = select(TG).where(TG.c.tenant_record_id == tenant, TG.c.account_record_id == account_record_id)
    if not included_deleted:
        q = q.where(TG.c.is_active.is_(True))
    if object_type is not None:
        q = q.where(TG.c.object_type == object_type.value)
    return [to_tag(r) for r in _rows(conn, q.order_by(TG.c.record_id))]


def tag_by_id(conn: Connection, tenant: int, tag_id: str) -> Tag | None:
    """A tag of the tenant, removed or not."""
    rows = _rows(conn, select(TG).where(TG.c.tenant_record_id == tenant, TG.c.id == tag_id))
    return to_tag(rows[0]) if rows else None


def count_active(conn: Connection, tenant: int) -> int:
    return int(conn.execute(select(func.count()).select_from(TG).where(
        TG.c.tenant_record_id == tenant, TG.c.is_active.is_(True))).scalar_one())


def page(conn: Connection, tenant: int, offset: int, limit: int) -> list[Tag]:
    return [to_tag(r) for r in _rows(conn, select(TG).where(TG.c.tenant_record_id == tenant,
                                                            TG.c.is_active.is_(True))
                                     .order_by(TG.c.record_id).offset(offset).limit(limit))]


def search(conn: Connection, tenant: int, key: str, built_in_ids: Sequence[str], offset: int, limit: int
           ) -> tuple[list[Tag], int]:
    """Kill Bill's `TagSqlDao.search`: active tags whose id is the key, or whose object type, definition name or
    definition description contains it. `built_in_ids`: the built-in definitions whose name or description
    contains it (they are not rows)."""
    matching_definitions = select(TD.c.id).where(TD.c.tenant_record_id == tenant, TD.c.is_active.is_(True),
                                                 or_(contains(conn, TD.c.name, key),
                                                     contains(conn, TD.c.description, key)))
    where = (TG.c.tenant_record_id == tenant, TG.c.is_active.is_(True),
             or_(TG.c.id == key, contains(conn, TG.c.object_type, key),
                 TG.c.tag_definition_id.in_(matching_definitions), TG.c.tag_definition_id.in_(list(built_in_ids))))
    total = int(conn.execute(select(func.count()).select_from(TG).where(*where)).scalar_one())
    rows = _rows(conn, select(TG).where(*where).order_by(TG.c.record_id).offset(offset).limit(limit))
    return [to_tag(r) for r in rows], total


_CONTROL_TAGS = Prepared(lambda dialect: select(
    TG.c.account_record_id, TG.c.object_id, TG.c.object_type, TG.c.tag_definition_id)
    .where(TG.c.tenant_record_id == bindparam("tenant"), in_param(dialect, TG.c.account_record_id, "accounts"),
           # the control tags' ids are constants (UUIDs): written into the statement, not expanded at each run
           TG.c.tag_definition_id.in_([literal_column(f"'{i}'") for i in sorted(CONTROL_TAG_NAMES)]),
           TG.c.is_active.is_(True)))


def control_tags(conn: Connection, tenant: int, account_record_ids: Sequence[int]
                 ) -> list[tuple[int, str, str, str]]:
    """(account record id, object id, object type, control tag name) of the active control tags on these
    accounts and on their objects: one query for a whole billing batch."""
    if not account_record_ids:
        return []
    rows = conn.execute(_CONTROL_TAGS(conn), {"tenant": tenant, "accounts": list(account_record_ids)})
    return [(r[0], r[1], r[2], CONTROL_TAG_NAMES[r[3]]) for r in rows]
