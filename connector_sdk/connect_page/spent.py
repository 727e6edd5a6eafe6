"""Spent session links and page sessions, recorded once for every process serving the page.

A link is spent when it is opened, a page session while its post connects (and for good
once it did). ``SpentLinks`` is the interface; the default is ``StoreSpentLinks``, on the
authentication store's leases (``acquire_lease`` replaces only an expired lease, under the
store's write lock or row lock), so the page is single-use across a fleet exactly when its
authentications are shared: one SQLite file on a host, one PostgreSQL database for a fleet.
A store without leases (a third-party backend) gets ``SQLiteSpentLinks`` in the SDK home:
single use across the processes of that host, not beyond, so such a fleet passes its own.

A claim lasts until the token it names expires, plus a margin for clock skew between
processes; by then the signature refuses the token anyway, so a claim may lapse.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = ["SQLiteSpentLinks", "SpentLinks", "StoreSpentLinks", "default_spent_links"]

#: Seconds a claim outlives its token's expiry: the clocks of a fleet's hosts may differ.
SKEW = 300.0
_PREFIX = "connect-page:"


@runtime_checkable
class SpentLinks(Protocol):
    """Keys claimed once, by whichever process comes first."""

    def claim(self, key: str, expires_at: float) -> bool:
        """Claim ``key`` until ``expires_at`` (epoch seconds); True for the first claimant,
        False while an earlier claim holds."""
        ...

    def release(self, key: str) -> None:
        """Give back a claim this object made (a post that connected nothing)."""
        ...


class StoreSpentLinks:
    """``SpentLinks`` on an authentication store's leases (``acquire_lease``/
    ``release_lease``; the key prefixed ``connect-page:``, the owner random per object)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._owner = f"connect-page-{secrets.token_hex(8)}"

    def claim(self, key: str, expires_at: float) -> bool:
        ttl = max(expires_at + SKEW - time.time(), 0.0)
        return bool(self._store.acquire_lease(_PREFIX + key, self._owner, ttl))

    def release(self, key: str) -> None:
        self._store.release_lease(_PREFIX + key, self._owner)


class SQLiteSpentLinks:
    """``SpentLinks`` in a SQLite file: one INSERT per claim, its primary key deciding;
    rows past their expiry are dropped on the next claim."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # may be the SDK home
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spent_links"
                         " (key TEXT PRIMARY KEY, expires_at REAL NOT NULL)")

    def claim(self, key: str, expires_at: float) -> bool:
        with self._lock:
            self._db.execute("DELETE FROM spent_links WHERE expires_at < ?", (time.time(),))
            try:
                self._db.execute("INSERT INTO spent_links (key, expires_at) VALUES (?, ?)",
                                 (key, expires_at + SKEW))
            except sqlite3.IntegrityError:
                return False
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spent_links WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def default_spent_links(runtime: Runtime) -> SpentLinks:
    """The runtime's store when it has leases, else a SQLite file in the SDK home."""
    store = runtime.store
    if callable(getattr(store, "acquire_lease", None)) and \
            callable(getattr(store, "release_lease", None)):
        return StoreSpentLinks(store)
    return SQLiteSpentLinks(runtime.config.home / "connect-page.sqlite")
