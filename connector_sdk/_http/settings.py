"""HTTP settings and the plain clients built from them (no authentication).

The authenticated client lives in ``connector_sdk._auth.client``. Token and revocation
requests use clients built from the same ``HttpSettings`` (same transport), so a sandbox
that routes traffic through a transport sees token requests too.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._version import __version__
from .decoding import ACCEPT_ENCODING
from .proxy import describe, proxy_mounts, proxy_routes

if TYPE_CHECKING:  # imported where used: a runtime that sends nothing loads no httpx
    from .seam import httpx

__all__ = [
    "HttpSettings",
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

    ``timeout`` bounds each of connect, read, write and pool waits, in seconds, and, as one
    total deadline, every exchange whose answer the SDK reads itself (token, revocation, 401
    body, operation call): connect, headers and body together (``_http/body.py``), so a
    server dripping bytes cannot hold a call.
    ``allow_loopback`` permits ``http://127.0.0.1``-style URLs (tests, sandboxes).
    ``transport``/``async_transport`` replace the network (routing, sandboxes); the SDK never
    closes a transport it was given. ``max_connections`` keeps pools modest (httpx's pool
    cost grows with its size). ``verify`` is passed to httpx (an ``ssl.SSLContext``, a CA
    bundle path or a bool). ``max_token_response_bytes`` bounds what is read from a token or
    revocation endpoint, ``max_response_bytes`` what an operation reads from one API answer,
    both counted in decoded bytes (a compressed body cannot expand past them in memory).

    ``proxy`` (``http://[user:password@]host:port``) sends every request through that proxy,
    except hosts in ``no_proxy`` (``NO_PROXY`` syntax); without it and with ``trust_env``,
    ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` apply, to token, API and
    revocation requests alike (``_http/proxy.py``). The proxy's credentials never show in
    this object's repr.
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
    proxy: str | None = field(default=None, repr=False)
    no_proxy: str | None = None
    trust_env: bool = True

    def __repr__(self) -> str:
        shown = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            shown.append(f"{name}={describe(value)!r}" if name == "proxy" and value
                         else f"{name}={value!r}")
        return f"HttpSettings({', '.join(shown)})"

    def proxy_routes(self) -> dict[str, httpx.Proxy | None]:
        """httpx mount patterns to their proxy (None: direct); empty when no proxy applies.
        Raises ``ConfigError`` naming the setting or variable when a proxy URL is unusable."""
        return proxy_routes(proxy=self.proxy, no_proxy=self.no_proxy, trust_env=self.trust_env)

    def httpx_timeout(self) -> httpx.Timeout:
        from .seam import httpx

        return httpx.Timeout(self.timeout)

    def limits(self) -> httpx.Limits:
        from .seam import httpx

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
    from .seam import httpx

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
        # proxies come from settings.proxy_routes() for every client, so httpx must not add
        # its own reading of the environment to the async ones only
        "trust_env": False,
        "follow_redirects": False,
        # only codings the SDK's readers decode within bounds (decoding.py)
        "headers": {"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    }


def new_client(
    settings: HttpSettings, *, ssl_context: ssl.SSLContext | None = None,
    trace_context: bool = False, **kwargs: Any
) -> httpx.Client:
    """A plain sync client with the settings' transport, timeouts and limits (no auth).

    Without a transport of the caller's, requests go through ``DeadlineTransport``, so the
    bounded readers' total deadline holds at every socket operation, directly or through
    the proxy the settings or the environment name. With opentelemetry-api installed each
    transport is wrapped for one span per attempt (``tracing.py``); ``trace_context`` lets
    it send ``traceparent`` (API clients of services whose manifest allows it only).
    """
    from .deadline import DeadlineTransport
    from .seam import httpx

    transport = settings.transport
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if transport is None:
        context = ssl_context if ssl_context is not None else make_ssl_context(settings)
        transport = DeadlineTransport(context, settings.limits())
        mounts = proxy_mounts(settings.proxy_routes(), lambda proxy: DeadlineTransport(
            context, settings.limits(), proxy=proxy))
    from .tracing import traced

    mounts = {p: t if t is None else traced(t, trace_context=trace_context)
              for p, t in mounts.items()}
    return httpx.Client(transport=traced(transport, trace_context=trace_context),
                        mounts=mounts or None, **{**_common(settings), **kwargs})


def new_async_client(
    settings: HttpSettings, *, ssl_context: ssl.SSLContext | None = None,
    trace_context: bool = False, **kwargs: Any
) -> httpx.AsyncClient:
    """A plain async client with the settings' async transport, timeouts and limits, and the
    same proxy routes as ``new_client``."""
    # httpx's environment reading is off (_common): SSL_CERT_FILE is read by make_ssl_context
    from .seam import httpx

    context = ssl_context if ssl_context is not None else make_ssl_context(settings)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if settings.async_transport is None:
        mounts = proxy_mounts(settings.proxy_routes(), lambda proxy: httpx.AsyncHTTPTransport(
            verify=context, limits=settings.limits(), proxy=proxy))
    from .tracing import otel, traced_async

    transport = settings.async_transport
    if otel() is not None:  # the transport httpx would build, made here to be wrapped
        transport = traced_async(transport or httpx.AsyncHTTPTransport(
            verify=context, limits=settings.limits()), trace_context=trace_context)
        mounts = {p: t if t is None else traced_async(t, trace_context=trace_context)
                  for p, t in mounts.items()}
    return httpx.AsyncClient(
        transport=transport, verify=context, mounts=mounts or None,
        **{**_common(settings), **kwargs})


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
