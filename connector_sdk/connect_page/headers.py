"""The security headers of every answer, and the Content Security Policy of each page.

Every answer, error pages and the stylesheet included, carries ``Referrer-Policy:
no-referrer`` (the page's URL never reaches the provider or a logo host;
https://www.w3.org/TR/referrer-policy/), ``X-Content-Type-Options: nosniff`` and
``Cache-Control: no-store`` (a page that took a secret is never kept by a cache; RFC 9111
§5.2.2.5). Pages get a CSP (https://www.w3.org/TR/CSP3/) with no script at all:

    default-src 'none'; style-src 'self'; img-src <logo origin>;
    form-action 'self' <provider authorization origins>; frame-ancestors <org origins>;
    base-uri 'none'

``form-action`` lists the provider's origins because browsers apply it to the redirect that
follows a form post too (CSP3 §6.4.1), and the Connect button's post answers with a redirect
to the provider. An answer that names no organisation (no valid session) cannot be framed
at all (``frame-ancestors 'none'``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._manifest.model import Service

__all__ = ["SecurityHeaders", "content_security_policy", "provider_origins"]

BASE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
#: The policy of an answer that names no organisation.
LOCKED_POLICY = ("default-src 'none'; style-src 'self'; form-action 'none';"
                 " frame-ancestors 'none'; base-uri 'none'")


def content_security_policy(
    *, logo_origin: str | None, form_origins: Iterable[str], frame_ancestors: Iterable[str]
) -> str:
    """The page's policy; every origin was checked by the configuration or the manifest."""
    frames = " ".join(frame_ancestors) or "'none'"
    forms = " ".join(["'self'", *dict.fromkeys(form_origins)])
    parts = ["default-src 'none'", "style-src 'self'"]
    if logo_origin:
        parts.append(f"img-src {logo_origin}")
    parts += [f"form-action {forms}", f"frame-ancestors {frames}", "base-uri 'none'"]
    return "; ".join(parts)


def provider_origins(service: Service, *, sandbox_origin: str | None = None) -> list[str]:
    """Where the Connect button's redirect may go: the authorization URL's origin when its
    host is literal, else the manifest's allowed hosts (``*.myshopify.com`` is a CSP host
    source as it is; CSP3 §2.3.2), plus the sandbox server's origin in ``--sandbox`` mode."""
    spec = getattr(service.auth, "authorization_code", None)
    if spec is None:
        return []
    origins: list[str] = []
    template = spec.authorization_url
    parts = urllib.parse.urlsplit(template.source)
    if "{{" in parts.netloc:
        origins += [f"{parts.scheme}://{host}" for host in service.allowed_hosts]
    else:
        origins.append(f"{parts.scheme}://{parts.netloc}")
    if sandbox_origin:
        origins.append(sandbox_origin)
    return origins


class SecurityHeaders:
    """ASGI middleware: ``BASE_HEADERS`` on every answer, ``LOCKED_POLICY`` as the CSP of
    any answer whose handler set none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = LOCKED_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
