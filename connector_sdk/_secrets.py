"""A string that does not show itself.

Secret parameter values and access tokens are wrapped in ``Secret`` as soon as they enter the
SDK. Its ``repr``, ``str``, ``format``, pickling and JSON encoding (through ``json_default``)
show a mask, so a secret that ends up in a log line, an exception message, a traceback's
locals or a result document by accident shows ``**********``. The clear value is read with
``reveal()`` only where a request is built or the store encrypts it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["MASK", "REFERENCE_KEY", "Secret", "SecretReference", "UnreadableSecret",
           "json_default", "reveal", "shown_url"]

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


#: ``{"$secret": "env:NAME"}``: the form a caller writes a reference to a secret kept elsewhere.
REFERENCE_KEY = "$secret"


class SecretReference(Secret):
    """A secret kept elsewhere (``env:NAME``, ``file:/path``, ``keyring:service/user``, a
    plugin's ``vault:...``): stored as the reference, resolved when it is read.

    ``reveal()`` asks the resolver the runtime bound (``bound``) *every time*, so a secret
    rotated in its manager is used at the next token request without touching the store;
    an unbound reference (straight from a store) cannot be revealed. It masks itself like
    any ``Secret``; ``reference`` (not a secret: where the secret lives) is what stores keep
    and listings show. ``last_value`` is the value the last ``reveal()`` returned, for the
    redactor, never resolved by asking.
    """

    __slots__ = ("_last", "_reference", "_resolve")

    def __init__(self, reference: str, resolve: Callable[[str], str] | None = None) -> None:
        super().__init__("")
        self._reference = reference
        self._resolve = resolve
        self._last: str | None = None

    @property
    def reference(self) -> str:
        return self._reference

    @property
    def last_value(self) -> str | None:
        return self._last

    def bound(self, resolve: Callable[[str], str]) -> SecretReference:
        """The same reference, resolved by ``resolve(reference)``."""
        return SecretReference(self._reference, resolve)

    def reveal(self) -> str:
        if self._resolve is None:
            raise LookupError(f"the secret reference {self._reference!r} is resolved by a"
                              " runtime (Runtime.get_authentication binds it)")
        value = self._resolve(self._reference)
        self._last = value
        return value

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"SecretReference({self._reference!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretReference):
            return NotImplemented
        return self._reference == other._reference

    def __hash__(self) -> int:
        return hash((SecretReference, self._reference))


def reveal(value: Any) -> Any:
    """``value.reveal()`` for a Secret, the value itself otherwise."""
    return value.reveal() if isinstance(value, Secret) else value


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: secrets become the mask."""
    if isinstance(value, Secret):
        return MASK
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def shown_url(url: str, *, keep_user: bool = True) -> str:
    """``url`` fit for a message or a repr: the one way the SDK shows a server's URL.

    Its password is dropped (``user@host``), or with ``keep_user=False`` all of its user
    information is masked (``**********@host``, for proxies, whose credentials are both
    secret); its query and fragment are dropped, because ``?password=...`` is a common way to
    pass one (redis-py and libpq both read it). It works on the text and never raises, so a
    malformed URL (a bad port, say) is still shown without what could be a credential.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user = userinfo.partition(":")[0]
        authority = f"{user}@{host}" if keep_user and user else f"{MASK}@{host}"
    return scheme + sep + authority + slash + path
