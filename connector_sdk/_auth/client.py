"""The authenticated client: an httpx client bound to one authentication.

Callers get a ready client from ``build_client``/``build_async_client``: its ``base_url`` is
the manifest's base URL rendered through the network policy, ``ServiceAuth`` attaches tokens,
and redirects are not followed. Every request, including every redirect hop a caller opts
into per request, passes the service's ``allowed_hosts`` check before it leaves, and the
manifest's token headers are dropped from any hop whose origin differs from the request the
token was attached to (httpx itself only drops ``Authorization``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .._http.policy import check_url, render_url
from .._http.seam import httpx
from .._http.settings import HttpSettings, new_async_client, new_client
from .._manifest.model import Authentication
from .attach import CHECKED_EXTENSION, ServiceAuth, origin_of

if TYPE_CHECKING:
    from .manager import TokenManager

__all__ = ["build_async_client", "build_client"]


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
        if checked is not None and origin_of(checked[0]) != origin_of(request.url):
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
        trace_context=authentication.service.propagate_trace_context,
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
        trace_context=authentication.service.propagate_trace_context,
    )
