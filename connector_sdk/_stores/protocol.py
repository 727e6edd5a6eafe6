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
    "MAX_NAME_LENGTH",
    "AuthenticationRecord",
    "AuthenticationStore",
    "conflict",
    "exists",
    "masked_parameters",
    "not_found",
    "now_text",
    "validate_name",
]

#: Longest authentication (and parameter) name accepted.
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class AuthenticationRecord:
    """A stored authentication: what the store returns; the caller may keep it.

    ``parameters`` is read-only; secret values are ``Secret`` instances (so ``repr`` of a
    record shows a mask), the others JSON scalars. A value the store could not read (wrong
    key, damaged row) is an ``UnreadableSecret`` whose ``reveal()`` raises the reason, so one
    bad row never stops a listing or a deletion. ``created_at`` and ``updated_at`` are
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
