"""The embedded authentication store: one SQLite file, secrets sealed at rest.

``SQLiteStore`` implements ``AuthenticationStore`` (``protocol``) on one file;
``open_default_store`` opens ``<home>/authentications.db`` with its key from
``CONNECTOR_SDK_SECRET_KEY`` or ``<home>/secret.key`` (see ``home`` and ``crypto``).

What ``SQLiteStore`` guarantees, and why:

* **Secrets encrypted at rest.** Every ``Secret`` parameter value is sealed on its own by
  ``SecretCipher`` (AES-256-GCM, bound to the authentication and parameter names);
  non-secret values are stored as JSON (``codec``). The database never holds a clear secret.
* **Owner-only files.** The database is created ``0o600`` before SQLite opens it; SQLite gives
  its ``-wal`` and ``-shm`` files the database's mode. Existing files that grant group or
  other access are refused (``chmod 600`` fixes them), as is a loose home directory.
* **A store file always holds its schema.** A new store is built under a temporary name and
  published with ``os.link`` (which fails if the name exists), so a crash during creation
  never leaves an empty database behind. An existing 0-byte file is therefore damage (a
  truncation, a botched copy) and is refused with the fix, never silently reused as a new,
  empty store while the key beside it suggests authentications were lost.
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
* **One bad row is one bad value.** A damaged parameter row reads as an ``UnreadableValue``
  (``codec``), so ``auth list`` and ``auth delete`` keep working.

Records are replaced whole by ``update`` (the runtime validates and merges parameters before
it calls the store). Not protected: someone with write access to the database can delete a
parameter row or roll a record back to an older copy of itself; they cannot read a secret or
move one to another record or field.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from .._errors import StoreError
from .crypto import KEY_FILE_NAME, SecretCipher, fsync_dir, key_origin, load_secret_key
from .home import check_private, ensure_private_dir, sdk_home
from .protocol import AuthenticationRecord, AuthenticationStore, validate_name
from .sql import Execute, SQLStore

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_BUSY_TIMEOUT",
    "SCHEMA_VERSION",
    "AuthenticationRecord",  # re-exported from .protocol, where they live
    "AuthenticationStore",
    "SQLiteStore",
    "open_default_store",
    "validate_name",
]

#: The database file's name inside the home directory.
DATABASE_NAME = "authentications.db"
#: The schema version this code writes; ``_MIGRATIONS`` brings older ones up to it.
SCHEMA_VERSION = 2
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

#: ``_MIGRATIONS[n]`` turns schema version ``n`` into ``n + 1``. Version 2: the record's
#: grant, status and sealed tokens (existing records: client credentials, active), pending
#: authorizations and leases (``authorization``).
_MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE authentications ADD COLUMN grant_type TEXT NOT NULL DEFAULT 'client_credentials';
ALTER TABLE authentications ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE authentications ADD COLUMN tokens BLOB;
CREATE TABLE pending_authorizations (
    id TEXT PRIMARY KEY NOT NULL,
    payload BLOB NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
) WITHOUT ROWID;
CREATE TABLE leases (
    lease_key TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
""",
}


class SQLiteStore(SQLStore):
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
        self._conn: sqlite3.Connection | None = None
        if not _check_existing(self._path):
            self._create_file()
        self._conn = self._open(self._path)
        for suffix in ("-wal", "-shm"):
            self._check_sibling(suffix)

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

    def _where(self) -> str:
        return f"the store {self._path}"

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[Execute]:
        """``BEGIN IMMEDIATE`` for writes (the write lock up front), ``BEGIN`` for reads."""
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the authentication store {self._path} is closed")
            conn = self._conn
            with self._sqlite_transaction(conn, "BEGIN IMMEDIATE" if write else "BEGIN",
                                          action):
                yield conn.execute

    # -- SQLite plumbing -------------------------------------------------------------------

    def _create_file(self) -> None:
        """Build a new store under a temporary name and publish it atomically at ``path``.

        The file is created ``0o600`` before SQLite sees it; ``os.link`` fails if another
        process published its store first, and then everyone uses that one.
        """
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}."
                                   f"{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            self._open(tmp).close()  # closing the last connection checkpoints the WAL
            with suppress(FileExistsError):
                os.link(tmp, self._path)
            fsync_dir(self._path.parent)
        except OSError as exc:
            raise StoreError(
                f"cannot create the authentication store {self._path}: {exc.strerror}; "
                f"check that its directory exists and is yours"
            ) from exc
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{suffix}")
        _check_existing(self._path)

    def _check_sibling(self, suffix: str) -> None:
        sibling = self._path.with_name(self._path.name + suffix)
        try:
            info = sibling.stat()
        except FileNotFoundError:
            return
        check_private(sibling, info, kind="store file", fix_mode="600")

    def _open(self, path: Path) -> sqlite3.Connection:
        """A configured connection to ``path`` with its schema brought up to date."""
        try:
            conn = sqlite3.connect(
                path, timeout=self._busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        try:
            # journal_mode cannot change inside a transaction; WAL is persistent in the file.
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        with self._sqlite_transaction(conn, "BEGIN IMMEDIATE", "prepare the schema of") as tx:
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

    @contextmanager
    def _sqlite_transaction(
        self, conn: sqlite3.Connection, begin: str, action: str
    ) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction; roll back on any error.

        SQLite errors become ``StoreError`` naming ``action``; other exceptions (the store's
        own errors, KeyboardInterrupt) pass through after the rollback.
        """
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


def _check_existing(path: Path) -> bool:
    """False if there is no store at ``path``; True for a usable existing file.

    Refuses (``StoreError`` with the fix) a path that is not a regular file, one that is not
    owner-only, and an empty file: a store this code creates always holds its schema, so an
    empty one was truncated or made by something else, and authentications were likely lost.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(
            f"cannot open the authentication store {path}: {exc.strerror}; check that its "
            f"directory exists and is yours"
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(
            f"cannot use {path} as the authentication store: it is not a regular file; move "
            f"it away, or set CONNECTOR_SDK_HOME to another directory"
        )
    check_private(path, info, kind="store file", fix_mode="600")
    if info.st_size == 0:
        key_file = path.with_name(KEY_FILE_NAME)
        beside = (f" while the key file {key_file} beside it shows a store was in use here"
                  if key_file.exists() else "")
        raise StoreError(
            f"the store file {path} is empty (0 bytes){beside}: connector-sdk always writes"
            f" its schema when it creates a store, so this one was truncated or replaced;"
            f" restore it from a backup, or remove it to start with an empty store (the"
            f" authentications it held are then lost)"
        )
    return True


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
    key = load_secret_key(home, environ, create=not _check_existing(path))
    return SQLiteStore(path, SecretCipher(key, origin=key_origin(home, environ)))
