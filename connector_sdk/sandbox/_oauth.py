"""A generic OAuth 2.0 authorization server (RFC 6749 + RFC 7636 PKCE) for tests.

Real providers bend the RFC (Twitch's error bodies, Shopify's comma scopes and no
``grant_type``), and neither of the shipped ones verifies PKCE. ``OAuthSandbox`` is the
by-the-book server a test needs to prove the SDK's side of what they do not exercise: a wrong
``code_verifier`` is ``invalid_grant``, client authentication by Basic or by the form body,
RFC 6749 §5.2 error bodies. On ``host`` (default ``auth.example.com``, RFC 2606) it answers:

* ``GET /authorize`` (``response_type=code``, ``client_id``, ``redirect_uri`` required,
  ``scope`` space-separated, ``state``, ``code_challenge`` and ``code_challenge_method``,
  RFC 7636 §4.3, ``plain`` when absent) with the shared consent page; ``require_pkce=True``
  refuses a request without a challenge (``invalid_request``, RFC 7636 §4.4.1).
* ``POST /token``: ``authorization_code`` (single-use code, ``redirect_uri`` equal to the
  authorized one, ``code_verifier`` checked with ``verify_pkce`` when a challenge was sent)
  and ``refresh_token`` (rotated). Success per §5.1 with ``Cache-Control: no-store``.
* ``GET /api/me`` with ``Authorization: Bearer``: ``{"sub","client_id","scope"}``; 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"`` otherwise (RFC 6750 §3).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_plus

from .._http.seam import httpx
from ._base import Clock, SandboxBase, TokenRecord, json_response, read_form
from ._consent import ConsentFlows, Grant, error_page, redirect_allowed, redirect_with
from ._pkce import PKCE_METHODS, verify_pkce

__all__ = ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAuthSandbox"]

#: The documented test client of ``OAuthSandbox``; not a secret, nothing real accepts it.
OAUTH_CLIENT_ID = "sbx-oauth-client"
OAUTH_CLIENT_SECRET = "sbx-oauth-secret-4f1c2d9e"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(status: int, error: str, description: str,
           headers: Mapping[str, str] | None = None) -> httpx.Response:
    """RFC 6749 §5.2: ``{"error","error_description"}``."""
    body = {"error": error, "error_description": description}
    return json_response(status, body, headers={**_NO_STORE, **(headers or {})})


class OAuthSandbox(SandboxBase):
    """An RFC 6749 authorization server with PKCE on ``host``; thread-safe.

    ``clients`` maps client id to secret; ``redirect_uris`` are registered in addition to any
    loopback URI; ``require_pkce`` refuses authorization requests without a challenge;
    ``subject`` is the user who approves. ``token_lifetime`` and ``refresh_lifetime``
    (None: no expiry) are in seconds of ``clock``.
    """

    name = "oauth"

    def __init__(
        self,
        *,
        host: str = "auth.example.com",
        clients: Mapping[str, str] | None = None,
        redirect_uris: Iterable[str] = (),
        require_pkce: bool = False,
        subject: str = "user-1",
        token_lifetime: int = 3600,
        refresh_lifetime: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.host = host.lower()
        self.clients = dict(clients if clients is not None
                            else {OAUTH_CLIENT_ID: OAUTH_CLIENT_SECRET})
        self.redirect_uris = list(redirect_uris)
        self.require_pkce = require_pkce
        self.subject = subject
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.consent = ConsentFlows(lambda: self.clock(), revoke_access=self.revoke_token)

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.host,)

    def serves(self, host: str) -> bool:
        return host.lower() == self.host

    def parameters(self) -> dict[str, str]:
        """``client_id`` and ``client_secret`` of the first client."""
        client_id, secret = next(iter(self.clients.items()), ("", ""))
        return {"client_id": client_id, "client_secret": secret}

    def handle(self, request: httpx.Request) -> httpx.Response:
        routes = {("GET", "/authorize"): self._authorize,
                  ("POST", "/consent"): self._consent,
                  ("POST", "/token"): self._token,
                  ("GET", "/api/me"): self._me}
        with self.lock:
            path = request.url.path
            self.count_request(request, token=path == "/token", api=path.startswith("/api/"))
            handler = routes.get((request.method, path))
            if handler is None:
                return json_response(404, {"error": "not_found"})
            return handler(request)

    # authorization endpoint ---------------------------------------------------------------

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.clients:
            return error_page(400, "Unknown client", "The client_id is not registered here.")
        if not redirect_allowed(redirect_uri, self.redirect_uris):
            return error_page(400, "Redirect URI not registered",
                              "The redirect_uri is not registered for this client.")
        state = query.get("state")

        def refuse(error: str, description: str) -> httpx.Response:
            extra = {"state": state} if state is not None else {}
            return redirect_with(redirect_uri, {"error": error,
                                                "error_description": description, **extra})

        if query.get("response_type") != "code":
            return refuse("unsupported_response_type", "only response_type=code is supported")
        challenge = query.get("code_challenge", "")
        method = query.get("code_challenge_method", "plain")
        if challenge and method not in PKCE_METHODS:
            return refuse("invalid_request", "code_challenge_method must be S256 or plain")
        if self.require_pkce and not challenge:
            return refuse("invalid_request", "code challenge required")
        extras = {"code_challenge": challenge, "code_challenge_method": method} if challenge \
            else {}
        grant = Grant(client_id, redirect_uri, tuple(query.get("scope", "").split()),
                      self.subject, state, extras)
        return self.consent.consent_page(grant, service="OAuth", client_name=client_id,
                                         account=self.subject, action="consent")

    def _consent(self, request: httpx.Request) -> httpx.Response:
        decided = self.consent.decision(request)
        if isinstance(decided, httpx.Response):
            return decided
        grant, approved = decided
        state = {"state": grant.state} if grant.state is not None else {}
        if not approved:
            return redirect_with(grant.redirect_uri, {
                "error": "access_denied", "error_description": "the user denied access", **state})
        code = self.consent.issue_code(grant)
        return redirect_with(grant.redirect_uri, {"code": code, **state})

    # token endpoint -----------------------------------------------------------------------

    def _client(self, request: httpx.Request, form: Mapping[str, str]) -> str | httpx.Response:
        """The authenticated client id, or the ``invalid_client`` answer (RFC 6749 §2.3)."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        basic = scheme.lower() == "basic"
        if basic and "client_secret" in form:
            return _error(400, "invalid_request", "use one client authentication method")
        if basic:
            try:
                raw = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raw = ""
            user, _, password = raw.partition(":")
            client_id, secret = unquote_plus(user), unquote_plus(password)  # §2.3.1
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id in self.clients and secret == self.clients[client_id]:
            return client_id
        challenge = {"WWW-Authenticate": 'Basic realm="oauth-sandbox"'} if basic else None
        return _error(401, "invalid_client", "client authentication failed", challenge)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = read_form(request)
        if form is None:
            return _error(400, "invalid_request", "send an application/x-www-form-urlencoded body")
        client = self._client(request, form)
        if isinstance(client, httpx.Response):
            return client
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self.consent.redeem_code(form.get("code", ""), client_id=client)
            if grant is None:
                return _error(400, "invalid_grant", "the code is invalid, expired or used")
            if form.get("redirect_uri") != grant.redirect_uri:
                return _error(400, "invalid_grant", "redirect_uri differs from the authorized one")
            challenge = grant.extras.get("code_challenge")
            if challenge and not verify_pkce(challenge, grant.extras["code_challenge_method"],
                                             form.get("code_verifier", "")):
                return _error(400, "invalid_grant", "PKCE verification failed")
            return self._tokens_for(grant)
        if grant_type == "refresh_token":
            grant = self.consent.rotate_refresh(form.get("refresh_token", ""), client_id=client)
            if grant is None:
                return _error(400, "invalid_grant", "the refresh token is invalid or spent")
            return self._tokens_for(grant)
        return _error(400, "unsupported_grant_type",
                      "grant_type must be authorization_code or refresh_token")

    def _tokens_for(self, grant: Grant) -> httpx.Response:
        record = TokenRecord(client_id=grant.client_id, subject=grant.subject,
                             scopes=grant.scopes, expires_at=self.clock() + self.token_lifetime)
        access = self.mint_token(record)
        self.consent.track(grant, access)
        refresh = self.consent.issue_refresh(grant, lifetime=self.refresh_lifetime)
        body = {"access_token": access, "token_type": "Bearer",
                "expires_in": self.token_lifetime, "refresh_token": refresh,
                "scope": " ".join(grant.scopes)}
        return json_response(200, body, headers=_NO_STORE)

    # resource -----------------------------------------------------------------------------

    def _me(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        record = self.find_token(token.strip()) if scheme.lower() == "bearer" else None
        if record is None or not record.valid_at(self.clock()):
            challenge = 'Bearer realm="oauth-sandbox", error="invalid_token"' if token else \
                'Bearer realm="oauth-sandbox"'
            return json_response(401, {"error": "invalid_token"},
                                 headers={"WWW-Authenticate": challenge})
        expires_in = record.expires_at - self.clock()
        return json_response(200, {"sub": record.subject, "client_id": record.client_id,
                                   "scope": " ".join(record.scopes),
                                   "expires_in": int(expires_in) if math.isfinite(expires_in)
                                   else 0})
