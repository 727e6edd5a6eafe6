"""Shopify's authorization code grant: app installation with a merchant's consent.

As documented in
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant,
on each shop's host:

* ``GET /admin/oauth/authorize?client_id&scope&redirect_uri&state[&grant_options[]=per-user]``
  (scopes comma-separated): an unknown app or a ``redirect_uri`` that is not an allowed
  redirection URL is an error page, no redirect; otherwise the consent page. Approve
  redirects to ``redirect_uri?code&hmac&host&shop&state&timestamp``; ``hmac`` is
  ``sign_query``'s HMAC-SHA256 with the app's secret over the other parameters.
* Deny: Shopify documents no redirect for a merchant who declines (the app is simply not
  installed). The emulator follows RFC 6749 §4.1.2.1 and redirects with
  ``error=access_denied&error_description&shop&state&timestamp``, signed like a success, so
  an app that checks the signature before anything else still reads the refusal.
* ``POST /admin/oauth/access_token`` with ``client_id``, ``client_secret``, ``code`` (no
  ``grant_type``, as Shopify documents; ``authorization_code`` is accepted too): single-use
  codes, bound to the shop. Offline non-expiring ``{"access_token","scope"}``; with
  ``expiring=1`` ``{"access_token","expires_in":3600,"refresh_token":"shprt_...",
  "refresh_token_expires_in":7776000,"scope"}``; online (``per-user``) adds
  ``expires_in: 86399``, ``associated_user_scope`` and ``associated_user``.
* ``grant_type=refresh_token`` rotates the refresh token; the old one is spent, and a spent,
  expired or unknown one is 400 ``{"error":"invalid_grant",...}``.

Shopify does not support PKCE: a ``code_challenge`` is ignored. Allowed redirection URLs: any
loopback URL, and those in ``redirect_uris``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx

from connector_sdk.sandbox import (
    HEX,
    ConsentFlows,
    Grant,
    SandboxBase,
    TokenRecord,
    error_page,
    json_response,
    redirect_allowed,
    redirect_with,
    sorted_query_signature,
)

__all__ = ["AuthorizationCode", "sign_query"]

_SCOPE = re.compile(r"[a-z][a-z_]*")
_NO_STORE = {"Cache-Control": "no-store"}
_CODE_INVALID = "The authorization code was not found or was already used"
EXPIRING_LIFETIME = 3600
REFRESH_LIFETIME = 7776000
ONLINE_LIFETIME = 86399
# The shop owner who approves per-user (online) access; the documentation's example user.
ASSOCIATED_USER = {"id": 902541635, "first_name": "John", "last_name": "Smith",
                   "email": "john@example.com", "email_verified": True, "account_owner": True,
                   "locale": "en", "collaborator": False}


def sign_query(params: Mapping[str, str], secret: str) -> str:
    """Shopify's ``hmac``: HMAC-SHA256 hex, keyed with the app's secret, over every
    parameter but ``hmac``, sorted, as ``name=value`` pairs joined with ``&`` (``%``, ``&``
    and, in names, ``=`` escaped): the SDK's own ``sorted_query_signature``, so the
    emulator signs exactly as the SDK checks."""
    return sorted_query_signature(list(params.items()), "hmac", secret)


class AuthorizationCode(SandboxBase):
    """The authorization-code and refresh-token grants of ``ShopifySandbox``."""

    clients: dict[str, str]
    redirect_uris: list[str]
    consent: ConsentFlows

    def _init_authorization(self, *, redirect_uris: tuple[str, ...]) -> None:
        self.redirect_uris = list(redirect_uris)
        self.consent = ConsentFlows(lambda: self.clock(), revoke_access=self.revoke_token)

    def _signed(self, grant: Grant, params: dict[str, str]) -> httpx.Response:
        shop = grant.extras["shop"]
        params = {**params, "shop": f"{shop}.myshopify.com",
                  "timestamp": str(int(self.clock()))}
        if grant.state is not None:
            params["state"] = grant.state
        params["hmac"] = sign_query(params, self.clients[grant.client_id])
        return redirect_with(grant.redirect_uri, dict(sorted(params.items())))

    def _authorize(self, request: httpx.Request, shop: str) -> httpx.Response:
        query = request.url.params
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.clients:
            return error_page(400, "Oauth error invalid_request",
                              "The client_id is not the API key of an app on this platform.")
        if not redirect_allowed(redirect_uri, self.redirect_uris):
            return error_page(400, "Oauth error invalid_request",
                              "The redirect_uri is not whitelisted.")
        scopes = tuple(dict.fromkeys(s.strip() for s in query.get("scope", "").split(",")
                                     if s.strip()))
        unknown = [s for s in scopes if _SCOPE.fullmatch(s) is None]
        if unknown:
            return error_page(400, "Oauth error invalid_scope", f"Scope undefined: {unknown[0]}")
        mode = "per-user" if "per-user" in query.get_list("grant_options[]") else "offline"
        grant = Grant(client_id, redirect_uri, scopes, "", query.get("state"),
                      {"shop": shop, "access_mode": mode})
        return self.consent.consent_page(grant, service="Shopify", client_name=client_id,
                                         account=f"{shop}.myshopify.com", action="consent")

    def _consent_answer(self, request: httpx.Request, shop: str) -> httpx.Response:
        decided = self.consent.decision(request)
        if isinstance(decided, httpx.Response):
            return decided
        grant, approved = decided
        if grant.extras["shop"] != shop:
            return error_page(400, "Oauth error invalid_request",
                              "This consent belongs to another shop.")
        if not approved:
            return self._signed(grant, {"error": "access_denied",
                                        "error_description": "The merchant declined the app."})
        code = self.consent.issue_code(grant, length=32, alphabet=HEX)
        host = base64.b64encode(f"admin.shopify.com/store/{shop}".encode()).decode().rstrip("=")
        return self._signed(grant, {"code": code, "host": host})

    def _code_grant(self, params: Mapping[str, Any], shop: str, client_id: str
                    ) -> httpx.Response:
        grant = self.consent.redeem_code(str(params.get("code") or ""), client_id=client_id)
        if grant is None or grant.extras["shop"] != shop:
            return json_response(400, {"error": "invalid_request",
                                       "error_description": _CODE_INVALID})
        expiring = str(params.get("expiring") or "") == "1"
        return self._issue_tokens(grant, shop, expiring=expiring)

    def _refresh_grant(self, params: Mapping[str, Any], shop: str, client_id: str
                       ) -> httpx.Response:
        token = str(params.get("refresh_token") or "")
        grant = self.consent.rotate_refresh(token, client_id=client_id)
        if grant is None or grant.extras["shop"] != shop:
            return json_response(400, {"error": "invalid_grant", "error_description":
                                       "The refresh token is invalid, expired or already used"})
        return self._issue_tokens(grant, shop, expiring=True)

    def _issue_tokens(self, grant: Grant, shop: str, *, expiring: bool) -> httpx.Response:
        online = grant.extras["access_mode"] == "per-user"
        lifetime = ONLINE_LIFETIME if online else EXPIRING_LIFETIME if expiring else None
        record = TokenRecord(
            client_id=grant.client_id, shop=shop, scopes=grant.scopes,
            subject=str(ASSOCIATED_USER["id"]) if online else "",
            expires_at=self.clock() + lifetime if lifetime is not None else math.inf)
        token = self.mint_token(record, length=32, alphabet=HEX,
                                prefix="shpua_" if online else "shpat_")
        self.consent.track(grant, token)
        body: dict[str, Any] = {"access_token": token, "scope": ",".join(grant.scopes)}
        if online:
            body.update({"expires_in": ONLINE_LIFETIME,
                         "associated_user_scope": ",".join(grant.scopes),
                         "associated_user": dict(ASSOCIATED_USER)})
        elif expiring:
            body.update({
                "expires_in": EXPIRING_LIFETIME,
                "refresh_token": self.consent.issue_refresh(
                    grant, lifetime=REFRESH_LIFETIME, prefix="shprt_", length=32, alphabet=HEX),
                "refresh_token_expires_in": REFRESH_LIFETIME})
        return json_response(200, body, headers=_NO_STORE)
