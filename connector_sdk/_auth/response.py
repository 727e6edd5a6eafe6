"""Read a token endpoint's answer: RFC 6749 §5.1/§5.2 and the providers' own shapes. Pure.

Success needs a JSON object with a non-empty string ``access_token``. Around that, the
providers differ and the parser is tolerant on purpose:

* ``token_type`` in any case (Twitch ``bearer``), or absent (Shopify): the manifest's
  ``default_token_type`` is used; a type the manifest does not accept is refused (§7.1).
  ``bearer`` is normalised to ``Bearer`` since headers must say ``Bearer``.
* ``expires_in`` a number, a numeric string, ``null`` or missing (the manifest's default),
  ``0``, negative or past a float's range (also the default: never a token request per call),
  positive but tiny (raised to ``min_lifetime``, 1 s by default), huge (clamped by the
  caller's ``max_lifetime``).
* ``scope`` a space- or comma-separated string (RFC, Shopify), a list (Twitch), or
  ``null``/missing (the requested scopes, as §5.1 says).

Errors are read whatever their shape: RFC ``error``/``error_description``, Twitch
``{"status":400,"message":...}``, Shopify ``{"errors":...}`` or plain text, a proxy's HTML.
The provider's message is cut to a few hundred characters and every secret of the
authentication (and any token-looking JSON member) is removed before it is shown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .._errors import TokenEndpointError, TokenResponseError
from .._http.headers import header_value_problem
from .._http.messages import json_value, provider_message, shown_text
from .._http.retry import PERMANENT_OAUTH_ERRORS
from .._secrets import Secret
from .token import MIN_LIFETIME

__all__ = [
    "MESSAGE_LIMIT",
    "ResponseContext",
    "TokenGrant",
    "endpoint_error",
    "parse_token_response",
]

#: How much of a token endpoint's text a message shows.
MESSAGE_LIMIT = 200
_SCOPE_SPLIT = re.compile(r"[,\s]+")


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What the parser needs to know about the request it reads the answer of."""

    service: str
    authentication: str
    accepted_token_types: tuple[str, ...] = ("bearer",)
    default_token_type: str | None = None
    default_expires_in: float = 3600
    max_lifetime: float = 30 * 24 * 3600.0
    min_lifetime: float = MIN_LIFETIME
    requested_scopes: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class TokenGrant:
    """A parsed successful answer; ``expires_in`` is within ``[min_lifetime, max_lifetime]``
    (or the manifest's default, when that is lower). ``refresh_token`` is the answer's
    (RFC 6749 §5.1, §6: a rotating provider sends a new one each time), ``expires_given``
    whether the answer said when the token expires (an authorization-code token without a
    lifetime and without a refresh token is kept until the API refuses it)."""

    access_token: Secret
    token_type: str
    scopes: tuple[str, ...]
    expires_in: float
    refresh_token: Secret | None = None
    expires_given: bool = True

    def __repr__(self) -> str:
        return (
            f"TokenGrant(token_type={self.token_type!r}, scopes={self.scopes!r}, "
            f"expires_in={self.expires_in!r}, access_token=<hidden>)"
        )


def _where(ctx: ResponseContext) -> str:
    return f"service '{ctx.service}', authentication '{ctx.authentication}'"


def endpoint_error(
    status: int,
    content_type: str | None,
    body: bytes,
    ctx: ResponseContext,
    *,
    attempts: int = 1,
) -> TokenEndpointError:
    """The error for a non-2xx answer; ``permanent`` for 4xx other than 408/425/429."""
    said = provider_message(body, content_type, secrets=ctx.redact, limit=MESSAGE_LIMIT)
    oauth_error, message = said.code, said.shown
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    if oauth_error in PERMANENT_OAUTH_ERRORS:
        permanent = True
    if status in (401, 403) or oauth_error in ("invalid_client", "unauthorized_client"):
        fix = "check the authentication's client id and secret (and that the app may use it)"
    elif oauth_error == "invalid_scope":
        fix = "check the scopes the service manifest requests"
    elif status == 429:
        fix = "the provider is rate limiting token requests; try again later"
    elif status >= 500:
        fix = "the provider's token endpoint is failing; try again later"
    elif 300 <= status < 400:
        fix = "the token URL redirects, and redirects are not followed; fix the token_url"
    else:
        fix = "check the authentication's parameters and the service manifest's auth section"
    code = f" ({oauth_error})" if oauth_error else ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return TokenEndpointError(
        f"{_where(ctx)}: the token endpoint answered HTTP {status}{code}{tries}: {message};"
        f" {fix}",
        service=ctx.service,
        authentication=ctx.authentication,
        status=status,
        provider_message=message,
        oauth_error=oauth_error,
        permanent=permanent,
    )


