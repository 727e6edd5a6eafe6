"""``ServiceAuth``: attach an authentication's token to requests, refresh once on 401.

The decisions live in ``ServiceAuth.flow``, a generator with no I/O and no locks: check the
request's URL against the service's allowed hosts (a caller may have built it), ask for a
token, attach the manifest's header templates, and on a 401 ask for a new token in place of
the rejected one and send the request once more; a second 401 raises ``UnauthorizedError``.
The thin ``sync_auth_flow``/``async_auth_flow`` overrides answer the generator's requests
with the ``TokenManager`` (blocking or awaiting), so one class serves ``httpx.Client`` and
``httpx.AsyncClient``, and the event loop never waits on a lock or a blocking fetch.

The warm path (a fresh token held) takes ``flow``'s first steps inline, the same check and
the same attach, and drives the generator only after a 401: one generator level per request
instead of two.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import NetworkPolicyError, UnauthorizedError
from .._http.body import Body, read_async, read_sync
from .._http.messages import provider_message
from .._http.policy import check_url, render_url
from .._http.redact import redact
from .._http.seam import httpx
from .._manifest.model import Authentication
from .._telemetry import get_logger, record_token_rejected
from .request import render_text, secret_strings
from .token import Token

if TYPE_CHECKING:
    from .manager import TokenManager

__all__ = ["CHECKED_EXTENSION", "ServiceAuth", "origin_of", "token_hosts"]

logger = get_logger("connector_sdk.tokens")

#: Request extension ``(url, service, allow_loopback)``: ``ServiceAuth`` checked this very URL
#: object against this service's policy and attached the token for its origin, so the
#: client's per-hop guard need not check it again; a redirect hop is a new URL object: it is
#: checked, and loses the token headers when its origin differs from this URL's.
CHECKED_EXTENSION = "connector_sdk.checked_url"

#: How much of a 401 body is read: enough for the provider's message, never a huge body.
BODY_LIMIT = 64 * 1024


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """``(scheme, host, port)``: what must stay equal for credentials to follow a request."""
    return (url.scheme, url.host, url.port)


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Flow step: give me a token; ``rejected`` is the one the API just refused, if any."""

    rejected: Token | None = None


@dataclass(frozen=True, slots=True)
class ReadBody:
    """Flow step: read the start of this response's body (at most ``BODY_LIMIT`` bytes
    within the timeout) for the error message; answered with the bytes read."""

    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Discard:
    """Flow step: the request will be sent again; this response's body is not wanted.

    httpx reads the body of a response an auth flow answers with a new request; the driver
    swaps the unread stream for the few bytes it reads within bounds, so a huge or dripping
    401 body costs neither memory nor time.
    """

    response: httpx.Response


FlowStep = NeedToken | ReadBody | Discard | httpx.Request


