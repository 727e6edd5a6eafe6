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
* **Tokens apart from parameters.** An authorization-code record's tokens are one sealed
  value in the ``tokens`` column (associated data: the record's name and a field name no
  parameter can have), replaced only by ``update_tokens``: compare-and-set on the version,
  so of two processes rotating one refresh token exactly one wins and the other re-reads.
  Pending authorizations and leases: ``authorization.AuthorizationRows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, Self

from .._errors import StoreError
from .._secrets import Secret
from .authorization import AuthorizationRows
from .codec import Row, SealedValue, UnreadableValue, decode_rows, encode_parameters
from .crypto import SecretCipher
from .protocol import (
    GRANT_CLIENT_CREDENTIALS,
    STATUS_ACTIVE,
    AuthenticationRecord,
    conflict,
    exists,
    not_found,
    now_text,
    validate_name,
)

__all__ = ["Cursor", "Execute", "Head", "SQLStore", "StoredRecord"]

#: A record's columns besides its name: (service, version, created_at, updated_at, grant,
#: status, sealed tokens or None).
Head = tuple[str, int, str, str, str, str, bytes | None]
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
    "SELECT a.name, a.service, a.version, a.created_at, a.updated_at, a.grant_type, a.status,"
    " a.tokens, p.name, p.kind, p.value"
    " FROM authentications a LEFT JOIN parameters p ON p.authentication = a.name"
)
#: The sealed tokens' field name in the associated data: no parameter can be named so.
TOKENS_FIELD = "\x00tokens"
_STATUSES = frozenset({"active", "needs_reconsent"})


class SQLStore(AuthorizationRows):
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
        self, name: str, service: str, parameters: Mapping[str, Any], *,
        grant: str = GRANT_CLIENT_CREDENTIALS, tokens: Secret | None = None,
    ) -> AuthenticationRecord:
        validate_name(name)
        validate_name(service, what="service id")
        validate_name(grant, what="grant")
        params, rows = encode_parameters(self._cipher, name, parameters)
        now = now_text()
        self.create_rows(name, (service, 1, now, now, grant, STATUS_ACTIVE,
                                self._seal_tokens(name, tokens)), rows)
        return AuthenticationRecord(name, service, params, now, now, 1, grant, STATUS_ACTIVE,
                                    tokens)

    def create_rows(self, name: str, head: Head, rows: Sequence[Row]) -> None:
        """Insert a record given as stored rows (secrets already sealed for ``name``).

        What ``connector-sdk store migrate`` writes with: sealed bytes move between stores
        unopened, so no secret is ever in clear on the way. ``AuthenticationExists`` if
        ``name`` exists.
        """
        validate_name(name)
        service, version, created_at, updated_at, grant, status, tokens = head
        with self._transaction(f"create authentication {name!r}", write=True) as execute:
            cursor = execute(
                "INSERT INTO authentications (name, service, version, created_at, updated_at,"
                " grant_type, status, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, service, version, created_at, updated_at, grant, status,
                 None if tokens is None else self._stored_value(tokens)),
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

    def list(self, *, open_secrets: bool = True) -> list[AuthenticationRecord]:
        """Every record, sorted by name. ``open_secrets=False`` (what ``auth list`` shows)
        leaves every sealed value unopened: a ``SealedValue``, masked, that never decrypts."""
        return [self._record(stored, open_secrets=open_secrets) for stored in self.rows()]

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
                "SELECT service, version, created_at, grant_type, status, tokens"
                " FROM authentications WHERE name = ?",
                (name,),
            ).fetchone()
            if head is None:
                raise not_found(name)
            service, version, created_at, grant, status, sealed = head
            if cursor.rowcount == 0:
                raise conflict(name, int(version), int(expected_version or 0))
            execute("DELETE FROM parameters WHERE authentication = ?", (name,))
            self._insert_parameters(execute, name, rows)
        return AuthenticationRecord(name, service, params, str(created_at), now, int(version),
                                    str(grant), str(status), self._open_tokens(name, sealed))

    def update_tokens(
        self, name: str, tokens: Secret | None, *, expected_version: int,
        status: str = STATUS_ACTIVE, parameters: Mapping[str, Any] | None = None,
        grant: str | None = None,
    ) -> AuthenticationRecord:
        validate_name(name)
        if status not in _STATUSES:
            raise StoreError(f"unknown authentication status {status!r}")
        encoded = None if parameters is None else encode_parameters(self._cipher, name,
                                                                    parameters)
        sealed = self._seal_tokens(name, tokens)
        now = now_text()
        with self._transaction(f"update the tokens of authentication {name!r}",
                               write=True) as execute:
            cursor = execute(
                "UPDATE authentications SET version = version + 1, updated_at = ?, tokens = ?,"
                " status = ?, grant_type = COALESCE(?, grant_type)"
                " WHERE name = ? AND version = ?",
                (now, None if sealed is None else self._stored_value(sealed), status, grant,
                 name, expected_version),
            )
            head = execute("SELECT version FROM authentications WHERE name = ?",
                           (name,)).fetchone()
            if head is None:
                raise not_found(name)
            if cursor.rowcount == 0:
                raise conflict(name, int(head[0]), expected_version)
            if encoded is not None:
                execute("DELETE FROM parameters WHERE authentication = ?", (name,))
                self._insert_parameters(execute, name, encoded[1])
        return self.get(name)

    def _seal_tokens(self, name: str, tokens: Secret | None) -> bytes | None:
        if tokens is None:
            return None
        if isinstance(tokens, UnreadableValue) or not isinstance(tokens, Secret):
            raise StoreError(f"the tokens of authentication {name!r} must be a readable Secret")
        return self._cipher.encrypt(tokens, authentication=name, parameter=TOKENS_FIELD)

    def _open_tokens(self, name: str, sealed: Any) -> Secret | None:
        """The record's tokens; an ``UnreadableValue`` (never an exception) if damaged."""
        if sealed is None:
            return None
        try:
            return self._cipher.decrypt(bytes(sealed), authentication=name,
                                        parameter=TOKENS_FIELD)
        except (StoreError, TypeError) as exc:
            problem = exc if isinstance(exc, StoreError) else StoreError(
                f"the stored tokens of authentication {name!r} in {self._where()} are"
                " damaged; connect it again (`connector-sdk auth connect`)")
            return UnreadableValue(problem)

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
        for (name, service, version, created_at, updated_at, grant, status, tokens, key, kind,
             value) in found:
            if name not in heads:
                heads[name] = (str(service), version if isinstance(version, int) else 0,
                               str(created_at), str(updated_at), str(grant), str(status),
                               None if tokens is None else bytes(tokens))
                params[name] = []
            if key is not None:
                if isinstance(value, memoryview | bytearray):
                    value = bytes(value)
                if kind == "json" and isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                params[name].append((str(key), str(kind), value))
        for name, head in heads.items():
            yield name, head, params[name]

    def _record(self, stored: StoredRecord, *, open_secrets: bool = True) -> AuthenticationRecord:
        name, (service, version, created_at, updated_at, grant, status, tokens), rows = stored
        parameters = decode_rows(self._cipher if open_secrets else None, name, rows,
                                 where=self._where())
        opened = self._open_tokens(name, tokens) if open_secrets or tokens is None \
            else SealedValue()
        return AuthenticationRecord(name, service, parameters, created_at, updated_at, version,
                                    grant, status, opened)
