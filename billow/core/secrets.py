"""Hashing of secrets (tenant API secrets, user passwords) with argon2, and a cache of checks.

argon2 is slow on purpose (tens of milliseconds); a server checks the same
credentials on every request, so a successful check is remembered in memory,
keyed by a salted digest of the secret (never the secret itself), for a short time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_PEPPER = os.urandom(32)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class VerifiedCache:
    """Remembers (identity, secret digest, stored hash) triples that verified, for `ttl` seconds."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bytes, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(secret: str) -> bytes:
        return hmac.new(_PEPPER, secret.encode(), hashlib.sha256).digest()

    def remembered(self, identity: str, secret: str, stored_hash: str) -> bool:
        """True when this triple verified within `ttl`: no hash is computed (cheap enough for an event loop)."""
        key = (identity, self._digest(secret), stored_hash)
        with self._lock:
            expiry = self._entries.get(key)
        return expiry is not None and expiry > time.monotonic()

    def check(self, identity: str, secret: str, stored_hash: str) -> bool:
        if self.remembered(identity, secret, stored_hash):
            return True
        key = (identity, self._digest(secret), stored_hash)
        now = time.monotonic()
        if not verify_secret(stored_hash, secret):
            return False
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = now + self.ttl
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
