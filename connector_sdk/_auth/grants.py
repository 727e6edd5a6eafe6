"""OAuth2 grants: how a token is asked for and how the answer is read, one object per grant.

A ``Grant`` builds the token request of an authentication (``build_request``: pure, the
network policy applied, secrets listed for redaction) and interprets the endpoint's 2xx
answer (``parse``: a ``TokenGrant`` or a ``TokenResponseError``). The token manager does the
rest the same way for every grant: single flight, retries, cooldowns, the cache.

Grants are found by the manifest's ``auth.grant`` value (``grant_for``); a manifest without
one means ``client_credentials`` (RFC 6749 §4.4), the only grant the manager fetches by
itself today. The authorization-code grant (§4.1, with PKCE, RFC 7636) and the refresh-token
grant (§6) fit the same protocol: they add their own fields (``code``, ``redirect_uri``,
``code_verifier``, ``refresh_token``) through ``build_token_request(grant_fields=...,
secrets=...)``, and their ``parse`` also reads the ``refresh_token`` member. Those grants need
state the authentication alone does not hold (a code, a stored refresh token), so they are
constructed with it rather than registered as singletons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from .._errors import TokenError
from .._manifest.model import Authentication
from .request import TokenRequest, build_token_request
from .response import ResponseContext, TokenGrant, parse_token_response
from .token import RefreshPolicy

__all__ = [
    "CLIENT_CREDENTIALS",
    "GRANTS",
    "ClientCredentialsGrant",
    "Grant",
    "grant_for",
    "response_context",
]


@runtime_checkable
class Grant(Protocol):
    """One way of obtaining a token. ``name`` is the ``grant_type`` on the wire."""

    name: str

    def build_request(
        self, authentication: Authentication, *, allow_loopback: bool = False
    ) -> TokenRequest:
        """The token request; ``NetworkPolicyError``/``ParameterError`` before any I/O."""
        ...

    def parse(
        self, status: int, content_type: str | None, body: bytes, ctx: ResponseContext
    ) -> TokenGrant:
        """The token of a 2xx answer; raises only ``TokenResponseError``."""
        ...


class ClientCredentialsGrant:
    """RFC 6749 §4.4: the client asks for a token on its own behalf, with its scopes."""

    name = "client_credentials"

    def build_request(
        self, authentication: Authentication, *, allow_loopback: bool = False
    ) -> TokenRequest:
        auth = authentication.service.auth
        fields = [("scope", auth.scope_separator.join(auth.scopes))] if auth.scopes else []
        return build_token_request(
            authentication,
            grant=self.name,
            grant_fields=fields,
            scopes=auth.scopes,
            allow_loopback=allow_loopback,
        )

    def parse(
        self, status: int, content_type: str | None, body: bytes, ctx: ResponseContext
    ) -> TokenGrant:
        return parse_token_response(status, content_type, body, ctx)


CLIENT_CREDENTIALS = ClientCredentialsGrant()

#: The grants the token manager can run for an authentication, by ``auth.grant``.
GRANTS: Mapping[str, Grant] = {CLIENT_CREDENTIALS.name: CLIENT_CREDENTIALS}


def grant_for(authentication: Authentication) -> Grant:
    """The grant ``authentication``'s manifest names (default ``client_credentials``)."""
    name = getattr(authentication.service.auth, "grant", CLIENT_CREDENTIALS.name)
    grant = GRANTS.get(name)
    if grant is None:
        raise TokenError(
            f"service '{authentication.service.id}', authentication '{authentication.name}':"
            f" the manifest's grant '{name}' is not one this SDK can run"
            f" ({', '.join(sorted(GRANTS))}); upgrade connector-sdk or fix auth.grant",
            service=authentication.service.id,
            authentication=authentication.name,
            permanent=True,
        )
    return grant


def response_context(
    authentication: Authentication, request: TokenRequest, refresh: RefreshPolicy
) -> ResponseContext:
    """What the parser needs to read the answer to ``request``: the manifest's token types
    and default lifetime, the lifetimes believed, the scopes asked for, what to redact."""
    auth = authentication.service.auth
    return ResponseContext(
        service=authentication.service.id,
        authentication=authentication.name,
        accepted_token_types=auth.accepted_token_types,
        default_token_type=auth.default_token_type,
        default_expires_in=auth.default_expires_in,
        max_lifetime=refresh.max_lifetime,
        min_lifetime=refresh.min_lifetime,
        requested_scopes=request.scopes,
        redact=request.redact,
    )
