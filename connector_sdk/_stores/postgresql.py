"""The PostgreSQL authentication store: one store for a fleet of workers on many hosts.

Selected with ``CONNECTOR_SDK_STORE=postgresql://user@host:port/dbname`` (extra
``connector-sdk[postgresql]``: psycopg 3 and its connection pool). It keeps the records in
the same two tables as the SQLite store, through the same operations (``sql.SQLStore``) and
the same encoding (``codec``), so what it guarantees is what that store guarantees, plus:

* **Secrets encrypted at rest, by every worker alike.** Values are sealed with
  ``SecretCipher`` (AES-256-GCM, associated data binding each value to its authentication
  and parameter) *before* they leave the process: the server, its WAL, its backups and
  ``pg_dump`` only ever see sealed bytes. Every worker needs the same key
  (``CONNECTOR_SDK_SECRET_KEY``); none is ever generated for this store.
* **Its own schema.** Tables live in the ``connector_sdk`` schema (created if missing), so
  they never meet an application's tables of the same name in a shared database.
* **Schema versions and forward migrations.** ``connector_sdk.schema_version`` holds the
  version; ``_MIGRATIONS`` brings an older store up to date inside one transaction, under a
  transaction-scoped advisory lock, so workers starting together migrate once. A store
  written by a newer connector-sdk is refused, never misread. Version 2 added the registry
  of the keys that sealed the store's secrets, so a worker with another key is told at once;
  version 3 the records' grant, status and sealed tokens, pending authorizations and leases.
* **Concurrent writers across processes and hosts.** Every write is one transaction; an
  update bumps the version with a compare-and-set ``UPDATE``, whose row lock serialises the
  writers of one record (``sql`` says how); a delete locks the record before its rows.
* **Clear errors, never a password.** An unreachable server, refused credentials, a missing
  database or privilege are ``StoreError`` naming ``user@host:port/dbname`` and the fix;
  the URL's password is removed from every message and from ``describe()``.
* **Connections are pooled and checked** on checkout, so a server restart costs a
  reconnection, not a failed call.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._errors import StoreError
from .._secrets import MASK, shown_url
from .._telemetry import get_logger
from .codec import Row
from .crypto import SecretCipher
from .protocol import now_text
from .sql import Execute, SQLStore

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["SCHEMA", "SCHEMA_VERSION", "PostgreSQLStore", "display_url", "is_postgresql_url"]

log = get_logger("connector_sdk.store")

#: The PostgreSQL schema (namespace) that holds the store's tables.
SCHEMA = "connector_sdk"
#: The schema version this code writes.
SCHEMA_VERSION = 3
_LOCK_ID = 0x636F6E6E  # pg_advisory_xact_lock key: one migrator at a time per database
_INSTALL = "install it with: pip install 'connector-sdk[postgresql]'"

#: ``_MIGRATIONS[n]`` turns schema version ``n`` into ``n + 1`` (0: an empty database).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        "CREATE TABLE authentications (name TEXT PRIMARY KEY, service TEXT NOT NULL,"
        " version INTEGER NOT NULL CHECK (version >= 1), created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE TABLE parameters (authentication TEXT NOT NULL REFERENCES"
        " authentications(name) ON DELETE CASCADE, name TEXT NOT NULL, kind TEXT NOT NULL"
        " CHECK (kind IN ('json', 'secret')), value BYTEA NOT NULL,"
        " PRIMARY KEY (authentication, name))",
    ),
    1: (
        # The key ids (bytes 2-9 of every sealed value, see crypto) that sealed secrets here.
        "CREATE TABLE secret_keys (key_id BYTEA PRIMARY KEY, first_seen TEXT NOT NULL)",
        "INSERT INTO secret_keys (key_id, first_seen) SELECT DISTINCT"
        " substring(value FROM 2 FOR 8), %(now)s FROM parameters WHERE kind = 'secret'"
        " AND length(value) > 9 ON CONFLICT DO NOTHING",
    ),
    2: (
        # The record's grant, status and sealed tokens (existing: client credentials,
        # active); pending authorizations and leases (see ``authorization``).
        "ALTER TABLE authentications ADD COLUMN grant_type TEXT NOT NULL"
        " DEFAULT 'client_credentials'",
        "ALTER TABLE authentications ADD COLUMN status TEXT NOT NULL DEFAULT 'active'",
        "ALTER TABLE authentications ADD COLUMN tokens BYTEA",
        "CREATE TABLE pending_authorizations (id TEXT PRIMARY KEY, payload BYTEA NOT NULL,"
        " expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION)",
        "CREATE TABLE leases (lease_key TEXT PRIMARY KEY, owner TEXT NOT NULL,"
        " expires_at DOUBLE PRECISION NOT NULL)",
    ),
}


def is_postgresql_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def display_url(url: str) -> str:
    """``postgresql://user@host:port/dbname``: the URL without its password or options."""
    return shown_url(url)


