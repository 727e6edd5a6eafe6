"""The MCP server on streamable HTTP, and the checks every request passes before it.

The MCP transport specification's security warning
(https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning)
asks three things of an HTTP server, and ``Guard`` does each before the SDK sees a request:

* **Origin**: a request whose ``Origin`` header is present and not allowed is refused with
  403 and a JSON-RPC error, against DNS rebinding (a web page whose name was re-pointed at
  127.0.0.1 would otherwise drive the tools from the user's browser). Allowed: loopback
  origins (``localhost``, ``127.0.0.0/8``, ``[::1]``, any port) and the origins configured,
  compared as parsed scheme, host and port, never as a string prefix. ``Origin: null`` is
  refused. Requests without ``Origin`` (non-browser clients) pass.
* **Binding**: the default, 127.0.0.1, is the only binding served without a token; there
  the ``Host`` header must also name a loopback host and the bound port (a rebinding
  attacker's page sends its own name). Any other ``--host`` needs a bearer token.
* **Authentication**: with a token configured every request must carry
  ``Authorization: Bearer <token>`` (RFC 6750 §2.1), compared in constant time; otherwise
  401 with ``WWW-Authenticate: Bearer`` (§3). The token is never logged or echoed.

The SDK's own Host/Origin middleware is switched off: it compares origins by string prefix,
and one check in one place is easier to trust.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._telemetry import get_logger
from . import DEFAULT_HOST, DEFAULT_PORT, INSTALL_HINT

try:
    import uvicorn
    from mcp.server.lowlevel import Server
    from mcp.server.transport_security import TransportSecuritySettings
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(f"the MCP server needs the optional extra: {INSTALL_HINT}") from exc

__all__ = ["Guard", "HttpOptions", "HttpServer", "origin_key"]

log = get_logger("connector_sdk.mcp")

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_key(text: str) -> Origin | None:
    """``("http", "localhost", 3000)`` for ``http://localhost:3000``; None when ``text`` is
    not a serialised http(s) origin (RFC 6454 §6.1: scheme, host, optional port, nothing
    else)."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username
            or parts.password or parts.path or parts.query or parts.fragment):
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class HttpOptions:
    """Where to listen and who may call. ``token`` is required off the default host."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    path: str = "/mcp"
    token: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.host != DEFAULT_HOST and not self.token:
            raise ValueError(f"binding to {self.host} needs a bearer token (only {DEFAULT_HOST},"
                             " the default, is served without one)")
        for origin in self.allowed_origins:
            if origin_key(origin) is None:
                raise ValueError(f"allowed origin {origin!r} is not an origin such as"
                                 " https://app.example.com or http://localhost:3000")


class Guard:
    """ASGI middleware: Origin, Host (on loopback) and bearer token, before ``app``."""

    def __init__(self, app: Any, *, port: int, loopback: bool, token: str | None,
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.port = port
        self.loopback = loopback
        self._token = token.encode("utf-8") if token else None
        self.allowed: frozenset[Origin] = frozenset(
            key for key in (origin_key(o) for o in allowed_origins) if key is not None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal = self._check(headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, extra = refusal
        log.warning("refused an MCP request: %s", message)
        body = json.dumps({"jsonrpc": "2.0",
                           "error": {"code": -32600, "message": message}}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            *extra]})
        await send({"type": "http.response.body", "body": body})

    def _check(self, headers: dict[str, str]) -> tuple[int, str, list[Any]] | None:
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            return 403, ("this Origin may not call the MCP server (DNS rebinding protection);"
                         " allow it with --allowed-origin"), []
        if self.loopback and not self._host_allowed(headers.get("host", "")):
            return 421, "the Host header does not name this loopback server", []
        if self._token is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not given:
                return 401, "this MCP server needs 'Authorization: Bearer <token>'", [
                    (b"www-authenticate", b'Bearer realm="connector-sdk"')]
            if not hmac.compare_digest(given.strip().encode("utf-8"), self._token):
                return 401, "the bearer token is not this server's", [
                    (b"www-authenticate", b'Bearer realm="connector-sdk", error="invalid_token"')]
        return None

    def _origin_allowed(self, origin: str) -> bool:
        key = origin_key(origin)
        return key is not None and (_is_loopback(key[1]) or key in self.allowed)

    def _host_allowed(self, host: str) -> bool:
        try:
            parts = urlsplit("//" + host)
            port = parts.port
        except ValueError:
            return False
        return bool(parts.hostname) and _is_loopback(parts.hostname or "") and (
            port or 80) == self.port


class HttpServer:
    """``server`` on streamable HTTP behind ``Guard``; ``serve`` until ``stop``."""

    def __init__(self, server: Server[Any], options: HttpOptions) -> None:
        self.options = options
        family, kind, proto, _, address = socket.getaddrinfo(
            options.host, options.port, type=socket.SOCK_STREAM)[0]
        self.socket = socket.socket(family, kind, proto)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(address)
        self.socket.listen(128)
        self.port: int = self.socket.getsockname()[1]
        app = server.streamable_http_app(
            streamable_http_path=options.path,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        guarded = Guard(app, port=self.port, loopback=options.host == DEFAULT_HOST,
                        token=options.token, allowed_origins=options.allowed_origins)
        self._uvicorn = uvicorn.Server(uvicorn.Config(
            guarded, log_level="warning", access_log=False, lifespan="on"))

    @property
    def url(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"http://{host}:{self.port}{self.options.path}"

    async def serve(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until ``stop`` (or SIGINT/SIGTERM in the main thread); ``ready(url)`` once
        requests are answered."""
        task = asyncio.ensure_future(self._uvicorn.serve(sockets=[self.socket]))
        while not self._uvicorn.started and not task.done():
            await asyncio.sleep(0.01)
        if ready is not None and not task.done():
            ready(self.url)
        try:
            await task
        finally:
            self.socket.close()

    def stop(self) -> None:
        self._uvicorn.should_exit = True
