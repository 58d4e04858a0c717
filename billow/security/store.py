"""SQL for users, their roles and the roles' permissions (Kill Bill's JDBC realm tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Connection, String, select

from billow.core.db.schema import audited_table

users = audited_table(
    "users", "USER",
    Column("username", String(128), nullable=False, unique=True),
    Column("password", String(255), nullable=False),  # argon2 hash
    Column("is_active", Boolean, nullable=False, default=True),
    account_owned=False, tenant_scoped=False,
)

user_roles = audited_table(
    "user_roles", "USER_ROLE",
    Column("username", String(128), nullable=False, index=True),
    Column("role_name", String(128), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    account_owned=False, tenant_scoped=False,
)

roles_permissions = audited_table(
    "roles_permissions", "ROLE_PERMISSION",
    Column("role_name", String(128), nullable=False, index=True),
    Column("permission", String(128), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    account_owned=False, tenant_scoped=False,
)


def user_by_name(conn: Connection, username: str) -> dict[str, Any] | None:
    t = users.table
    row = conn.execute(select(t).where(t.c.username == username, t.c.is_active.is_(True))).first()
    return dict(row._mapping) if row else None


def count_users(conn: Connection) -> int:
    t = users.table
    return len(conn.execute(select(t.c.record_id).where(t.c.is_active.is_(True)).limit(2)).all())


def roles_of(conn: Connection, username: str) -> list[str]:
    t = user_roles.table
    rows = conn.execute(select(t.c.role_name).where(t.c.username == username, t.c.is_active.is_(True)))
    return [r[0] for r in rows]


def permissions_of_roles(conn: Connection, roles: list[str]) -> list[str]:
    if not roles:
        return []
    t = roles_permissions.table
    rows = conn.execute(select(t.c.permission).where(t.c.role_name.in_(roles), t.c.is_active.is_(True)))
    return [r[0] for r in rows]


def permissions_of_user(conn: Connection, username: str) -> list[str]:
    """The permissions of every active role of an active user, in one read."""
    u, ur, rp = users.table, user_roles.table, roles_permissions.table
    rows = conn.execute(
        select(rp.c.permission)
        .join(ur, (ur.c.role_name == rp.c.role_name) & ur.c.is_active.is_(True))
        .join(u, (u.c.username == ur.c.username) & u.c.is_active.is_(True))
        .where(ur.c.username == username, rp.c.is_active.is_(True)))
    return [r[0] for r in rows]


def role_rows(conn: Connection, role: str) -> list[dict[str, Any]]:
    t = roles_permissions.table
    rows = conn.execute(select(t.c.record_id, t.c.permission).where(t.c.role_name == role, t.c.is_active.is_(True))
                        .order_by(t.c.record_id))
    return [dict(r._mapping) for r in rows]


def user_role_rows(conn: Connection, username: str) -> list[dict[str, Any]]:
    t = user_roles.table
    rows = conn.execute(select(t.c.record_id, t.c.role_name).where(t.c.username == username, t.c.is_active.is_(True))
                        .order_by(t.c.record_id))
    return [dict(r._mapping) for r in rows]


def existing_roles(conn: Connection, roles: list[str]) -> set[str]:
    if not roles:
        return set()
    t = roles_permissions.table
    rows = conn.execute(select(t.c.role_name).where(t.c.role_name.in_(roles), t.c.is_active.is_(True)).distinct())
    return {r[0] for r in rows}
