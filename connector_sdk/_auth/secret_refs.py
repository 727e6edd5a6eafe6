"""Secret references: a parameter whose value is kept in a secret manager, not in the store.

A caller writes ``{"$secret": "env:TWITCH_SECRET"}`` (CLI: ``--param
client_secret=@ref:env:TWITCH_SECRET``) for a *secret* parameter. The store keeps the
reference (sealed like any secret value); the runtime binds it to the resolvers plugins
registered through ``register_secret_resolvers``; the value is asked for when it is read,
which is when a token request (or a revocation) is built, on the one code path that
``auth test``, ``call``, workflow runs and workers share. Nothing caches the resolved value
except the token it obtained, so a rotated secret is used at the next token request.

Built-in schemes: ``env:NAME`` (an environment variable of the process, read when resolved),
``file:/path`` (the file's text without its final line break: Docker and Kubernetes secret
files), ``keyring:service/user`` (the OS keychain through the ``keyring`` library, the
``connector-sdk[keyring]`` extra). A plugin adds its own (``vault:…``).

What callers may rely on: a reference that cannot be resolved raises
``SecretReferenceError`` naming the service, authentication, parameter and scheme, never a
value; an unknown scheme is refused when the authentication is created; a resolved value
with a control character (a header injection) is refused like a stored one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._errors import SecretReferenceError
from .._manifest.model import Authentication
from .._secrets import REFERENCE_KEY, Secret, SecretReference

__all__ = ["BUILTIN_RESOLVERS", "Resolver", "as_reference", "bind_references",
           "has_references", "parse_reference", "unknown_schemes", "unresolved"]

#: ``resolver(where)`` returns the secret's text; raises ``LookupError`` with a message
#: (never the value) when it is not there. ``where`` is the reference after ``scheme:``.
Resolver = Callable[[str], str]

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,31}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_reference(text: str) -> tuple[str, str]:
    """``"env:NAME"`` -> ``("env", "NAME")``; ``ValueError`` saying what is wrong."""
    scheme, sep, where = text.partition(":")
    if not sep or not _SCHEME.match(scheme) or not where:
        raise ValueError("is not a secret reference: write SCHEME:WHERE, e.g. env:NAME,"
                         " file:/run/secrets/NAME or keyring:SERVICE/USER")
    return scheme, where


def as_reference(value: Any) -> SecretReference | None:
    """The reference ``value`` holds (``{"$secret": "..."}`` or a ``SecretReference``), or
    None when it is a plain value; ``ValueError`` for a malformed ``{"$secret": ...}``."""
    if isinstance(value, SecretReference):
        return value
    if isinstance(value, Mapping) and REFERENCE_KEY in value:
        text = value[REFERENCE_KEY]
        if len(value) != 1 or not isinstance(text, str):
            raise ValueError('is not a secret reference: write {"$secret": "SCHEME:WHERE"}')
        parse_reference(text)
        return SecretReference(text)
    return None


def _env(where: str) -> str:
    if where not in os.environ:
        raise LookupError(f"environment variable {where} is not set in this process")
    return os.environ[where]


def _file(where: str) -> str:
    path = Path(where).expanduser()
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise LookupError(f"cannot read the file {path} ({exc.strerror or type(exc).__name__})"
                          ) from None
    except UnicodeDecodeError:
        raise LookupError(f"the file {path} is not UTF-8 text") from None


def _keyring(where: str) -> str:
    service, sep, user = where.rpartition("/")
    if not sep or not service or not user:
        raise LookupError("write keyring:SERVICE/USER (the keychain entry's service and user)")
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise LookupError("the keyring library is not installed: pip install"
                          " 'connector-sdk[keyring]'") from None
    try:
        value = keyring.get_password(service, user)
    except keyring.errors.KeyringError as exc:
        raise LookupError(f"the keyring backend failed ({type(exc).__name__})") from None
    if value is None:
        raise LookupError(f"the keyring has no entry for service '{service}', user '{user}'"
                          f" (backend {type(keyring.get_keyring()).__name__})")
    return value


#: The schemes the built-in plugin registers.
BUILTIN_RESOLVERS: Mapping[str, Resolver] = {"env": _env, "file": _file, "keyring": _keyring}


#: What a reference stands for in a token request built only for its cache key.
_PLACEHOLDER = Secret("unresolved-secret-reference")


def has_references(authentication: Authentication) -> bool:
    return any(isinstance(v, SecretReference) for v in authentication.parameters.values())


def unresolved(authentication: Authentication) -> Authentication:
    """``authentication`` with each reference replaced by a placeholder: the token manager
    prepares (and keys) requests with it, so that only a fetch asks the secret manager."""
    from dataclasses import replace

    return replace(authentication, parameters={
        k: _PLACEHOLDER if isinstance(v, SecretReference) else v
        for k, v in authentication.parameters.items()})


def unknown_schemes(parameters: Mapping[str, Any], resolvers: Mapping[str, Any]
                    ) -> dict[str, list[str]]:
    """Parameter -> reasons for each reference whose scheme no plugin resolves (checked when
    an authentication is created, so a typo is not found at the first token request)."""
    fields: dict[str, list[str]] = {}
    for name, value in parameters.items():
        if isinstance(value, SecretReference):
            scheme = parse_reference(value.reference)[0]
            if scheme not in resolvers:
                fields[name] = [f"is a secret reference of scheme '{scheme}', which no"
                                f" installed plugin resolves (schemes: "
                                f"{', '.join(sorted(resolvers)) or 'none'})"]
    return fields


def bind_references(
    parameters: Mapping[str, Any], resolvers: Mapping[str, Resolver], *, service: str,
    authentication: str,
) -> dict[str, Any]:
    """``parameters`` with each ``SecretReference`` bound to ``resolvers``; others as they
    are. The bound reference raises ``SecretReferenceError`` when read and not resolvable."""
    def binder(parameter: str) -> Callable[[str], str]:
        def resolve(reference: str) -> str:
            scheme, where = parse_reference(reference)
            head = (f"service '{service}', authentication '{authentication}': parameter"
                    f" '{parameter}' refers to a secret ({scheme}:...) that")

            def fail(reason: str) -> SecretReferenceError:
                return SecretReferenceError(
                    f"{head} {reason}", service=service, authentication=authentication,
                    parameter=parameter, scheme=scheme)

            resolver = resolvers.get(scheme)
            if resolver is None:
                raise fail(f"no installed plugin resolves (schemes: "
                           f"{', '.join(sorted(resolvers)) or 'none'})")
            try:
                value = resolver(where)
            except LookupError as exc:
                raise fail(f"cannot be resolved: {exc}; fix the secret's source, the store"
                           " needs no change") from None
            except Exception as exc:  # a plugin's failure: its type, never its text
                raise fail(f"cannot be resolved: the '{scheme}' resolver raised"
                           f" {type(exc).__name__}") from None
            if not isinstance(value, str) or not value:
                raise fail(f"resolved to no text (the '{scheme}' resolver returned"
                           f" {type(value).__name__})")
            if _CONTROL.search(value):
                raise fail("resolved to text with a control character (a line break?);"
                           " remove it at the source")
            return value

        return resolve

    return {name: value.bound(binder(name)) if isinstance(value, SecretReference) else value
            for name, value in parameters.items()}
