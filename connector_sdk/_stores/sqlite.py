"""The authentication store: where named authentications and their parameters live.

``AuthenticationStore`` is the interface the runtime and the CLI use; a backend is chosen
through the store hook, so a PostgreSQL (or other) backend can plug in beside the built-in
``SQLiteStore``. ``open_default_store`` opens the embedded default:
``<home>/authentications.db`` with its key from ``CONNECTOR_SDK_SECRET_KEY`` or
``<home>/secret.key`` (see ``_home`` and ``_crypto``).

What ``SQLiteStore`` guarantees, and why:

* **Secrets encrypted at rest.** Every ``Secret`` parameter value is sealed on its own by
  ``SecretCipher`` (AES-256-GCM, bound to the authentication and parameter names);
  non-secret values are stored as JSON. The database never holds a clear secret.
* **Owner-only files.** The database is created ``0o600`` before SQLite opens it; SQLite gives
  its ``-wal`` and ``-shm`` files the database's mode. Existing files that grant group or
  other access are refused (``chmod 600`` fixes them), as is a loose home directory.
* **Several processes at once.** WAL journal (readers never block the writer), every write
  is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two writers
  never deadlock upgrading a read lock), and ``busy_timeout`` makes a writer wait for the
  lock instead of failing at once. ``expected_version`` gives callers optimistic concurrency
  for read-modify-write.
* **Crash safety.** A process killed (even SIGKILL) mid-write leaves either the whole
  transaction or none of it. ``synchronous=FULL`` additionally fsyncs the WAL at every commit
  so a commit that returned survives power loss or an OS crash, not only a process crash
  (``NORMAL`` would be enough for the latter); writes here are rare and small, so the fsync
  costs nothing that matters.
* **Threads.** One ``SQLiteStore`` may be shared by threads: it has one connection guarded
  by a lock, so operations on one instance run one at a time. (One connection per thread
  would allow parallel reads but makes ``close`` unable to close other threads'
  connections; authentication look-ups are too cheap for that to pay.)
* **Migrations.** ``schema_version`` holds the schema's version; a database written by a
  newer connector-sdk is refused with a clear error instead of being misread.

Records are replaced whole by ``update`` (the runtime validates and merges parameters before
it calls the store). Not protected: someone with write access to the database can delete a
parameter row or roll a record back to an older copy of itself; they cannot read a secret or
move one to another record or field.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from .._errors import (
    AuthenticationConflict,
    AuthenticationExists,
    AuthenticationNotFound,
    StoreError,
)
from .._secrets import Secret, UnreadableSecret
from .crypto import SecretCipher, key_origin, load_secret_key
from .home import check_private, ensure_private_dir, sdk_home

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_BUSY_TIMEOUT",
    "MAX_NAME_LENGTH",
    "SCHEMA_VERSION",
    "AuthenticationRecord",
    "AuthenticationStore",
    "SQLiteStore",
    "open_default_store",
    "validate_name",
]

#: The database file's name inside the home directory.
DATABASE_NAME = "authentications.db"
#: The schema version this code writes; ``_MIGRATIONS`` brings older ones up to it.
SCHEMA_VERSION = 1
#: Longest authentication (and parameter) name accepted.
MAX_NAME_LENGTH = 200
#: How long a writer waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT = 30.0

_SCHEMA_V1 = """
CREATE TABLE authentications (
    name TEXT PRIMARY KEY NOT NULL,
    service TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE parameters (
    authentication TEXT NOT NULL REFERENCES authentications(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('json', 'secret')),
    value BLOB NOT NULL,
    PRIMARY KEY (authentication, name)
) WITHOUT ROWID;
"""

#: ``_MIGRATIONS[n]`` turns schema version ``n`` into ``n + 1`` (none yet).
_MIGRATIONS: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class AuthenticationRecord:
    """A stored authentication: what the store returns; the caller may keep it.

    ``parameters`` is read-only; secret values are ``Secret`` instances (so ``repr`` of a
    record shows a mask), the others JSON scalars. ``created_at`` and ``updated_at`` are
    ISO-8601 UTC; ``version`` starts at 1 and grows by one with every update.
    """

    name: str
    service: str
    parameters: Mapping[str, Any]
    created_at: str
    updated_at: str
    version: int


@runtime_checkable
class AuthenticationStore(Protocol):
    """What every store backend provides. Names are validated by ``validate_name``."""

    def create(
        self, name: str, service: str, parameters: Mapping[str, Any]
    ) -> AuthenticationRecord:
        """Store a new authentication (version 1); ``AuthenticationExists`` if it exists."""
        ...

    def get(self, name: str) -> AuthenticationRecord:
        """The authentication ``name``; ``AuthenticationNotFound`` if there is none."""
        ...

    def list(self) -> list[AuthenticationRecord]:
        """Every authentication, sorted by name."""
        ...

    def update(
        self, name: str, parameters: Mapping[str, Any], *, expected_version: int | None = None
    ) -> AuthenticationRecord:
        """Replace the parameters of ``name`` and bump its version.

        With ``expected_version``, the update happens only if the stored version is that
        one (else ``StoreError``: re-read and retry). ``AuthenticationNotFound`` if missing.
        """
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; ``AuthenticationNotFound`` if there is none."""
        ...

    def close(self) -> None:
        """Release the backend's resources; idempotent."""
        ...

    def describe(self) -> str:
        """Where the store is, for humans (no secrets, no credentials)."""
        ...


def validate_name(name: object, *, what: str = "authentication name") -> str:
    """Return ``name`` if it is a usable name, else raise ``StoreError`` saying why.

    A name is a non-empty printable string of at most 200 characters without leading or
    trailing whitespace (so it can be typed, listed and quoted in messages unambiguously).
    """
    if not isinstance(name, str):
        raise StoreError(f"an {what} must be a string, not {type(name).__name__}")
    if not name:
        raise StoreError(f"an {what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise StoreError(
            f"the {what} starting {name[:20]!r} has {len(name)} characters; "
            f"at most {MAX_NAME_LENGTH} are allowed"
        )
    if not name.isprintable():
        raise StoreError(
            f"the {what} {name!r} contains control or other non-printable characters; "
            f"use letters, digits and punctuation"
        )
    if name != name.strip():
        raise StoreError(f"the {what} {name!r} starts or ends with whitespace; remove it")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_Row = tuple[str, str, bytes | str]  # (parameter name, kind, stored value)
_Rows = list[_Row]  # an alias: inside SQLiteStore, ``list`` is the method


class SQLiteStore:
    """The embedded store: one SQLite file, secrets sealed by ``cipher``.

    See the module docstring for the guarantees. ``path``'s directory must exist (and should
    be private: ``ensure_private_dir``). Usable as a context manager that closes it.
    """

    def __init__(
        self, path: Path, cipher: SecretCipher, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self._path = Path(path)
        self._cipher = cipher
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._create_private_file()
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self._path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        try:
            self._configure()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise
        for suffix in ("-wal", "-shm"):
            self._check_sibling(suffix)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return f"SQLite store at {self._path} (secrets encrypted, key from {self._cipher.origin})"

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r})"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- operations ------------------------------------------------------------------------

    def create(
        self, name: str, service: str, parameters: Mapping[str, Any]
    ) -> AuthenticationRecord:
        validate_name(name)
        validate_name(service, what="service id")
        params, rows = self._encode(name, parameters)
        now = _now()
        with self._write(f"create authentication {name!r}") as conn:
            exists = conn.execute(
                "SELECT 1 FROM authentications WHERE name = ?", (name,)
            ).fetchone()
            if exists:
                raise AuthenticationExists(
                    f"an authentication named {name!r} exists already; choose another name, "
                    f"or delete the existing one first",
                    name=name,
                )
            conn.execute(
                "INSERT INTO authentications (name, service, version, created_at, updated_at)"
                " VALUES (?, ?, 1, ?, ?)",
                (name, service, now, now),
            )
            self._insert_parameters(conn, name, rows)
        return AuthenticationRecord(name, service, params, now, now, 1)

    def get(self, name: str) -> AuthenticationRecord:
        validate_name(name)
        with self._read(f"read authentication {name!r}") as conn:
            head = conn.execute(
                "SELECT service, version, created_at, updated_at FROM authentications"
                " WHERE name = ?",
                (name,),
            ).fetchone()
            rows = conn.execute(
                "SELECT name, kind, value FROM parameters WHERE authentication = ?", (name,)
            ).fetchall()
        if head is None:
            raise self._not_found(name)
        service, version, created_at, updated_at = head
        return AuthenticationRecord(
            name, service, self._decode(name, rows), created_at, updated_at, version
        )

    def list(self) -> list[AuthenticationRecord]:
        with self._read("list authentications") as conn:
            heads = conn.execute(
                "SELECT name, service, version, created_at, updated_at FROM authentications"
            ).fetchall()
            all_rows = conn.execute(
                "SELECT authentication, name, kind, value FROM parameters"
            ).fetchall()
        by_name: dict[str, _Rows] = {}
        for authentication, *row in all_rows:
            by_name.setdefault(authentication, []).append((row[0], row[1], row[2]))
        records = [
            AuthenticationRecord(
                name,
                service,
                self._decode(name, by_name.get(name, [])),
                created_at,
                updated_at,
                version,
            )
            for name, service, version, created_at, updated_at in heads
        ]
        return sorted(records, key=lambda record: record.name)

    def update(
        self, name: str, parameters: Mapping[str, Any], *, expected_version: int | None = None
    ) -> AuthenticationRecord:
        validate_name(name)
        params, rows = self._encode(name, parameters)
        now = _now()
        with self._write(f"update authentication {name!r}") as conn:
            head = conn.execute(
                "SELECT service, version, created_at FROM authentications WHERE name = ?",
                (name,),
            ).fetchone()
            if head is None:
                raise self._not_found(name)
            service, version, created_at = head
            if expected_version is not None and version != expected_version:
                raise AuthenticationConflict(
                    f"authentication {name!r} was changed by someone else (it is at version "
                    f"{version}, the update expected {expected_version}); read it again and "
                    f"retry the update"
                )
            conn.execute(
                "UPDATE authentications SET version = ?, updated_at = ? WHERE name = ?",
                (version + 1, now, name),
            )
            conn.execute("DELETE FROM parameters WHERE authentication = ?", (name,))
            self._insert_parameters(conn, name, rows)
        return AuthenticationRecord(name, service, params, created_at, now, version + 1)

    def delete(self, name: str) -> None:
        validate_name(name)
        with self._write(f"delete authentication {name!r}") as conn:
            cursor = conn.execute("DELETE FROM authentications WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise self._not_found(name)

    # -- encoding --------------------------------------------------------------------------

    def _encode(
        self, name: str, parameters: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], _Rows]:
        """The record's read-only parameters and the rows that store them (secrets sealed)."""
        if not isinstance(parameters, Mapping):
            raise StoreError(
                f"the parameters of authentication {name!r} must be a mapping, "
                f"not {type(parameters).__name__}"
            )
        kept: dict[str, Any] = {}
        rows: _Rows = []
        for key, value in sorted(parameters.items(), key=lambda item: str(item[0])):
            validate_name(key, what=f"parameter name of authentication {name!r}")
            if isinstance(value, Secret):
                sealed = self._cipher.encrypt(value, authentication=name, parameter=key)
                rows.append((key, "secret", sealed))
            elif value is None or isinstance(value, str | int | float | bool):
                if isinstance(value, float) and not math.isfinite(value):
                    raise StoreError(
                        f"parameter {key!r} of authentication {name!r} is not a finite number"
                    )
                rows.append((key, "json", json.dumps(value)))
            else:
                raise StoreError(
                    f"parameter {key!r} of authentication {name!r} is a "
                    f"{type(value).__name__}; the store keeps Secret values and JSON scalars "
                    f"(str, int, float, bool, None)"
                )
            kept[key] = value
        return MappingProxyType(kept), rows

    def _decode(self, name: str, rows: _Rows) -> Mapping[str, Any]:
        values: dict[str, Any] = {}
        for key, kind, stored in sorted(rows, key=lambda row: row[0]):
            if kind == "secret" and isinstance(stored, bytes):
                try:
                    values[key] = self._cipher.decrypt(stored, authentication=name,
                                                       parameter=key)
                except StoreError as exc:  # wrong key, damage: list, show, delete still work
                    values[key] = UnreadableSecret(exc)
            elif kind == "json" and isinstance(stored, str):
                try:
                    values[key] = json.loads(stored)
                except ValueError as exc:
                    raise self._damaged(name, key) from exc
            else:
                raise self._damaged(name, key)
        return MappingProxyType(values)

    @staticmethod
    def _insert_parameters(conn: sqlite3.Connection, name: str, rows: _Rows) -> None:
        conn.executemany(
            "INSERT INTO parameters (authentication, name, kind, value) VALUES (?, ?, ?, ?)",
            [(name, key, kind, value) for key, kind, value in rows],
        )

    # -- SQLite plumbing -------------------------------------------------------------------

    def _create_private_file(self) -> None:
        """Create the database file ``0o600`` before SQLite does, or check the existing one."""
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot open the authentication store {self._path}: {exc.strerror}; check "
                f"that its directory exists and is yours"
            ) from exc
        try:
            check_private(self._path, os.fstat(fd), kind="store file", fix_mode="600")
        finally:
            os.close(fd)

    def _check_sibling(self, suffix: str) -> None:
        sibling = self._path.with_name(self._path.name + suffix)
        try:
            info = sibling.stat()
        except FileNotFoundError:
            return
        check_private(sibling, info, kind="store file", fix_mode="600")

    def _configure(self) -> None:
        conn = self._connection()
        try:
            # journal_mode cannot change inside a transaction; WAL is persistent in the file.
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        with self._write("prepare the schema of") as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
            )
            row = tx.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self._path} has schema version {version}, written by a newer "
                    f"connector-sdk (this one knows up to {SCHEMA_VERSION}); upgrade "
                    f"connector-sdk"
                )
            if version == 0:
                _run_script(tx, _SCHEMA_V1)
                version = 1
            while version < SCHEMA_VERSION:
                _run_script(tx, _MIGRATIONS[version])
                version += 1
            tx.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                (version,),
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the authentication store {self._path} is closed")
        return self._conn

    def _write(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed if the block returns."""
        return self._transaction("BEGIN IMMEDIATE", action)

    def _read(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """One read transaction, so that a record's rows come from one snapshot."""
        return self._transaction("BEGIN", action)

    @contextmanager
    def _transaction(self, begin: str, action: str) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction under the instance lock; roll back on any error.

        SQLite errors become ``StoreError`` naming ``action``; other exceptions (the store's
        own errors, KeyboardInterrupt) pass through after the rollback.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute(begin)
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc, action) from exc
                raise

    def _error(self, exc: sqlite3.Error, action: str) -> StoreError:
        """A ``StoreError`` for a SQLite failure (SQLite's messages never contain values)."""
        message = str(exc)
        if "locked" in message or "busy" in message:
            hint = (
                f"another process held the store's write lock for more than "
                f"{self._busy_timeout:g} s; retry, or find the process that keeps it busy"
            )
        elif "not a database" in message or "malformed" in message:
            hint = "the file is damaged or is not a connector-sdk store; restore it from a backup"
        else:
            hint = "check the file, its directory and the free disk space"
        return StoreError(f"cannot {action} the store {self._path}: {message}; {hint}")

    @staticmethod
    def _not_found(name: str) -> AuthenticationNotFound:
        return AuthenticationNotFound(
            f"no authentication named {name!r}; check the name against the list of "
            f"authentications, or create it first",
            name=name,
        )

    def _damaged(self, name: str, key: str) -> StoreError:
        return StoreError(
            f"parameter {key!r} of authentication {name!r} in the store {self._path} is "
            f"damaged; delete and re-create the authentication"
        )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the current transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def open_default_store(
    environ: Mapping[str, str] | None = None, *, home: Path | None = None
) -> SQLiteStore:
    """Open (creating if needed) the embedded store in the connector-sdk home directory.

    Home from ``home`` or ``CONNECTOR_SDK_HOME`` (default ``~/.connector-sdk``), created
    ``0o700`` and refused if open to others; key from ``CONNECTOR_SDK_SECRET_KEY`` or
    ``<home>/secret.key``, generated only when no store exists yet, so a lost key file is
    reported instead of silently replaced by a key that cannot read the store.
    """
    home = ensure_private_dir(sdk_home(environ) if home is None else home)
    path = home / DATABASE_NAME
    key = load_secret_key(home, environ, create=not path.exists())
    return SQLiteStore(path, SecretCipher(key, origin=key_origin(home, environ)))