class ServiceAuth(httpx.Auth):
    """Attaches ``authentication``'s token to every request sent through the client.

    Callers may rely on: a request to a host outside the service's ``allowed_hosts`` raises
    ``NetworkPolicyError`` before a token is attached, and so does a request to a host the
    manifest allows but this authentication's own parameters do not render (tenant
    isolation: under ``*.myshopify.com`` a client bound to shop A never sends its token to
    shop B, whoever built the URL; see ``token_hosts``); a 401 triggers exactly one token
    refresh (single flight in the manager) and one retry; a second 401 raises
    ``UnauthorizedError`` naming the service and authentication. Of a 401's body at most
    ``BODY_LIMIT`` bytes are read, within the timeout: a huge or dripping body costs neither
    memory nor time.
    """

    #: A 401 is retried with the same body, so a streaming body is read into memory before
    #: the first send, as httpx's own drivers do (``httpx.Auth.sync_auth_flow``).
    requires_request_body = True

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
        self._allowed_hosts = tuple(authentication.service.allowed_hosts)
        self._token_hosts = token_hosts(authentication, allow_loopback=allow_loopback)
        self._secrets = secret_strings(authentication)
        self._rendered: tuple[Token, tuple[tuple[str, str], ...]] | None = None
        self._key: str | None = None
        self._fresh = manager.fresh

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Not used: httpx calls the sync/async overrides, which drive ``flow``."""
        raise TypeError("ServiceAuth is driven through httpx.Client or httpx.AsyncClient")

    def flow(
        self, request: httpx.Request, token: Token | None = None
    ) -> Generator[FlowStep, Any, None]:
        """The pure decision sequence; the drivers answer ``NeedToken``, ``ReadBody`` and
        ``Discard``. ``token``: a fresh one the driver already holds (no step asks for it)."""
        self._check(request)
        if token is None:
            token = yield NeedToken()
        self._attach(request, token)
        response: httpx.Response = yield request
        if response.status_code == 401:
            yield from self._refresh(request, response, token)

    def _refresh(
        self, request: httpx.Request, response: httpx.Response, token: Token
    ) -> Generator[FlowStep, Any, None]:
        """After a 401: a new token in place of the rejected one, one more send, and a
        second 401 is an ``UnauthorizedError``."""
        logger.debug(
            "API answered 401; refreshing the token once (service=%s authentication=%s)",
            self._service.id,
            self._authentication.name,
        )
        record_token_rejected()
        yield Discard(response)
        token = yield NeedToken(rejected=token)
        self._attach(request, token)
        response = yield request
        if response.status_code != 401:
            return
        body: bytes = yield ReadBody(response)
        raise self._unauthorized(request, response, body, token)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if self.requires_request_body and not isinstance(request.stream, httpx.ByteStream):
            request.read()  # a streaming body, buffered so that a 401 can replay it
        token = self._held()
        if token is None:
            yield from self._run_sync(self.flow(request))
            return
        # The warm path: ``flow``'s first steps inline, without driving a second generator.
        self._check(request)
        self._attach(request, token)
        response = yield request
        if response.status_code == 401:
            yield from self._run_sync(self._refresh(request, response, token))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.requires_request_body and not isinstance(request.stream, httpx.ByteStream):
            await request.aread()
        token = self._held()
        if token is None:
            flow = self.flow(request)
        else:  # the warm path, as in ``sync_auth_flow``
            self._check(request)
            self._attach(request, token)
            response = yield request
            if response.status_code != 401:
                return
            flow = self._refresh(request, response, token)
        value: Any = None
        while True:
            try:
                step = flow.send(value)
            except StopIteration:
                return
            if isinstance(step, NeedToken):
                if step.rejected is not None:
                    await self._manager.ainvalidate(self._authentication, step.rejected)
                value = await self._manager.aget_token(self._authentication)
            elif isinstance(step, ReadBody):
                value = await self._read_async(step.response, decoded=True)
            elif isinstance(step, Discard):
                if isinstance(step.response.stream, httpx.AsyncByteStream):
                    step.response.stream = httpx.ByteStream(
                        await self._read_async(step.response, decoded=False))
                value = None
            else:
                value = yield step

    def _run_sync(
        self, flow: Generator[FlowStep, Any, None]
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Answer ``flow``'s steps on this thread; its requests go to httpx."""
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
                value = self._read_sync(step.response, decoded=True)
            elif isinstance(step, Discard):
                if isinstance(step.response.stream, httpx.SyncByteStream):
                    step.response.stream = httpx.ByteStream(
                        self._read_sync(step.response, decoded=False))
                value = None
            else:
                value = yield step

    def _read_sync(self, response: httpx.Response, *, decoded: bool) -> bytes:
        """At most ``BODY_LIMIT`` decoded bytes of the body, read within the timeout (what
        arrived by then); the stream is closed after. ``decoded=False``: the caller puts the
        bytes back as the response's stream, so its content coding is dropped (they are
        decoded already: httpx would otherwise decode them again, without a bound)."""
        body = read_sync(response, limit=BODY_LIMIT, seconds=self._manager.settings.timeout,
                         keep=not decoded)
        return _content(body, decoded)

    async def _read_async(self, response: httpx.Response, *, decoded: bool) -> bytes:
        """The async twin of ``_read_sync``."""
        body = await read_async(response, limit=BODY_LIMIT,
                                seconds=self._manager.settings.timeout, keep=not decoded)
        return _content(body, decoded)

    def _held(self) -> Token | None:
        """The manager's held token while fresh: the warm path takes no lock and calls no
        cache. A token another client saw rejected is dropped from it by that client."""
        key = self._key
        if key is None:
            key = self._key = self._manager.key_of(self._authentication)
        return self._fresh(key)

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

    def _check(self, request: httpx.Request) -> None:
        """``NetworkPolicyError`` unless the request's URL may carry this service's token; the
        verdict is recorded on the request for the client's per-hop guard."""
        url = request.url
        check_url(
            url,
            service=self._service.id,
            url_name="request",
            allowed_hosts=self._allowed_hosts,
            allow_loopback=self._allow_loopback,
        )
        if url.host not in self._token_hosts:
            raise NetworkPolicyError(
                f"service '{self._service.id}', authentication '{self._authentication.name}':"
                f" a request to {url.host} was refused before the token was attached: the"
                " manifest's allowed_hosts admit that host, but this authentication's own"
                " parameters render only " + ", ".join(sorted(self._token_hosts)) + "; a"
                " token is sent only to its own hosts, so call that host with the"
                " authentication made for it",
                url_name="request", service=self._service.id)
        request.extensions[CHECKED_EXTENSION] = (url, self._service, self._allow_loopback)

    def _attach(self, request: httpx.Request, token: Token) -> None:
        headers = request.headers
        for name, value in self._headers(token):
            headers[name] = value

    def _unauthorized(
        self, request: httpx.Request, response: httpx.Response, body: bytes, token: Token
    ) -> UnauthorizedError:
        secrets = (*self._secrets, token.access_token.reveal())
        message = provider_message(
            body, response.headers.get("content-type"), secrets=secrets
        ).shown
        url = request.url
        port = f":{url.port}" if url.port is not None else ""
        where = redact(f"{request.method} {url.scheme}://{url.host}{port}{url.path}", secrets)
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


def token_hosts(authentication: Authentication, *, allow_loopback: bool) -> frozenset[str]:
    """The hosts ``authentication``'s token may be sent to.

    They are the hosts its own parameters render into the manifest's URLs (``base_url``,
    ``token_url``, the revocation URL), plus the ``allowed_hosts`` that are exact names: a
    fixed host is the same for every authentication, while a wildcard such as
    ``*.myshopify.com`` admits every tenant and so only the tenant this authentication
    renders may receive its token. A URL that does not render (a value the policy refuses)
    adds nothing: the request to it is refused by the policy anyway.
    """
    service = authentication.service
    hosts = {h.lower() for h in service.allowed_hosts if "*" not in h}
    templates = [service.base_url, service.auth.token_url]
    if service.auth.revocation is not None:
        templates.append(service.auth.revocation.url)
    for template in templates:
        try:
            url = render_url(template, authentication.parameters, service=service.id,
                             url_name="base_url", allowed_hosts=service.allowed_hosts,
                             allow_loopback=allow_loopback)
        except NetworkPolicyError:
            continue
        hosts.add(url.host)
    return frozenset(hosts)


def _content(body: Body, decoded: bool) -> bytes:
    if not decoded:
        body.response.headers.pop("content-encoding", None)
    return body.content
