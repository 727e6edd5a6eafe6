"""OAuth2 grants: how a token is asked for and how the answer is read, one object per grant.

A ``Grant`` builds the token request of an authentication (``build_request``: pure, the
network policy applied, secrets listed for redaction) and interprets the endpoint's 2xx
answer (``parse``: a ``TokenGrant`` or a ``TokenResponseError``). The token manager does the
rest the same way for every grant: single flight, retries, cooldowns, the cache.

Grants are found by the authentication's grant (``grant_for``): ``client_credentials``
(RFC 6749 §4.4) is a singleton; the authorization-code grant (§4.1.3, with PKCE's
``code_verifier``, RFC 7636 §4.5) and the refresh-token grant (§6) need state the
authentication alone does not hold (a code, a stored refresh token), so they are constructed
with it. They add their own fields through ``build_token_request(grant_fields=...,
secrets=...)``, so the client authenticates as the manifest says (``client_secret_post`` or
``client_secret_basic``, §2.3.1) and the token URL passes the network policy, as for every
grant; the code, the verifier and the refresh token are redacted from every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from .._errors import TokenError
from .._manifest.model import Authentication
from .._secrets import Secret
from .request import TokenRequest, build_token_request, render_text
from .response import ResponseContext, TokenGrant, parse_token_response
from .token import RefreshPolicy

__all__ = [
    "CLIENT_CREDENTIALS",
    "GRANTS",
    "REFRESH_KEY",
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "Grant",
    "RefreshTokenGrant",
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


class AuthorizationCodeGrant:
    """RFC 6749 §4.1.3: exchange the code the user's consent produced for tokens.

    ``redirect_uri`` must be the one the authorization request carried; ``code_verifier``
    is PKCE's (RFC 7636 §4.5), None when the manifest says ``pkce: none``. The manifest's
    ``authorization_code.token_request_fields`` (Shopify's ``expiring``) are rendered over
    the parameters and sent too. ``repr`` never shows the code or the verifier.
    """

    name = "authorization_code"

    def __init__(self, code: Secret, redirect_uri: str, code_verifier: Secret | None = None,
                 scopes: tuple[str, ...] = ()) -> None:
        self.code = code
        self.redirect_uri = redirect_uri
        self.code_verifier = code_verifier
        self.scopes = scopes

    def __repr__(self) -> str:
        return f"AuthorizationCodeGrant(redirect_uri={self.redirect_uri!r}, code=<hidden>)"

    def build_request(
        self, authentication: Authentication, *, allow_loopback: bool = False
    ) -> TokenRequest:
        fields = [("code", self.code.reveal()), ("redirect_uri", self.redirect_uri)]
        secrets = [self.code.reveal()]
        if self.code_verifier is not None:
            fields.append(("code_verifier", self.code_verifier.reveal()))
            secrets.append(self.code_verifier.reveal())
        spec = authentication.service.auth.authorization_code
        service = authentication.service.id
        taken = {"grant_type", "client_id", "client_secret", *(n for n, _ in fields)}
        for field_name, template in (spec.token_request_fields.items() if spec else ()):
            if field_name not in taken:
                fields.append((field_name, render_text(
                    template, authentication.parameters, service=service,
                    field=f"authorization_code.token_request_fields.{field_name}")))
        return build_token_request(
            authentication, grant=self.name, grant_fields=fields, scopes=self.scopes,
            secrets=secrets, allow_loopback=allow_loopback)

    def parse(
        self, status: int, content_type: str | None, body: bytes, ctx: ResponseContext
    ) -> TokenGrant:
        return parse_token_response(status, content_type, body, ctx)


#: The refresh token of the request ``grant_for`` keys an authorization-code
#: authentication's tokens by: the key never depends on the refresh token, which rotates.
REFRESH_KEY = Secret("-")


class RefreshTokenGrant:
    """RFC 6749 §6: a new access token for the stored refresh token.

    The answer's ``refresh_token`` replaces the stored one when there is one (a provider
    that rotates, such as Twitch, invalidates the old one on use); when the answer has
    none, the old one stays valid and is kept (``refresh.tokens_after``). ``scope`` is not
    sent: §6 makes it optional and omitting it asks for the scopes already granted.
    """

    name = "refresh_token"

    def __init__(self, refresh_token: Secret = REFRESH_KEY) -> None:
        self.refresh_token = refresh_token

    def __repr__(self) -> str:
        return "RefreshTokenGrant(refresh_token=<hidden>)"

    def build_request(
        self, authentication: Authentication, *, allow_loopback: bool = False
    ) -> TokenRequest:
        clear = self.refresh_token.reveal()
        return build_token_request(
            authentication, grant=self.name, grant_fields=[("refresh_token", clear)],
            secrets=[clear], allow_loopback=allow_loopback)

    def parse(
        self, status: int, content_type: str | None, body: bytes, ctx: ResponseContext
    ) -> TokenGrant:
        return parse_token_response(status, content_type, body, ctx)


REFRESH = RefreshTokenGrant()

#: The grants the token manager can run for an authentication, by ``auth.grant``.
#: An authorization-code authentication's tokens are renewed with the refresh-token grant.
GRANTS: Mapping[str, Grant] = {CLIENT_CREDENTIALS.name: CLIENT_CREDENTIALS,
                               "authorization_code": REFRESH}


def grant_for(authentication: Authentication) -> Grant:
    """The grant that renews ``authentication``'s token: its own grant (a stored
    authorization-code authentication's), else the manifest's default grant."""
    name: str = authentication.grant or authentication.service.auth.grant
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
