"""The store operations, written once in the SQL that SQLite and PostgreSQL both speak.

``SQLStore`` implements ``AuthenticationStore`` over two tables (``authentications``: one
row per record with its ``version``; ``parameters``: one row per parameter, see ``codec``).
A backend supplies only its plumbing: ``_transaction`` (one transaction, its errors mapped
to ``StoreError``) and the placeholder style. What callers may rely on, on every backend:

* **One snapshot per read.** ``get`` and ``list`` read the record and its parameters in one
  statement (a join), so a concurrent update is seen whole or not at all.
* **Compare-and-set on the version.** ``update`` bumps the version with one ``UPDATE …
  WHERE name = ? [AND version = ?]``; the row lock that statement takes (PostgreSQL) or the
  write lock taken up front (SQLite) makes the parameter replacement that follows part of
  the same atomic step. Two writers therefore never interleave: with ``expected_version``
  the loser gets ``AuthenticationConflict``; without, updates are serialised and none is
  half-applied.
* **Create is insert-if-absent** (``ON CONFLICT DO NOTHING``), so two processes creating the
  same name get one record and one ``AuthenticationExists``, never a database error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, Self

from .codec import Row, decode_rows, encode_parameters
from .crypto import SecretCipher
from .protocol import AuthenticationRecord, conflict, exists, not_found, now_text, validate_name

__all__ = ["Cursor", "Execute", "Head", "SQLStore", "StoredRecord"]

#: A record's columns besides its name: (service, version, created_at, updated_at).
Head = tuple[str, int, str, str]
#: A record as stored: name, head, and its parameter rows with secrets still sealed.
StoredRecord = tuple[str, Head, list[Row]]
_Stored = list[StoredRecord]  # aliases: inside SQLStore, ``list`` is the method
_Found = list[Any]


class Cursor(Protocol):
    """The part of a DB-API cursor the operations use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> _Found: ...


#: Runs one statement (``?`` placeholders) with its parameters inside the transaction.
Execute = Callable[[str, Sequence[Any]], Cursor]

_SELECT = (
    "SELECT a.name, a.service, a.version, a.created_at, a.updated_at, p.name, p.kind, p.value"
    " FROM authentications a LEFT JOIN parameters p ON p.authentication = a.name"
)


