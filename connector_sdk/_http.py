"""The seam to httpx: settings, and the clients callers and the token layer use.

Callers get a ready client from ``build_client``/``build_async_client``: its ``base_url`` is
the manifest's base URL rendered through the network policy, ``ServiceAuth`` attaches tokens,
and redirects are not followed. Every request, including every redirect hop a caller opts
into per request, passes the service's ``allowed_hosts`` check before it leaves, and the
manifest's token headers are dropped from any hop whose origin differs from the request the
token was attached to (httpx itself only drops ``Authorization``).

Token and revocation requests use clients built from the same ``HttpSettings`` (same
transport), so a sandbox that routes traffic through a transport sees token requests too.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._auth import CHECKED_EXTENSION, ORIGIN_EXTENSION, ServiceAuth, origin_of
from ._httpx import httpx
from ._model import Authentication
from ._urls import check_url, render_url
from ._version import __version__

if TYPE_CHECKING:
    from ._token_manager import TokenManager

__all__ = [
    "HttpSettings",
    "build_async_client",
    "build_client",
    "make_ssl_context",
    "new_async_client",
    "new_client",
    "owned_client",
    "preload_async_backend",
]

USER_AGENT = f"connector-sdk/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the SDK talks HTTP; one value shared by API clients and token requests.

    ``timeout`` bounds each of connect, read, write and pool waits, in seconds, and the whole
    body of a token answer (a server dripping bytes cannot hold a token call).
    ``allow_loopback`` permits ``http://127.0.0.1``-style URLs (tests, sandboxes).
    ``transport``/``async_transport`` replace the network (routing, sandboxes); the SDK never
    closes a transport it was given. ``max_connections`` keeps pools modest (httpx's pool
    cost grows with its size). ``verify`` is passed to httpx (an ``ssl.SSLContext``, a CA
    bundle path or a bool). ``max_token_response_bytes`` bounds what is read from a token or
    revocation endpoint, ``max_response_bytes`` what an operation reads from one API answer.
    """

    timeout: float = 10.0
    allow_loopback: bool = False
    transport: httpx.BaseTransport | None = None
    async_transport: httpx.AsyncBaseTransport | None = None
    max_connections: int = 20
    # As many keep-alive connections as connections: httpcore 1.0.9 can close a "surplus"
    # idle connection that it has just handed to a waiting thread (encode/httpcore#1110),
    # which fails that request with "Bad file descriptor" when many threads share a client.
    max_keepalive_connections: int = 20
    verify: ssl.SSLContext | str | bool = True
    user_agent: str = USER_AGENT
    max_token_response_bytes: int = 256 * 1024
    max_response_bytes: int = 64 * 1024 * 1024

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout)

    def limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive_connections,
        )


def make_ssl_context(settings: HttpSettings) -> ssl.SSLContext:
    """The SSL context for ``settings``; built once per runtime because building costs ~20 ms.

    Building it inside an event loop for each client would stall the loop, so the token
    manager builds it once and every client it makes shares it.
    """
    if isinstance(settings.verify, ssl.SSLContext):
        return settings.verify
    return httpx.create_ssl_context(verify=settings.verify)


def preload_async_backend() -> None:
    """Import what httpx's async transport imports on its first request (~30-50 ms).

    httpx imports httpcore lazily, and httpcore imports anyio and its asyncio backend on the
    first async request. Called when a runtime is built, so that its first async token fetch
    does not stall an event loop on imports. Missing modules are skipped (a later httpx may
    not need them).
    """
    for name in ("httpcore", "h11", "anyio", "anyio._backends._asyncio"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _common(settings: HttpSettings) -> dict[str, Any]:
    return {
        "timeout": settings.httpx_timeout(),
        "limits": settings.limits(),
        "follow_redirects": False,
        "headers": {"User-Agent": settings.user_agent},
    }


def new_client(
    settings: HttpSettings, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
) -> httpx.Client:
    """A plain sync client with the settings' transport, timeouts and limits (no auth)."""
    verify = ssl_context if ssl_context is not None else settings.verify
    return httpx.Client(
        transport=settings.transport, verify=verify, **{**_common(settings), **kwargs}
    )


def new_async_client(
    settings: HttpSettings, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """A plain async client with the settings' async transport, timeouts and limits."""
    verify = ssl_context if ssl_context is not None else settings.verify
    return httpx.AsyncClient(
        transport=settings.async_transport, verify=verify, **{**_common(settings), **kwargs}
    )


@contextmanager
def owned_client(
    settings: HttpSettings, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[httpx.Client]:
    """A short-lived sync client, closed after use unless it wraps a caller's transport."""
    client = new_client(settings, ssl_context=ssl_context)
    try:
        yield client
    finally:
        if settings.transport is None:
            client.close()


def _guard(
    authentication: Authentication, settings: HttpSettings
) -> Callable[[httpx.Request], None]:
    service = authentication.service
    token_headers = tuple(service.auth.headers)

    def guard(request: httpx.Request) -> None:
        checked = request.extensions.get(CHECKED_EXTENSION)
        if (checked is not None and checked[0] is request.url and checked[1] is service
                and checked[2] == settings.allow_loopback):
            # ServiceAuth just checked this URL and attached the token for its origin:
            # checking again would double the policy's per-request cost (~7 us).
            return
        check_url(
            request.url,
            service=service.id,
            url_name="request",
            allowed_hosts=service.allowed_hosts,
            allow_loopback=settings.allow_loopback,
        )
        origin = request.extensions.get(ORIGIN_EXTENSION)
        if origin is not None and origin != origin_of(request.url):
            for name in token_headers:
                request.headers.pop(name, None)

    return guard


def _base_url(authentication: Authentication, settings: HttpSettings) -> httpx.URL:
    service = authentication.service
    return render_url(
        service.base_url,
        authentication.parameters,
        service=service.id,
        url_name="base_url",
        allowed_hosts=service.allowed_hosts,
        allow_loopback=settings.allow_loopback,
    )


def build_client(
    authentication: Authentication,
    manager: TokenManager,
    settings: HttpSettings | None = None,
) -> httpx.Client:
    """A sync client for ``authentication``'s API: base URL, tokens, network policy.

    ``settings`` defaults to the manager's. Raises ``NetworkPolicyError`` when the rendered
    base URL is not allowed. The caller closes the client.
    """
    settings = settings or manager.settings
    return new_client(
        settings,
        ssl_context=manager.ssl_context,
        base_url=_base_url(authentication, settings),
        auth=ServiceAuth(authentication, manager, allow_loopback=settings.allow_loopback),
        event_hooks={"request": [_guard(authentication, settings)]},
    )


def build_async_client(
    authentication: Authentication,
    manager: TokenManager,
    settings: HttpSettings | None = None,
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of ``build_client``; cheap to call inside a loop."""
    settings = settings or manager.settings
    guard = _guard(authentication, settings)

    async def async_guard(request: httpx.Request) -> None:
        guard(request)

    hook: Callable[[httpx.Request], Coroutine[Any, Any, None]] = async_guard
    return new_async_client(
        settings,
        ssl_context=manager.ssl_context,
        base_url=_base_url(authentication, settings),
        auth=ServiceAuth(authentication, manager, allow_loopback=settings.allow_loopback),
        event_hooks={"request": [hook]},
    )
