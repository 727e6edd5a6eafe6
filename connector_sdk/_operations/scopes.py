"""Scopes an operation declares, checked before anything is sent.

An operation that acts for a user (Twitch's Get Users with ``user:read:email``) declares the
scopes its token must carry (``scopes:`` in the manifest). Sending it with a token that lacks
one only earns a 401 or 403 from the provider, or worse, a quietly reduced answer (Twitch
leaves ``email`` out), so the runtime refuses it first, naming what is missing. What callers
may rely on:

* ``missing_scopes`` is pure: the operation's scopes that ``granted`` lacks, in the
  manifest's order; scopes compare exactly (RFC 6749 §3.3: case-sensitive strings);
* ``refuse_unobtainable`` runs before the token request: a client-credentials authentication
  of a service with no other grant that asks for ``auth.scopes`` is granted at most those, so
  a missing scope is refused without asking the token endpoint (a manifest that asks for no
  scope gets what the provider configured for the application, known only from the token);
* ``refuse_ungranted`` reads the scopes the token was granted (``Token.scopes``: the token
  response's ``scope``, or the scopes asked for when the response has none, RFC 6749 §5.1)
  before the first API request, for every path: ``call_operation``, ``stream_items``,
  ``call_page`` and Python handlers;
* the error is ``MissingScopesError`` (an ``OperationError``): it names the operation,
  service, authentication and missing scopes and says how to fix it; never a token.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection

from .._errors import MissingScopesError
from .._manifest.model import CLIENT_CREDENTIALS, Authentication, OperationSpec

__all__ = ["missing_scopes", "refuse_ungranted", "refuse_unobtainable"]


def missing_scopes(operation: OperationSpec, granted: Collection[str]) -> tuple[str, ...]:
    """The scopes ``operation`` declares that ``granted`` lacks, in declaration order."""
    have = frozenset(granted)
    return tuple(scope for scope in operation.scopes if scope not in have)


def _grant_of(authentication: Authentication) -> str:
    grant: str | None = getattr(authentication, "grant", None)
    return grant or authentication.service.auth.grant


def refuse_unobtainable(name: str, operation: OperationSpec,
                        authentication: Authentication) -> None:
    """Raise ``MissingScopesError`` when client credentials, the service's only grant,
    cannot ask for the scopes ``operation`` needs (no token request is made)."""
    if not operation.scopes:
        return
    auth = authentication.service.auth
    if not auth.scopes or _grant_of(authentication) != CLIENT_CREDENTIALS or set(
            auth.grants) != {CLIENT_CREDENTIALS}:
        return  # without auth.scopes the provider grants what it configured: ask the token
    missing = missing_scopes(operation, auth.scopes)
    if missing:
        raise _error(name, authentication, missing,
                     "the service offers only the client-credentials grant, which asks for"
                     f" auth.scopes ({', '.join(auth.scopes)}): add"
                     f" {', '.join(missing)} to auth.scopes in {authentication.service.source}"
                     " (connector-sdk validate reports this as OPERATION-SCOPES-UNOBTAINABLE)")


def refuse_ungranted(name: str, operation: OperationSpec, authentication: Authentication,
                     granted: Collection[str]) -> None:
    """Raise ``MissingScopesError`` when the token's ``granted`` scopes lack one that
    ``operation`` declares."""
    missing = missing_scopes(operation, granted)
    if not missing:
        return
    if _grant_of(authentication) == CLIENT_CREDENTIALS:
        fix = ("the token endpoint did not grant them to the client: enable them for the"
               " application at the provider and add them to auth.scopes")
    else:
        wanted = sorted({*granted, *operation.scopes})
        command = " ".join([
            "connector-sdk auth connect", shlex.quote(authentication.service.id),
            "--name", shlex.quote(authentication.name),
            *(f"--scope {shlex.quote(scope)}" for scope in wanted)])
        fix = (f"the user did not consent to them: connect authentication"
               f" '{authentication.name}' again, asking for {', '.join(wanted)} ({command})")
    raise _error(name, authentication, missing, fix)


def _error(name: str, authentication: Authentication, missing: tuple[str, ...],
           fix: str) -> MissingScopesError:
    return MissingScopesError(
        f"operation '{name}' needs scopes that authentication '{authentication.name}' was not"
        f" granted: {', '.join(missing)}; nothing was sent. {fix[0].upper()}{fix[1:]}",
        operation=name, service=authentication.service.id,
        authentication=authentication.name, missing=missing, grant=_grant_of(authentication))
