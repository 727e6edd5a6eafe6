"""Pending authorizations and leases: the store's part of the authorization-code grant.

Both live in the store every process of a fleet already shares (one SQLite file, or one
PostgreSQL database), so an authorization begun by one process can be completed by another,
and two processes about to spend one rotating refresh token take turns.

* **Pending authorizations** (``pending_authorizations``) are kept under the SHA-256 of
  their state, never the state itself (the state is a bearer handle: the database holds no
  value that completes a flow), their payload sealed by the store's cipher with the digest
  as associated data. ``take_pending`` marks a row used with one conditional ``UPDATE …
  WHERE used_at IS NULL``: under SQLite's write lock or PostgreSQL's row lock exactly one
  transaction sees ``rowcount == 1``; every later one finds the row used (``replayed``).
  A used row keeps no payload, and rows a day past expiry are removed on the next write.
* **Leases** (``leases``) are ``TokenLease`` (``_auth.cache``) on the store: acquire is an
  upsert that replaces only an expired lease, release a compare-and-delete on the owner.
  Times are the callers' wall clocks (epoch seconds); the TTL bounds what a skew can cost.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .._errors import StoreError
from .._secrets import Secret
from .crypto import SecretCipher
from .protocol import PendingAuthorization

#: ``sql.Execute``: one statement with ``?`` placeholders (not imported: sql imports this).
Execute = Callable[[str, Sequence[Any]], Any]

__all__ = ["PENDING_FIELD", "AuthorizationRows", "state_digest"]

#: The associated data's authentication name for a sealed pending authorization.
PENDING_FIELD = "\x00pending-authorization"
#: How long a used or expired pending row is kept, to tell ``replayed``/``expired`` apart
#: from ``unknown`` (seconds).
_KEEP_USED = 24 * 3600.0


def state_digest(state: str) -> str:
    """The key a pending authorization is stored under: SHA-256 of its state, hex."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


class AuthorizationRows:
    """``put_pending``/``take_pending`` and the lease methods, for ``sql.SQLStore``."""

    _cipher: SecretCipher

    def _transaction(self, action: str, *, write: bool) -> AbstractContextManager[Execute]:
        raise NotImplementedError

    def _stored_value(self, value: bytes | str) -> Any:
        raise NotImplementedError

    # -- pending authorizations ------------------------------------------------------------

    def put_pending(self, state_id: str, payload: Secret, *, expires_at: float) -> None:
        digest = state_digest(state_id)
        sealed = self._cipher.encrypt(payload, authentication=PENDING_FIELD, parameter=digest)
        now = time.time()
        with self._transaction("keep a pending authorization in", write=True) as execute:
            execute("DELETE FROM pending_authorizations WHERE expires_at < ?",
                    (now - _KEEP_USED,))
            cursor = execute(
                "INSERT INTO pending_authorizations (id, payload, expires_at, used_at)"
                " VALUES (?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING",
                (digest, self._stored_value(sealed), float(expires_at)))
            if cursor.rowcount == 0:  # 256 random bits twice: never by chance
                raise StoreError("a pending authorization with this state exists already")

    def take_pending(self, state_id: str, *, now: float) -> PendingAuthorization:
        digest = state_digest(state_id)
        with self._transaction("take a pending authorization from", write=True) as execute:
            cursor = execute(
                "UPDATE pending_authorizations SET used_at = ? WHERE id = ? AND used_at IS NULL",
                (now, digest))
            row = execute("SELECT payload, expires_at FROM pending_authorizations"
                          " WHERE id = ?", (digest,)).fetchone()
            if row is None:
                return PendingAuthorization("unknown")
            if cursor.rowcount == 0:
                return PendingAuthorization("replayed")
            payload, expires_at = row
            execute("UPDATE pending_authorizations SET payload = ? WHERE id = ?",
                    (self._stored_value(b""), digest))
        if float(expires_at) <= now:
            return PendingAuthorization("expired")
        opened = self._cipher.decrypt(bytes(payload), authentication=PENDING_FIELD,
                                      parameter=digest)
        return PendingAuthorization("found", opened)

    # -- leases (TokenLease) ---------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._transaction("take a lease in", write=True) as execute:
            cursor = execute(
                "INSERT INTO leases (lease_key, owner, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (lease_key) DO UPDATE SET owner = excluded.owner,"
                " expires_at = excluded.expires_at WHERE leases.expires_at <= ?",
                (key, owner, now + ttl, now))
            return bool(cursor.rowcount == 1)

    def release_lease(self, key: str, owner: str) -> bool:
        with self._transaction("release a lease in", write=True) as execute:
            cursor = execute("DELETE FROM leases WHERE lease_key = ? AND owner = ?",
                             (key, owner))
            return bool(cursor.rowcount == 1)

    async def aacquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        import asyncio

        return await asyncio.to_thread(self.acquire_lease, key, owner, ttl)

    async def arelease_lease(self, key: str, owner: str) -> bool:
        import asyncio

        return await asyncio.to_thread(self.release_lease, key, owner)