class PostgreSQLStore(SQLStore):
    """The records in a PostgreSQL database, secrets sealed by ``cipher``.

    ``url`` is a libpq URL (``postgresql://user:password@host:port/dbname?sslmode=...``).
    Opening connects, checks the server and brings the schema up to date; it raises
    ``StoreError`` naming the server and the fix. Usable as a context manager.
    """

    def __init__(
        self, url: str, cipher: SecretCipher, *, pool_size: int = 4, timeout: float = 10.0
    ) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise StoreError(
                f"CONNECTOR_SDK_STORE selects PostgreSQL, but psycopg is not installed; "
                f"{_INSTALL}"
            ) from exc
        self._cipher = cipher
        self._url = url
        self._display = display_url(url)
        self._password = urllib.parse.unquote(urllib.parse.urlsplit(url).password or "")
        self._timeout = timeout
        self._psycopg = psycopg
        self._pool: ConnectionPool[Any] | None = None
        try:
            first = psycopg.connect(url, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise self._error(exc, "connect to") from None
        try:
            self._foreign_keys = self._prepare(first)
        except psycopg.Error as exc:
            raise self._error(exc, "prepare the schema of") from None
        finally:
            first.close()
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, timeout=timeout,
            configure=_use_schema, check=ConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, int(timeout))}, name="connector-sdk-store",
        )
        self._pool.open(wait=False)
        if self._foreign_keys:
            log.warning("%s", self._key_warning())

    # -- lifecycle -----------------------------------------------------------------------

    def describe(self) -> str:
        warning = f"; {self._key_warning()}" if self._foreign_keys else ""
        return (f"PostgreSQL store at {self._display} (secrets encrypted, key from "
                f"{self._cipher.origin}){warning}")

    def __repr__(self) -> str:
        return f"PostgreSQLStore({self._display!r})"

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _key_warning(self) -> str:
        return (f"the configured key (id {self._cipher.key_id.hex()}) sealed none of the "
                f"secrets in this store, which were sealed with key id(s) "
                f"{', '.join(self._foreign_keys)}: set CONNECTOR_SDK_SECRET_KEY to the "
                f"fleet's key")

    # -- SQLStore plumbing ---------------------------------------------------------------

    def _where(self) -> str:
        return f"the PostgreSQL store at {self._display}"

    def _stored_value(self, value: bytes | str) -> Any:
        return value.encode("utf-8") if isinstance(value, str) else value

    def _insert_parameters(self, execute: Execute, name: str, rows: Sequence[Row]) -> None:
        super()._insert_parameters(execute, name, rows)
        if any(kind == "secret" for _, kind, _ in rows):
            execute("INSERT INTO secret_keys (key_id, first_seen) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING", (self._cipher.key_id, now_text()))

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[Execute]:
        psycopg = self._psycopg
        from psycopg_pool import PoolTimeout

        if self._pool is None:
            raise StoreError(f"the PostgreSQL store at {self._display} is closed")
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield lambda sql, params: conn.execute(sql.replace("?", "%s"), params)
        except PoolTimeout:
            raise StoreError(
                f"cannot {action} the PostgreSQL store at {self._display}: no connection "
                f"within {self._timeout:g} s; check that the server is running and reachable "
                f"from this host, and that it accepts more connections"
            ) from None
        except psycopg.Error as exc:
            raise self._error(exc, action) from None

    # -- schema ----------------------------------------------------------------------------

    def _prepare(self, conn: psycopg.Connection[Any]) -> list[str]:
        """Create or migrate the schema (one transaction, one migrator at a time); return
        the ids of the keys that sealed secrets here when the configured key is not one."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY"
                         " CHECK (id = 1), version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the PostgreSQL store at {self._display} has schema version {version}, "
                    f"written by a newer connector-sdk (this one knows up to "
                    f"{SCHEMA_VERSION}); upgrade connector-sdk on this worker"
                )
            if version < SCHEMA_VERSION:
                log.info("migrating the PostgreSQL store at %s from schema version %d to %d",
                         self._display, version, SCHEMA_VERSION)
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement, {"now": now_text()} if "%(" in statement else None)
                version += 1
            conn.execute("INSERT INTO schema_version (id, version) VALUES (1, %s)"
                         " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                         (version,))
            keys = [bytes(key) for (key,) in conn.execute("SELECT key_id FROM secret_keys")]
        return [] if not keys or self._cipher.key_id in keys else [key.hex() for key in keys]

    def _error(self, exc: Exception, action: str) -> StoreError:
        """A ``StoreError`` for a psycopg failure, with the fix and without the password."""
        psycopg = self._psycopg
        detail = " ".join(str(exc).split())
        if self._password:  # the one mask (a DSN carries the password percent-encoded too)
            for form in {self._password, urllib.parse.quote(self._password, safe="")}:
                detail = detail.replace(form, MASK)
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate == "28P01" or "password authentication failed" in detail:
            hint = "check the user name and password in CONNECTOR_SDK_STORE"
        elif sqlstate == "3D000" or ("database" in detail and "does not exist" in detail):
            hint = "create the database first (createdb), or fix its name in the URL"
        elif sqlstate == "42501" or "permission denied" in detail:
            hint = (f"grant this user the right to create the schema {SCHEMA} (or create it "
                    f"for them: CREATE SCHEMA {SCHEMA} AUTHORIZATION <user>)")
        elif isinstance(exc, psycopg.OperationalError):
            hint = ("check that the server is running, that host and port are right, and that "
                    "this host may connect (pg_hba.conf, firewall, sslmode)")
        elif isinstance(exc, psycopg.ProgrammingError) and not sqlstate:
            hint = "CONNECTOR_SDK_STORE must be a libpq URL: postgresql://user@host:port/db"
        else:
            hint = "check the server's log"
        return StoreError(
            f"cannot {action} the PostgreSQL store at {self._display}: {detail[:300]}; {hint}"
        )


def _use_schema(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection works in the store's own schema."""
    conn.execute(f"SET search_path TO {SCHEMA}")
    if not conn.autocommit:
        conn.commit()
