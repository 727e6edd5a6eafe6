"""Parameters to stored rows and back: the one encoding every store backend shares.

A record's parameters are stored one row per parameter, ``(name, kind, value)``:

* ``kind = "secret"``: ``value`` is the bytes ``SecretCipher.encrypt`` sealed for exactly
  this authentication and parameter name (the associated data), so a row copied to another
  record or field fails to open;
* ``kind = "json"``: ``value`` is the JSON text of a scalar (str, int, float, bool, None).

Reading never fails for one bad row: a secret that cannot be opened (wrong key, tampering)
or a row that is damaged (bad JSON, unknown kind, wrong type) becomes an ``UnreadableValue``,
masked like any secret, whose ``reveal()`` raises the ``StoreError`` saying what is wrong
and how to fix it. Listing, showing and deleting therefore keep working; using the value is
where the error surfaces. The SQLite and PostgreSQL stores both go through this module, so a
copy between them (``connector-sdk store migrate``) moves sealed bytes, never clear text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .._errors import StoreError
from .._secrets import Secret, SecretReference, UnreadableSecret
from .crypto import SecretCipher
from .protocol import validate_name

__all__ = ["Row", "SealedValue", "UnreadableValue", "decode_rows", "encode_parameters"]

#: A sealed secret row whose clear text starts with this holds a ``SecretReference``, not a
#: secret (a parameter value never holds a NUL: ``_auth/parameters`` refuses control
#: characters), so references are sealed like secrets and old stores read them unchanged.
_REFERENCE_PREFIX = "\x00secret-reference:"

#: One stored parameter: (parameter name, kind, stored value).
Row = tuple[str, str, bytes | str]


class UnreadableValue(UnreadableSecret):
    """A stored value that could not be read; ``problem`` says why (never the value)."""

    __slots__ = ()

    @property
    def problem(self) -> StoreError:
        error = self._error
        assert isinstance(error, StoreError)
        return error


class SealedValue(Secret):
    """A sealed value read without opening it (``list(open_secrets=False)``, what a listing
    shows): masked like any secret; never decrypted, so ``reveal()`` raises. Whether it
    opens (right key, intact) is known only when the record itself is read."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("")

    def reveal(self) -> str:
        raise StoreError("this value was listed without being opened; read its authentication"
                         " (get) to use it")


def encode_parameters(
    cipher: SecretCipher, name: str, parameters: Mapping[str, Any]
) -> tuple[Mapping[str, Any], list[Row]]:
    """The record's read-only parameters and the rows that store them (secrets sealed).

    Raises ``StoreError`` naming the parameter for a value that is neither a ``Secret`` nor
    a finite JSON scalar, and for a bad parameter name.
    """
    if not isinstance(parameters, Mapping):
        raise StoreError(
            f"the parameters of authentication {name!r} must be a mapping, "
            f"not {type(parameters).__name__}"
        )
    kept: dict[str, Any] = {}
    rows: list[Row] = []
    for key, value in sorted(parameters.items(), key=lambda item: str(item[0])):
        validate_name(key, what=f"parameter name of authentication {name!r}")
        if isinstance(value, UnreadableSecret):
            raise StoreError(
                f"parameter {key!r} of authentication {name!r} could not be read from the "
                f"store, so it cannot be written back; set it again"
            )
        if isinstance(value, SecretReference):
            rows.append((key, "secret", cipher.encrypt(
                Secret(_REFERENCE_PREFIX + value.reference), authentication=name,
                parameter=key)))
        elif isinstance(value, Secret):
            rows.append((key, "secret", cipher.encrypt(value, authentication=name,
                                                       parameter=key)))
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


def decode_rows(
    cipher: SecretCipher | None, name: str, rows: Iterable[Row], *, where: str
) -> Mapping[str, Any]:
    """The parameters stored in ``rows`` for authentication ``name``; never raises.
    Without a ``cipher``, a sealed row is a ``SealedValue`` (not opened, so not checked).

    ``where`` names the store (a path, a server without credentials) in the damage message.
    """
    values: dict[str, Any] = {}
    for key, kind, stored in sorted(rows, key=lambda row: row[0]):
        if kind == "secret" and isinstance(stored, bytes | bytearray | memoryview):
            if cipher is None:
                values[key] = SealedValue()
                continue
            try:
                secret = cipher.decrypt(bytes(stored), authentication=name, parameter=key)
                clear = secret.reveal()
                values[key] = (SecretReference(clear[len(_REFERENCE_PREFIX):])
                               if clear.startswith(_REFERENCE_PREFIX) else secret)
            except StoreError as exc:
                values[key] = UnreadableValue(exc)
            continue
        if kind == "json":
            text = stored.decode("utf-8", "replace") if isinstance(stored, bytes) else stored
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nested past the C stack
                value = _damaged
            if value is None or isinstance(value, str | int | float | bool):
                values[key] = value
                continue
        values[key] = UnreadableValue(StoreError(
            f"parameter {key!r} of authentication {name!r} in {where} is damaged (its stored"
            f" row is not a value this store writes); delete the authentication and create it"
            f" again, or restore the store from a backup"
        ))
    return MappingProxyType(values)


_damaged = object()
