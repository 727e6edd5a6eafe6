"""Twitch user access tokens: the authorization code grant flow and refresh tokens.

As documented in
https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#authorization-code-grant-flow
and https://dev.twitch.tv/docs/authentication/refresh-tokens/, on id.twitch.tv:

* ``GET /oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state
  [&force_verify]``: an unknown ``client_id`` or an unregistered ``redirect_uri`` is an error
  page (no redirect, RFC 6749 §4.1.2.1); otherwise the consent page, skipped when the user
  already approved these scopes and ``force_verify`` is not ``true``. Approve redirects to
  ``redirect_uri?code&scope&state``, Deny to
  ``redirect_uri?error=access_denied&error_description=The user denied you access&state``.
* ``POST /oauth2/token`` ``grant_type=authorization_code`` (``code``, ``redirect_uri`` equal
  to the authorized one; codes are single-use and expire in 10 minutes):
  ``{"access_token","expires_in","refresh_token","scope":[...],"token_type":"bearer"}``;
  a bad, spent or expired code is 400 ``Invalid authorization code``.
* ``grant_type=refresh_token``: the same body with a new refresh token; the old one is spent,
  and a spent or unknown one is 400 ``Invalid refresh token``.

Twitch's confidential clients do not use PKCE; a ``code_challenge`` is ignored, as Twitch
ignores it. Redirect URIs: any loopback ``http`` URI, and those in ``redirect_uris`` (real
Twitch requires each to be registered in the developer console).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from connector_sdk.sandbox import (
    LOWER_ALNUM,
    ConsentFlows,
    Grant,
    SandboxBase,
    TokenRecord,
    error_page,
    json_response,
    redirect_allowed,
    redirect_with,
)

from ._data import TwitchData

__all__ = ["UserTokens"]

# RFC 6749 §3.3 scope-token characters, as Twitch's scopes use them (user:read:email).
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_DENIED = "The user denied you access"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _id_error(status: int, message: str, *, error: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"status": status, "message": message}
    if error is not None:
        body = {"status": status, "error": error, "message": message}
    return json_response(status, body)


class UserTokens(SandboxBase):
    """The authorization-code and refresh-token grants of ``TwitchSandbox``."""

    clients: dict[str, str]
    data: TwitchData
    redirect_uris: list[str]
    user_id: str
    user_token_lifetime: int
    consent: ConsentFlows

    def _init_user_tokens(self, *, redirect_uris: tuple[str, ...], user_id: str,
                          user_token_lifetime: int) -> None:
        self.redirect_uris = list(redirect_uris)
        self.user_id = user_id
        self.user_token_lifetime = user_token_lifetime
        self.consent = ConsentFlows(lambda: self.clock(), revoke_access=self.revoke_token)

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.clients:
            return error_page(400, "invalid client", "The client_id is not a registered "
                              "application (check the Twitch developer console).")
        if not redirect_allowed(redirect_uri, self.redirect_uris):
            return error_page(400, "redirect_mismatch", "Parameter redirect_uri does not match "
                              "registered URI.")
        state = query.get("state")
        keep = {"state": state} if state is not None else {}
        if query.get("response_type") != "code":
            return redirect_with(redirect_uri, {
                "error": "unsupported_response_type",
                "error_description": "the sandbox implements response_type=code only", **keep})
        scopes = tuple(dict.fromkeys(query.get("scope", "").split()))
        if any(_SCOPE.fullmatch(s) is None for s in scopes):
            return redirect_with(redirect_uri, {
                "error": "invalid_scope", "error_description": "invalid scope requested", **keep})
        grant = Grant(client_id, redirect_uri, scopes, self.user_id, state)
        if query.get("force_verify", "false").lower() != "true" and self.consent.remembered(grant):
            return self._approved(grant)
        user = self.data.user_by_id[self.user_id]
        return self.consent.consent_page(grant, service="Twitch", client_name=client_id,
                                         account=user["display_name"], action="consent")

    def _consent_answer(self, request: httpx.Request) -> httpx.Response:
        decided = self.consent.decision(request)
        if isinstance(decided, httpx.Response):
            return decided
        grant, approved = decided
        if approved:
            return self._approved(grant)
        keep = {"state": grant.state} if grant.state is not None else {}
        return redirect_with(grant.redirect_uri, {"error": "access_denied",
                                                  "error_description": _DENIED, **keep})

    def _approved(self, grant: Grant) -> httpx.Response:
        code = self.consent.issue_code(grant, length=30, alphabet=LOWER_ALNUM)
        keep = {"state": grant.state} if grant.state is not None else {}
        return redirect_with(grant.redirect_uri,
                             {"code": code, "scope": " ".join(grant.scopes), **keep})

    def _code_grant(self, form: Mapping[str, str], client_id: str) -> httpx.Response:
        if not form.get("code"):
            return _id_error(400, "missing code")
        grant = self.consent.redeem_code(form["code"], client_id=client_id)
        if grant is None:
            return _id_error(400, "Invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _id_error(400, "Parameter redirect_uri does not match registered URI")
        return self._user_token(grant)

    def _refresh_grant(self, form: Mapping[str, str], client_id: str) -> httpx.Response:
        grant = self.consent.rotate_refresh(form.get("refresh_token", ""), client_id=client_id)
        if grant is None:
            return _id_error(400, "Invalid refresh token", error="Bad Request")
        return self._user_token(grant)

    def _user_token(self, grant: Grant) -> httpx.Response:
        record = TokenRecord(client_id=grant.client_id, subject=grant.subject,
                             scopes=grant.scopes,
                             expires_at=self.clock() + self.user_token_lifetime)
        token = self.mint_token(record, length=30, alphabet=LOWER_ALNUM)
        self.consent.track(grant, token)
        refresh = self.consent.issue_refresh(grant, length=50, alphabet=LOWER_ALNUM)
        body = {"access_token": token, "expires_in": self.user_token_lifetime,
                "refresh_token": refresh, "scope": list(grant.scopes), "token_type": "bearer"}
        return json_response(200, body, headers=_NO_STORE)
