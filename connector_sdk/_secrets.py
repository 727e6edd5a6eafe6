"""A string that does not show itself.

Secret parameter values and access tokens are wrapped in ``Secret`` as soon as they enter the
SDK. Its ``repr``, ``str``, ``format``, pickling and JSON encoding (through ``json_default``)
show a mask, so a secret that ends up in a log line, an exception message, a traceback's
locals or a result document by accident shows ``**********``. The clear value is read with
``reveal()`` only where a request is built or the store encrypts it.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

__all__ = ["MASK", "Secret", "UnreadableSecret", "json_default", "reveal"]

MASK = "**********"


class Secret:
    """An opaque holder of a secret string; compare with ``==``, read with ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The clear value. Call it only where the value is sent or encrypted."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled: it would write the clear value")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


class UnreadableSecret(Secret):
    """A stored secret that could not be decrypted (wrong or lost key, damage).

    It masks itself like any ``Secret``, so listing, showing and deleting an authentication
    still work; ``reveal()`` raises the error that says why and how to fix it.
    """

    __slots__ = ("_error",)

    def __init__(self, error: Exception) -> None:
        super().__init__("")
        self._error = error

    def reveal(self) -> str:
        raise self._error

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def reveal(value: Any) -> Any:
    """``value.reveal()`` for a Secret, the value itself otherwise."""
    return value.reveal() if isinstance(value, Secret) else value


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: secrets become the mask."""
    if isinstance(value, Secret):
        return MASK
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