def _response_error(
    ctx: ResponseContext, status: int, problem: str, *, oauth_error: str | None = None,
    provider: str | None = None, permanent: bool = False,
) -> TokenResponseError:
    return TokenResponseError(
        f"{_where(ctx)}: the token endpoint answered HTTP {status} but {problem}",
        service=ctx.service,
        authentication=ctx.authentication,
        status=status,
        provider_message=provider,
        oauth_error=oauth_error,
        permanent=permanent,
    )


def _expires_in(value: Any, ctx: ResponseContext) -> float:
    seconds: float | None = None
    if isinstance(value, bool) or value is None:
        seconds = None
    elif isinstance(value, int | float | str):
        try:
            seconds = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):  # "soon"; an int beyond a float (10**400)
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        # 0 or negative says nothing usable (Twitch's validate uses 0 for "no expiry"), nor
        # does a number past a float (1e400 reads as inf); using the token once would mean one
        # token request per API call: take the default and rely on the 401 refresh if the
        # provider disagrees.
        return min(max(float(ctx.default_expires_in), 0.0), ctx.max_lifetime)
    # a positive lifetime too short to be useful (0.0001, 1e-300) gets the floor, for the
    # same reason; a revoked or really expired token is still caught by the API's 401
    return min(max(seconds, ctx.min_lifetime), ctx.max_lifetime)


def _scopes(value: Any, ctx: ResponseContext) -> tuple[str, ...]:
    if value is None:
        return ctx.requested_scopes
    if isinstance(value, str):
        return tuple(s for s in _SCOPE_SPLIT.split(value) if s)
    if isinstance(value, list):
        return tuple(s.strip() for s in value if isinstance(s, str) and s.strip())
    return ctx.requested_scopes


def _token_type(value: Any, ctx: ResponseContext, status: int) -> str:
    if value is None or value == "":
        if ctx.default_token_type is None:
            raise _response_error(
                ctx,
                status,
                "its body has no token_type and the service manifest declares no"
                " default_token_type; add default_token_type to the manifest's auth section",
                permanent=True,
            )
        chosen = ctx.default_token_type
    elif isinstance(value, str):
        accepted = {t.lower() for t in ctx.accepted_token_types}
        if ctx.default_token_type:
            accepted.add(ctx.default_token_type.lower())
        if value.lower() not in accepted:
            shown = shown_text(value, ctx.redact, 40)
            raise _response_error(
                ctx,
                status,
                f"the token type '{shown}' is not one the service accepts"
                f" ({', '.join(sorted(accepted))}); a token of an unknown type must not be"
                " used (RFC 6749 §7.1); add it to accepted_token_types if the provider"
                " documents it",
                permanent=True,
            )
        chosen = value
    else:
        raise _response_error(ctx, status, "its token_type is not a string")
    return "Bearer" if chosen.lower() == "bearer" else chosen


def parse_token_response(
    status: int, content_type: str | None, body: bytes, ctx: ResponseContext
) -> TokenGrant:
    """The token of a 2xx answer, or ``TokenResponseError`` saying what is wrong with it.

    Never raises anything else (no raw ``JSONDecodeError``). An ``error`` member in a 200
    answer is an error; it is permanent when its code is one of RFC 6749's client errors.
    """
    data = json_value(body)
    if not isinstance(data, dict):
        kind = (content_type or "no content type").split(";")[0].strip()
        start = shown_text(body.decode("utf-8", "replace"), ctx.redact, MESSAGE_LIMIT)
        shape = "not JSON" if data is None else f"JSON {type(data).__name__}, not an object"
        return_msg = f"its body is {shape} ({kind}): {start or '(empty body)'}"
        raise _response_error(ctx, status, return_msg, provider=start)
    error = data.get("error")
    if error is not None and error != "":
        said = provider_message(body, content_type, secrets=ctx.redact, limit=MESSAGE_LIMIT)
        oauth_error, message = said.code, said.shown
        raise _response_error(
            ctx,
            status,
            f"with an error ({oauth_error or 'unnamed'}): {message}",
            oauth_error=oauth_error,
            provider=message,
            permanent=oauth_error in PERMANENT_OAUTH_ERRORS,
        )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        problem = "missing" if token is None else "empty" if token == "" else "not a string"
        raise _response_error(
            ctx, status, f"its access_token is {problem}; the provider issued no token"
        )
    unsafe = header_value_problem(token)
    if unsafe is not None:
        # refused here, where the field is known: sent, it would fail with the value quoted
        raise _response_error(
            ctx, status, f"its access_token {unsafe}, so it cannot be sent in a header;"
            " the token is not used (the provider's answer is malformed)")
    refresh = data.get("refresh_token")
    return TokenGrant(
        access_token=Secret(token),
        token_type=_token_type(data.get("token_type"), ctx, status),
        scopes=_scopes(data.get("scope"), ctx),
        expires_in=_expires_in(data.get("expires_in"), ctx),
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        expires_given=data.get("expires_in") is not None,
    )
