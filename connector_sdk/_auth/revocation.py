"""Revoke an authentication's cached token when the authentication is deleted.

Services that declare a ``revocation`` spec (Twitch: ``POST https://id.twitch.tv/oauth2/revoke``
with the form fields ``client_id`` and ``token``) are told the token is no longer wanted. Only
a token in the cache is revoked: no token is fetched just to revoke it. Revocation is best
effort: the caller deletes the authentication whatever happens, so ``revoke`` never raises for
a refused URL, a transport failure or an error answer; it returns a ``RevocationResult`` whose
``message`` says what happened. Twitch answers 400 ``Invalid token`` for a token it no longer
knows (unlike RFC 7009's 200): that counts as done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .._errors import ConnectorSDKError
from .._http.body import send_sync
from .._http.messages import provider_message
from .._http.policy import render_url
from .._http.seam import httpx
from .._http.settings import HttpSettings, owned_client
from .._manifest.model import Authentication
from .._telemetry import get_logger, revocation_unit
from .request import FORM_CONTENT_TYPE, client_auth_parts, render_text, secret_strings

if TYPE_CHECKING:
    from .manager import TokenManager

__all__ = ["RevocationResult", "revoke"]

logger = get_logger("connector_sdk.tokens")


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """What revoking did. ``ok``: nothing is left to do (revoked, nothing to revoke, or the
    provider no longer knows the token). ``revoked``: the provider confirmed it just now.
    ``message`` is for people: a note when ``ok``, a warning when not. No secrets in it."""

    ok: bool
    revoked: bool
    message: str
    status: int | None = None


def revoke(
    authentication: Authentication,
    manager: TokenManager,
    settings: HttpSettings | None = None,
) -> RevocationResult:
    """Revoke ``authentication``'s cached token, if its service can; never raises for
    failures of the revocation itself. The token is dropped from the cache in every case."""
    service = authentication.service
    where = f"service '{service.id}', authentication '{authentication.name}'"
    spec = service.auth.revocation
    if spec is None:
        return RevocationResult(True, False, f"{where}: the service has no revocation endpoint;"
                                " its tokens expire on their own")
    token = manager.peek(authentication)
    manager.forget(authentication)
    if token is None:
        return RevocationResult(True, False, f"{where}: no token is cached; nothing to revoke")
    settings = settings or manager.settings
    secrets = (*secret_strings(authentication), token.access_token.reveal())
    values = {
        **authentication.parameters,
        "access_token": token.access_token,
        "token_type": token.token_type,
    }
    try:
        url = render_url(spec.url, values, service=service.id, url_name="revocation.url",
                         allowed_hosts=service.allowed_hosts,
                         allow_loopback=settings.allow_loopback)
        headers = [("Content-Type", FORM_CONTENT_TYPE)]
        fields: list[tuple[str, str]] = []
        if spec.client_auth != "none":
            auth = service.auth
            client_id = render_text(auth.client_id, values, service=service.id,
                                    field="client_id")
            secret = render_text(auth.client_secret, values, service=service.id,
                                 field="client_secret")
            extra_headers, fields = client_auth_parts(spec.client_auth, client_id, secret)
            headers += extra_headers
        for name, template in spec.fields.items():
            fields.append((name, render_text(template, values, service=service.id,
                                             field=f"revocation field '{name}'")))
    except ConnectorSDKError as error:
        return RevocationResult(False, False, f"{where}: the token was not revoked: {error}")
    try:
        with revocation_unit(authentication), \
                owned_client(settings, ssl_context=manager.ssl_context) as client:
            request = client.build_request("POST", url, headers=headers,
                                           content=urlencode(fields).encode())
            # only the status and a short message are used: the start of the body is enough
            answer = send_sync(client, request, limit=settings.max_token_response_bytes,
                               seconds=settings.timeout, partial=True)
    except httpx.HTTPError as error:
        logger.debug("revocation failed service=%s authentication=%s error=%s",
                     service.id, authentication.name, type(error).__name__,
                     extra={"service": service.id, "authentication": authentication.name})
        return RevocationResult(
            False, False, f"{where}: the token was not revoked: the revocation endpoint could"
            f" not be reached ({type(error).__name__}); it expires on its own")
    status = answer.response.status_code
    logger.debug("revocation response service=%s authentication=%s status=%d",
                 service.id, authentication.name, status,
                 extra={"service": service.id, "authentication": authentication.name})
    if 200 <= status < 300:
        return RevocationResult(True, True, f"{where}: the token was revoked", status)
    message = provider_message(answer.content, answer.response.headers.get("content-type"),
                               secrets=secrets).shown
    if status in (400, 401) and "invalid token" in message.lower():
        return RevocationResult(True, False, f"{where}: the provider no longer knows the token"
                                f" ({message}); nothing left to revoke", status)
    return RevocationResult(
        False, False, f"{where}: the token was not revoked: the revocation endpoint answered"
        f" HTTP {status}: {message}; it expires on its own", status)