class SQLStore:
    """Create, read, update and delete records in the two tables; see the module docstring."""

    _cipher: SecretCipher

    # -- what a backend provides -------------------------------------------------------------

    def _transaction(self, action: str, *, write: bool) -> AbstractContextManager[Execute]:
        """One transaction, committed if the block returns; errors become ``StoreError``
        naming ``action``."""
        raise NotImplementedError

    def _where(self) -> str:
        """The store, for messages: ``the store /path`` or a server without credentials."""
        raise NotImplementedError

    def _stored_value(self, value: bytes | str) -> Any:
        """A row's value as the backend's column takes it (SQLite: as is)."""
        return value

    def close(self) -> None:
        """Release the backend's resources; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- operations ---------------------------------------------------------------------------

    @property
    def cipher(self) -> SecretCipher:
        return self._cipher

    def create(
        self, name: str, service: str, parameters: Mapping[str, Any]
    ) -> AuthenticationRecord:
        validate_name(name)
        validate_name(service, what="service id")
        params, rows = encode_parameters(self._cipher, name, parameters)
        now = now_text()
        self.create_rows(name, (service, 1, now, now), rows)
        return AuthenticationRecord(name, service, params, now, now, 1)

    def create_rows(self, name: str, head: Head, rows: Sequence[Row]) -> None:
        """Insert a record given as stored rows (secrets already sealed for ``name``).

        What ``connector-sdk store migrate`` writes with: sealed bytes move between stores
        unopened, so no secret is ever in clear on the way. ``AuthenticationExists`` if
        ``name`` exists.
        """
        validate_name(name)
        service, version, created_at, updated_at = head
        with self._transaction(f"create authentication {name!r}", write=True) as execute:
            cursor = execute(
                "INSERT INTO authentications (name, service, version, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, service, version, created_at, updated_at),
            )
            if cursor.rowcount == 0:
                raise exists(name)
            self._insert_parameters(execute, name, rows)

    def get(self, name: str) -> AuthenticationRecord:
        validate_name(name)
        with self._transaction(f"read authentication {name!r}", write=False) as execute:
            found = execute(_SELECT + " WHERE a.name = ?", (name,)).fetchall()
        records = list(self._group(found))
        if not records:
            raise not_found(name, self._names())
        return self._record(records[0])

    def _names(self) -> list[str]:
        """Every stored name (for the did-you-mean of a name not found)."""
        with self._transaction("list authentication names", write=False) as execute:
            return [str(row[0]) for row in execute("SELECT name FROM authentications",
                                                   ()).fetchall()]

    def list(self) -> list[AuthenticationRecord]:
        return [self._record(stored) for stored in self.rows()]

    def rows(self) -> _Stored:
        """Every record as stored, sorted by name, secrets sealed (what migrate copies)."""
        with self._transaction("list authentications", write=False) as execute:
            found = execute(_SELECT, ()).fetchall()
        return sorted(self._group(found), key=lambda stored: stored[0])

    def update(
        self, name: str, parameters: Mapping[str, Any], *, expected_version: int | None = None
    ) -> AuthenticationRecord:
        validate_name(name)
        params, rows = encode_parameters(self._cipher, name, parameters)
        now = now_text()
        with self._transaction(f"update authentication {name!r}", write=True) as execute:
            bump = "UPDATE authentications SET version = version + 1, updated_at = ?" \
                   " WHERE name = ?"
            if expected_version is None:
                cursor = execute(bump, (now, name))
            else:
                cursor = execute(bump + " AND version = ?", (now, name, expected_version))
            head = execute(
                "SELECT service, version, created_at FROM authentications WHERE name = ?",
                (name,),
            ).fetchone()
            if head is None:
                raise not_found(name)
            service, version, created_at = head
            if cursor.rowcount == 0:
                raise conflict(name, int(version), int(expected_version or 0))
            execute("DELETE FROM parameters WHERE authentication = ?", (name,))
            self._insert_parameters(execute, name, rows)
        return AuthenticationRecord(name, service, params, str(created_at), now, int(version))

    def delete(self, name: str) -> None:
        validate_name(name)
        with self._transaction(f"delete authentication {name!r}", write=True) as execute:
            # the record's row first, as update locks it: two writers never deadlock
            cursor = execute("DELETE FROM authentications WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise not_found(name)
            execute("DELETE FROM parameters WHERE authentication = ?", (name,))

    # -- rows ---------------------------------------------------------------------------------

    def _insert_parameters(self, execute: Execute, name: str, rows: Sequence[Row]) -> None:
        for key, kind, value in rows:
            execute(
                "INSERT INTO parameters (authentication, name, kind, value) VALUES (?, ?, ?, ?)",
                (name, key, kind, self._stored_value(value)),
            )

    @staticmethod
    def _group(found: _Found) -> Iterator[StoredRecord]:
        """Join rows grouped by record; a column of an unexpected type reads as damage."""
        heads: dict[str, Head] = {}
        params: dict[str, list[Row]] = {}
        for name, service, version, created_at, updated_at, key, kind, value in found:
            if name not in heads:
                heads[name] = (str(service), version if isinstance(version, int) else 0,
                               str(created_at), str(updated_at))
                params[name] = []
            if key is not None:
                if isinstance(value, memoryview | bytearray):
                    value = bytes(value)
                if kind == "json" and isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                params[name].append((str(key), str(kind), value))
        for name, head in heads.items():
            yield name, head, params[name]

    def _record(self, stored: StoredRecord) -> AuthenticationRecord:
        name, (service, version, created_at, updated_at), rows = stored
        parameters = decode_rows(self._cipher, name, rows, where=self._where())
        return AuthenticationRecord(name, service, parameters, created_at, updated_at, version)
