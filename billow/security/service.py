"""Users, roles and permissions for HTTP basic authentication (Kill Bill's Shiro JDBC realm).

Passwords are hashed with argon2. On first start a default `admin`/`password`
user with the `root` role (`*`, every permission) is created unless configured
otherwise, as Kill Bill's shipped `shiro.ini` has it; the server warns while
that default password is still in use.
"""

from __future__ import annotations

import uuid

from billow.core.context import CallContext, internal_context
from billow.core.db import Database
from billow.core.errors import Conflict, InvalidInput
from billow.core.limits import text_problem
from billow.core.secrets import VerifiedCache, hash_secret, verify_secret
from billow.security import store

DEFAULT_ADMIN = "admin"
DEFAULT_PASSWORD = "password"
ROOT_ROLE = "root"


class SecurityService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._verified = VerifiedCache()

    def ensure_default_admin(self, username: str = DEFAULT_ADMIN, password: str = DEFAULT_PASSWORD) -> bool:
        """Create the first user when there is none. Returns True when one was created."""
        with self.db.read() as uow:
            if store.count_users(uow.conn) > 0:
                return False
        self.add_user(internal_context(user_name="billow"), username, password, [ROOT_ROLE])
        with self.db.transaction(internal_context(user_name="billow")) as uow:
            if not store.permissions_of_roles(uow.conn, [ROOT_ROLE]):
                uow.insert("roles_permissions", {"role_name": ROOT_ROLE, "permission": "*", "is_active": True})
        return True

    def add_user(self, ctx: CallContext, username: str, password: str, roles: list[str]) -> None:
        if not username or not password:
            raise InvalidInput("username and password: need to be set")
        hashed = hash_secret(password)
        with self.db.transaction(ctx) as uow:
            if store.user_by_name(uow.conn, username) is not None:
                raise Conflict(f"The user {username} already exists", code=40002,
                               class_name="org.killbill.billing.security.SecurityApiException")
            uow.insert("users", {"id": str(uuid.uuid4()), "username": username, "password": hashed,
                                 "is_active": True, "tenant_record_id": None})
            for role in roles:
                uow.insert("user_roles", {"username": username, "role_name": role, "is_active": True,
                                          "tenant_record_id": None})

    def authenticate(self, username: str, password: str) -> bool:
        if text_problem(username) is not None:  # no user has such a name (a NUL from Basic credentials)
            return False
        with self.db.read() as uow:
            user = store.user_by_name(uow.conn, username)
        return user is not None and self._verified.check(username, password, user["password"])

    def uses_default_password(self) -> bool:
        with self.db.read() as uow:
            user = store.user_by_name(uow.conn, DEFAULT_ADMIN)
        return user is not None and verify_secret(user["password"], DEFAULT_PASSWORD)

    def permissions(self, username: str) -> list[str]:
        with self.db.read() as uow:
            return sorted(set(store.permissions_of_roles(uow.conn, store.roles_of(uow.conn, username))))
