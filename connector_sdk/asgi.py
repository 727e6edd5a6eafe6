"""An ASGI callback endpoint for the authorization-code grant, with no framework dependency.

Mount ``callback_app(runtime)`` where the provider sends the user back (the redirect URL
registered with it, ``docs/redirects.md``), under any ASGI server (uvicorn, hypercorn) or
inside a framework's mount (Starlette ``Mount``, FastAPI ``app.mount``)::

    from connector_sdk import Runtime
    from connector_sdk.asgi import callback_app

    runtime = Runtime()
    app = callback_app(runtime, success_url="https://app.example.com/connected")

What it does with ``GET <path>?code=…&state=…``: the organisation is the one whose
white-labelled redirect host the request came to (``runtime.redirects``; none on the
platform's own host), then ``runtime.acomplete_authorization`` checks the state, the
signature and the callback parameters, exchanges the code and stores the tokens. Success is
a ``303`` to ``success_url`` (``?authentication=NAME`` added) or a short page; a refusal is
a ``400`` page naming the reason (``AuthorizationError.reason``) and what to do. Every answer
is ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer`` (the callback URL holds
the code: no page it leads to may receive it), with a ``default-src 'none'`` CSP. The
message never contains the code, the state or a secret (``AuthorizationError`` guarantees
it), and is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlencode

from ._errors import AuthorizationError, ConnectorSDKError

__all__ = ["callback_app"]

log = logging.getLogger("connector_sdk.asgi")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'")]


def _page(title: str, text: str) -> bytes:
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}"
            f"</title><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></html>"
            ).encode()


async def _answer(send: Send, status: int, body: bytes = b"",
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        *_HEADERS, (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return str(value.decode("latin-1")).strip().lower()
    server = scope.get("server") or ("localhost", None)
    return f"{server[0]}:{server[1]}" if server[1] else str(server[0])


def callback_app(runtime: Any, *, success_url: str | None = None,
                 path: str = "/callback") -> ASGIApp:
    """The ASGI app completing authorizations that come back to ``path`` (see the module
    docstring). ``runtime`` is a ``connector_sdk.Runtime``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope.get("path") != path:
            await _answer(send, 404, _page("Not found", "This address only completes"
                                           " authorizations."))
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _answer(send, 405, b"", [(b"allow", b"GET")])
            return
        host = _host(scope)
        redirects = getattr(runtime, "redirects", None)
        found = None if redirects is None else redirects.organisation_for_host(host)
        organisation = None if found is None else found.name
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'https')}://{host}{path}?{query}"
        try:
            record = await runtime.acomplete_authorization(url, organisation=organisation)
        except AuthorizationError as error:
            log.info("authorization refused: %s", error.reason)
            await _answer(send, 400, _page("Authorization not completed", str(error)))
            return
        except ConnectorSDKError as error:
            log.warning("authorization failed: %s", type(error).__name__)
            await _answer(send, 502, _page("Authorization not completed", str(error)))
            return
        if success_url is not None:
            joiner = "&" if "?" in success_url else "?"
            target = success_url + joiner + urlencode({"authentication": record.name})
            await _answer(send, 303, b"", [(b"location", target.encode("utf-8"))])
            return
        await _answer(send, 200, _page("Connected", f"Authentication '{record.name}' of"
                                       f" service '{record.service}' is connected; you can"
                                       " close this window."))

    return app
