"""Users, roles and permissions for HTTP basic authentication (Kill Bill's Shiro JDBC realm and SecurityApi).

Passwords are hashed with argon2. On first start a default `admin`/`password`
user with the `root` role (`*`, every permission) is created unless configured
otherwise, as Kill Bill's shipped `shiro.ini` has it; the server warns while
that default password is still in use.

Users and roles are global, not per tenant, as in Kill Bill. A user's permissions and stored password hash are
cached per process for a few seconds (`permission_ttl`), and dropped at once on this node when a role or a user
changes: another node sees a change within that time, as Kill Bill's Shiro caches behave per node.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from billow.core.context import CallContext, internal_context
from billow.core.db import Database
from billow.core.errors import Conflict, InvalidInput, NotFound
from billow.core.limits import check_text, text_problem
from billow.core.secrets import VerifiedCache, hash_secret, verify_secret
from billow.security import store
from billow.security.permissions import expand, invalid_permission, permitted
from billow.security.throttle import LoginThrottle

DEFAULT_ADMIN = "admin"
DEFAULT_PASSWORD = "password"
ROOT_ROLE = "root"
SECURITY_EXCEPTION = "org.killbill.billing.security.SecurityApiException"


def _invalid_user(username: str) -> NotFound:
    return NotFound(f"The user {username} does not exist or has been inactivated", code=40001,
                    class_name=SECURITY_EXCEPTION)


class SecurityService:
    def __init__(self, db: Database, *, throttle: LoginThrottle | None = None, permission_ttl: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.throttle = throttle or LoginThrottle.from_environment()
        self.permission_ttl = permission_ttl
        self._monotonic = monotonic
        self._verified = VerifiedCache()
        self._permissions: dict[str, tuple[float, frozenset[str]]] = {}
        self._users: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()

    # --- authentication -------------------------------------------------------------------------------------

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

    def authenticate(self, username: str, password: str, source: str = "") -> bool:
        """Basic credentials check. After too many failures for (user, source address) in a window, the password
        is not even checked until the window passes (`LoginThrottle`)."""
        if text_problem(username) is not None:  # no user has such a name (a NUL from Basic credentials)
            return False
        if self.throttle.blocked(username, source):
            return False
        user = self._user(username)
        ok = user is not None and self._verified.check(username, password, user["password"])
        if ok:
            self.throttle.succeeded(username, source)
        else:
            self.throttle.failed(username, source)
        return ok

    def remembered(self, username: str, password: str, source: str) -> bool:
        """True when these credentials passed `authenticate` lately and the user's row is still remembered (no
        database, no hashing: an event loop may call it). False says only that `authenticate` must decide."""
        cached = self._users.get(username)
        if cached is None or cached[0] <= self._monotonic() or self.throttle.blocked(username, source):
            return False
        ok = self._verified.remembered(username, password, cached[1]["password"])
        if ok:
            self.throttle.succeeded(username, source)
        return ok

    def _user(self, username: str) -> Mapping[str, Any] | None:
        """The user's row, remembered as long as its permissions are (`permission_ttl`): a request does not read
        it again, and a change on this node drops it at once."""
        now = self._monotonic()
        cached = self._users.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.db.read() as uow:
            user = store.user_by_name(uow.conn, username)
        with self._lock:
            if user is None:
                self._users.pop(username, None)
            else:
                if len(self._users) >= 10_000:
                    self._users.clear()
                self._users[username] = (now + self.permission_ttl, user)
        return user

    def uses_default_password(self) -> bool:
        with self.db.read() as uow:
            user = store.user_by_name(uow.conn, DEFAULT_ADMIN)
        return user is not None and verify_secret(user["password"], DEFAULT_PASSWORD)

    # --- authorization --------------------------------------------------------------------------------------

    def granted(self, username: str) -> frozenset[str]:
        """The permission strings of the user's roles (wildcards as stored)."""
        now = self._monotonic()
        with self._lock:
            cached = self._permissions.get(username)
            if cached is not None and cached[0] > now:
                return cached[1]
        with self.db.read() as uow:
            found = frozenset(store.permissions_of_user(uow.conn, username))
        with self._lock:
            if len(self._permissions) > 10_000:
                self._permissions.clear()
            self._permissions[username] = (now + self.permission_ttl, found)
        return found

    def is_permitted(self, username: str, permission: str) -> bool:
        return permitted(self.granted(username), permission)

    def permitted_remembered(self, username: str, permission: str) -> bool | None:
        """`is_permitted` from what this node remembers (no database: an event loop may call it); None when the
        user's permissions must be read again."""
        with self._lock:
            cached = self._permissions.get(username)
        if cached is None or cached[0] <= self._monotonic():
            return None
        return permitted(cached[1], permission)

    def permissions(self, username: str) -> list[str]:
        """Kill Bill's getCurrentUserPermissions: every Kill Bill permission the user holds, expanded."""
        return expand(self.granted(username))

    def _forget(self) -> None:
        with self._lock:
            self._permissions.clear()
            self._users.clear()

    # --- users ----------------------------------------------------------------------------------------------

    @staticmethod
    def _check_name(field: str, value: str | None) -> str:
        if not value:
            raise InvalidInput(f"{field}: needs to be set")
        check_text(field, value, 128)
        return value

    def add_user(self, ctx: CallContext, username: str, password: str, roles: list[str]) -> None:
        """Kill Bill's addUserRoles: a new user with its password and roles (the roles must exist, but for the
        built-in root role)."""
        self._check_name("username", username)
        if not password:
            raise InvalidInput("password: needs to be set")
        for role in roles:
            self._check_name("roles", role)
        hashed = hash_secret(password)
        with self.db.transaction(ctx) as uow:
            if store.user_by_name(uow.conn, username) is not None:
                raise Conflict(f"The user {username} already exists", code=40002, class_name=SECURITY_EXCEPTION)
            self._check_roles_exist(uow.conn, roles)
            uow.insert("users", {"id": str(uuid.uuid4()), "username": username, "password": hashed,
                                 "is_active": True, "tenant_record_id": None})
            for role in dict.fromkeys(roles):
                uow.insert("user_roles", {"username": username, "role_name": role, "is_active": True,
                                          "tenant_record_id": None})
        self._forget()

    @staticmethod
    def _check_roles_exist(conn: Connection, roles: list[str]) -> None:
        wanted = [r for r in dict.fromkeys(roles) if r != ROOT_ROLE]
        known = store.existing_roles(conn, wanted)
        for role in wanted:
            if role not in known:
                raise InvalidInput(f"The role {role} does not exist or has been inactivated", code=40003,
                                   class_name=SECURITY_EXCEPTION)

    def update_password(self, ctx: CallContext, username: str, password: str) -> None:
        if not password:
            raise InvalidInput("password: needs to be set")
        hashed = hash_secret(password)
        with self.db.transaction(ctx) as uow:
            user = store.user_by_name(uow.conn, username)
            if user is None:
                raise _invalid_user(username)
            uow.update("users", user["record_id"], {"password": hashed})
        self._forget()

    def user_roles(self, username: str) -> list[str]:
        with self.db.read() as uow:
            if store.user_by_name(uow.conn, username) is None:
                raise _invalid_user(username)
            return [r["role_name"] for r in store.user_role_rows(uow.conn, username)]

    def update_roles(self, ctx: CallContext, username: str, roles: list[str]) -> None:
        for role in roles:
            self._check_name("roles", role)
        with self.db.transaction(ctx) as uow:
            if store.user_by_name(uow.conn, username) is None:
                raise _invalid_user(username)
            self._check_roles_exist(uow.conn, roles)
            current = store.user_role_rows(uow.conn, username)
            wanted = list(dict.fromkeys(roles))
            for row in current:
                if row["role_name"] not in wanted:
                    uow.soft_delete("user_roles", row["record_id"], {"is_active": False})
            have = {row["role_name"] for row in current}
            for role in wanted:
                if role not in have:
                    uow.insert("user_roles", {"username": username, "role_name": role, "is_active": True,
                                              "tenant_record_id": None})
        self._forget()

    def invalidate_user(self, ctx: CallContext, username: str) -> None:
        """Kill Bill's invalidateUser: the user and its roles are retired (kept, inactive)."""
        with self.db.transaction(ctx) as uow:
            user = store.user_by_name(uow.conn, username)
            if user is None:
                raise _invalid_user(username)
            for row in store.user_role_rows(uow.conn, username):
                uow.soft_delete("user_roles", row["record_id"], {"is_active": False})
            uow.soft_delete("users", user["record_id"], {"is_active": False})
        self._forget()

    # --- roles ----------------------------------------------------------------------------------------------

    def _check_permissions(self, permissions: list[str]) -> list[str]:
        cleaned = []
        for permission in permissions:
            if not isinstance(permission, str) or invalid_permission(permission):
                raise InvalidInput(f"The permission {permission} is invalid", code=40005,
                                   class_name=SECURITY_EXCEPTION)
            cleaned.append(permission.strip())
        return list(dict.fromkeys(cleaned))

    def add_role(self, ctx: CallContext, role: str, permissions: list[str]) -> None:
        self._check_name("role", role)
        wanted = self._check_permissions(permissions)
        with self.db.transaction(ctx) as uow:
            if store.role_rows(uow.conn, role):
                raise Conflict(f"The role {role} already exists", code=40004, class_name=SECURITY_EXCEPTION)
            for permission in wanted:
                uow.insert("roles_permissions", {"role_name": role, "permission": permission, "is_active": True,
                                                 "tenant_record_id": None})
        self._forget()

    def update_role(self, ctx: CallContext, role: str, permissions: list[str]) -> None:
        self._check_name("role", role)
        wanted = self._check_permissions(permissions)
        with self.db.transaction(ctx) as uow:
            current = store.role_rows(uow.conn, role)
            if not current:
                raise InvalidInput(f"The role {role} does not exist or has been inactivated", code=40003,
                                   class_name=SECURITY_EXCEPTION)
            for row in current:
                if row["permission"] not in wanted:
                    uow.soft_delete("roles_permissions", row["record_id"], {"is_active": False})
            have = {row["permission"] for row in current}
            for permission in wanted:
                if permission not in have:
                    uow.insert("roles_permissions", {"role_name": role, "permission": permission,
                                                     "is_active": True, "tenant_record_id": None})
        self._forget()

    def role_definition(self, role: str) -> list[str]:
        """The role's permissions as stored (empty for an unknown role, as Kill Bill's getRoleDefinition)."""
        with self.db.read() as uow:
            return [r["permission"] for r in store.role_rows(uow.conn, role)]
