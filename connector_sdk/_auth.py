"""``ServiceAuth``: attach an authentication's token to requests, refresh once on 401.

The decisions live in ``ServiceAuth.flow``, a generator with no I/O and no locks: check the
request's URL against the service's allowed hosts (a caller may have built it), ask for a
token, attach the manifest's header templates, and on a 401 ask for a new token in place of
the rejected one and send the request once more; a second 401 raises ``UnauthorizedError``.
The thin ``sync_auth_flow``/``async_auth_flow`` overrides answer the generator's requests
with the ``TokenManager`` (blocking or awaiting), so one class serves ``httpx.Client`` and
``httpx.AsyncClient``, and the event loop never waits on a lock or a blocking fetch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import UnauthorizedError
from ._model import Authentication
from ._token_cache import Token
from ._token_request import render_text, secret_strings
from ._token_response import provider_message, redact
from ._urls import check_url

if TYPE_CHECKING:
    from ._token_manager import TokenManager

__all__ = ["ORIGIN_EXTENSION", "ServiceAuth", "origin_of"]

logger = logging.getLogger("connector_sdk.tokens")

#: Request extension recording the origin a token was attached for (redirect guard, _http).
ORIGIN_EXTENSION = "connector_sdk.token_origin"


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """``(scheme, host, port)``: what must stay equal for credentials to follow a request."""
    return (url.scheme, url.host, url.port)


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Flow step: give me a token; ``rejected`` is the one the API just refused, if any."""

    rejected: Token | None = None


@dataclass(frozen=True, slots=True)
class ReadBody:
    """Flow step: read this response's body (sync or async) before the flow raises."""

    response: httpx.Response


FlowStep = NeedToken | ReadBody | httpx.Request


class ServiceAuth(httpx.Auth):
    """Attaches ``authentication``'s token to every request sent through the client.

    Callers may rely on: a request to a host outside the service's ``allowed_hosts`` raises
    ``NetworkPolicyError`` before a token is attached; a 401 triggers exactly one token
    refresh (single flight in the manager) and one retry; a second 401 raises
    ``UnauthorizedError`` naming the service and authentication.
    """

    requires_request_body = True  # the body is sent twice when a 401 is retried

    def __init__(
        self,
        authentication: Authentication,
        manager: TokenManager,
        *,
        allow_loopback: bool = False,
    ) -> None:
        self._authentication = authentication
        self._manager = manager
        self._allow_loopback = allow_loopback
        self._service = authentication.service
        self._secrets = secret_strings(authentication)
        self._rendered: tuple[Token, tuple[tuple[str, str], ...]] | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Not used: httpx calls the sync/async overrides, which drive ``flow``."""
        raise TypeError("ServiceAuth is driven through httpx.Client or httpx.AsyncClient")

    def flow(self, request: httpx.Request) -> Generator[FlowStep, Any, None]:
        """The pure decision sequence; the drivers answer ``NeedToken`` and ``ReadBody``."""
        service = self._service
        check_url(
            request.url,
            service=service.id,
            url_name="request",
            allowed_hosts=service.allowed_hosts,
            allow_loopback=self._allow_loopback,
        )
        token: Token = yield NeedToken()
        self._attach(request, token)
        response: httpx.Response = yield request
        if response.status_code != 401:
            return
        logger.debug(
            "API answered 401; refreshing the token once (service=%s authentication=%s)",
            service.id,
            self._authentication.name,
        )
        token = yield NeedToken(rejected=token)
        self._attach(request, token)
        response = yield request
        if response.status_code != 401:
            return
        yield ReadBody(response)
        raise self._unauthorized(request, response, token)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.flow(request)
        value: Any = None
        while True:
            try:
                step = flow.send(value)
            except StopIteration:
                return
            if isinstance(step, NeedToken):
                if step.rejected is not None:
                    self._manager.invalidate(self._authentication, step.rejected)
                value = self._manager.get_token(self._authentication)
            elif isinstance(step, ReadBody):
                step.response.read()
                value = None
            else:
                value = yield step

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.flow(request)
        value: Any = None
        while True:
            try:
                step = flow.send(value)
            except StopIteration:
                return
            if isinstance(step, NeedToken):
                if step.rejected is not None:
                    self._manager.invalidate(self._authentication, step.rejected)
                value = await self._manager.aget_token(self._authentication)
            elif isinstance(step, ReadBody):
                await step.response.aread()
                value = None
            else:
                value = yield step

    def _headers(self, token: Token) -> tuple[tuple[str, str], ...]:
        rendered = self._rendered
        if rendered is not None and rendered[0] is token:
            return rendered[1]
        values = {
            **self._authentication.parameters,
            "access_token": token.access_token,
            "token_type": token.token_type,
        }
        headers = tuple(
            (name, render_text(template, values, service=self._service.id, field=f"header {name}"))
            for name, template in self._service.auth.headers.items()
        )
        self._rendered = (token, headers)
        return headers

    def _attach(self, request: httpx.Request, token: Token) -> None:
        for name, value in self._headers(token):
            request.headers[name] = value
        request.extensions[ORIGIN_EXTENSION] = origin_of(request.url)

    def _unauthorized(
        self, request: httpx.Request, response: httpx.Response, token: Token
    ) -> UnauthorizedError:
        secrets = (*self._secrets, token.access_token.reveal())
        _, message = provider_message(
            response.content, response.headers.get("content-type"), secrets=secrets
        )
        url = request.url
        where = redact(f"{request.method} {url.scheme}://{url.host}{url.path}", secrets)
        return UnauthorizedError(
            f"service '{self._service.id}', authentication '{self._authentication.name}': the"
            f" API answered 401 to {where} twice, the second time with a newly obtained token:"
            f" {message}; check that the authentication's credentials may call this API"
            " (client id, scopes, app installation)",
            service=self._service.id,
            authentication=self._authentication.name,
            status=401,
            provider_message=message,
        )
