"""What every authentication store provides, and the record it returns.

``AuthenticationStore`` is the interface the runtime and the CLI use; a backend is chosen
through the ``authentication_store`` hook (the built-in SQLite store answers last,
``CONNECTOR_SDK_STORE=postgresql://…`` selects the PostgreSQL one). Everything here is
backend-neutral, so that the names, errors and masking rules are the same whichever backend
holds the records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from .._errors import (
    AuthenticationConflict,
    AuthenticationExists,
    AuthenticationNotFound,
    StoreError,
)
from .._secrets import MASK, Secret

__all__ = [
    "GRANT_AUTHORIZATION_CODE",
    "GRANT_CLIENT_CREDENTIALS",
    "MAX_NAME_LENGTH",
    "STATUS_ACTIVE",
    "STATUS_NEEDS_RECONSENT",
    "AuthenticationRecord",
    "AuthenticationStore",
    "AuthorizationStore",
    "PendingAuthorization",
    "conflict",
    "exists",
    "masked_parameters",
    "not_found",
    "now_text",
    "validate_name",
]

#: Longest authentication (and parameter) name accepted.
MAX_NAME_LENGTH = 200
#: A record's ``grant``: how its tokens are obtained (RFC 6749 §4.4 and §4.1).
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_AUTHORIZATION_CODE = "authorization_code"
#: A record's ``status``: usable, or its user's consent is gone (``invalid_grant`` on
#: refresh) and only connecting again (``connector-sdk auth connect``) restores it.
STATUS_ACTIVE = "active"
STATUS_NEEDS_RECONSENT = "needs_reconsent"


@dataclass(frozen=True, slots=True)
class AuthenticationRecord:
    """A stored authentication: what the store returns; the caller may keep it.

    ``parameters`` is read-only; secret values are ``Secret`` instances (so ``repr`` of a
    record shows a mask), the others JSON scalars. A value the store could not read (wrong
    key, damaged row) is an ``UnreadableSecret`` whose ``reveal()`` raises the reason, so one
    bad row never stops a listing or a deletion. ``created_at`` and ``updated_at`` are
    ISO-8601 UTC; ``version`` starts at 1 and grows by one with every update.

    ``grant`` says how the authentication gets tokens (``client_credentials``, or
    ``authorization_code`` for one a user consented to); ``status`` is ``active`` or
    ``needs_reconsent``. ``tokens`` is, for an authorization-code authentication, the JSON
    of its access and refresh tokens as a ``Secret`` (sealed at rest in a column of its own,
    never among the parameters; an ``UnreadableSecret`` when it cannot be opened), else None.
    """

    name: str
    service: str
    parameters: Mapping[str, Any]
    created_at: str
    updated_at: str
    version: int
    grant: str = GRANT_CLIENT_CREDENTIALS
    status: str = STATUS_ACTIVE
    tokens: Secret | None = None


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
        one (else ``AuthenticationConflict``: re-read and retry). ``AuthenticationNotFound``
        if missing.
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


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """What ``take_pending`` found for a state: the sealed payload opened (``payload``, a
    ``Secret`` holding JSON), or why there is none: ``"unknown"`` (never issued here),
    ``"expired"`` or ``"replayed"`` (taken before). ``payload`` is None unless ``found``."""

    outcome: str
    payload: Secret | None = None

    @property
    def found(self) -> bool:
        return self.outcome == "found"


@runtime_checkable
class AuthorizationStore(AuthenticationStore, Protocol):
    """What a store provides beyond ``AuthenticationStore`` to hold authorization-code
    authentications: their tokens (sealed, compare-and-set on the version), pending
    authorizations (single use across processes) and leases (one refresh at a time)."""

    def create(
        self, name: str, service: str, parameters: Mapping[str, Any], *,
        grant: str = GRANT_CLIENT_CREDENTIALS, tokens: Secret | None = None,
    ) -> AuthenticationRecord:
        """``AuthenticationStore.create`` with the record's grant and sealed tokens."""
        ...

    def update_tokens(
        self, name: str, tokens: Secret | None, *, expected_version: int,
        status: str = STATUS_ACTIVE, parameters: Mapping[str, Any] | None = None,
        grant: str | None = None,
    ) -> AuthenticationRecord:
        """Replace the tokens and status (and, given, the parameters and grant) of ``name``
        if it is still at ``expected_version``; ``AuthenticationConflict`` otherwise (re-read:
        another process rotated them), ``AuthenticationNotFound`` if it is gone."""
        ...

    def put_pending(self, state_id: str, payload: Secret, *, expires_at: float) -> None:
        """Keep a pending authorization, sealed, under ``state_id`` until ``expires_at``
        (epoch seconds); long-expired ones are removed on the way."""
        ...

    def take_pending(self, state_id: str, *, now: float) -> PendingAuthorization:
        """Take the pending authorization ``state_id`` exactly once across every process
        sharing the store: the first caller gets it, any later one ``replayed``."""
        ...

    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        """``TokenLease.acquire_lease`` on the store: ``owner`` holds ``key`` for ``ttl`` s."""
        ...

    def release_lease(self, key: str, owner: str) -> bool:
        """``TokenLease.release_lease``: compare-and-delete on the owner."""
        ...

    async def aacquire_lease(self, key: str, owner: str, ttl: float) -> bool: ...

    async def arelease_lease(self, key: str, owner: str) -> bool: ...


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


def masked_parameters(
    parameters: Mapping[str, Any], secret_names: Collection[str] | None
) -> dict[str, Any]:
    """``parameters`` fit to show a person: every secret value replaced by the mask.

    What is secret is what the service's manifest marks ``secret`` (``secret_names``), not
    how the row happens to be stored: a value stored in clear for a parameter the manifest
    now calls secret is masked too. ``None`` (the service is not installed, so its marks are
    unknown) masks every value.
    """
    return {
        key: MASK
        if secret_names is None or key in secret_names or isinstance(value, Secret)
        else value
        for key, value in parameters.items()
    }


def now_text() -> str:
    """The current UTC time as the stores write it (ISO-8601, microseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def not_found(name: str, known: Collection[str] = ()) -> AuthenticationNotFound:
    """``AuthenticationNotFound`` for ``name``, with the closest of ``known`` as a hint."""
    from .._hints import did_you_mean

    return AuthenticationNotFound(
        f"no authentication named {name!r}{did_you_mean(name, known)}; check the name against"
        " `connector-sdk auth list`, or create it first",
        name=name,
    )


def exists(name: str) -> AuthenticationExists:
    return AuthenticationExists(
        f"an authentication named {name!r} exists already; choose another name, "
        f"or delete the existing one first",
        name=name,
    )


def conflict(name: str, version: int, expected: int) -> AuthenticationConflict:
    return AuthenticationConflict(
        f"authentication {name!r} was changed by someone else (it is at version "
        f"{version}, the update expected {expected}); read it again and retry the update",
        name=name,
    )
