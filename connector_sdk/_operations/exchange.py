"""One operation call on the wire: its request built, sent with rate-limit waits, paged.

``Call`` is the state of one call (who, which client, within which bounds) and its HTTP
exchange. What callers may rely on:

* a value placed in the path is percent-encoded as one segment; the query string is built
  by httpx from pairs (``render_path``, ``render_query``);
* ``send`` paces each request through the runtime's shared bucket for the authentication
  (when the operation declares ``rate_limit``), waits out 429s within the call's
  ``RateLimiter`` and raises ``APIError``
  (naming the service, operation and authentication, with the provider's scrubbed message)
  for a 4xx/5xx answer, a timeout or an unreachable host;
* every pagination ``Link`` passes the network policy and must stay on the called host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import APIError
from .._http.body import too_large
from .._http.policy import check_url
from .._http.seam import httpx
from .._manifest.model import Authentication, OperationSpec, Service
from .pagination import PageLimits, next_cursor, next_link
from .ratelimit import (
    RateLimitBucket,
    RateLimiter,
    declared_limit,
    rate_limit_delay,
)
from .requests import DROP, render_body, render_headers, render_path, render_query
from .responses import api_message, decode_json, read_response

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = ["Call", "build_request"]


def build_request(call: Call, values: Mapping[str, Any]) -> httpx.Request:
    """The first request of a declarative operation, from its manifest and ``values``."""
    spec = call.operation.request
    assert spec is not None
    raw = call.operation.raw.get("request") or {}
    path = render_path(call.name, spec.path, values)
    base = call.client.base_url
    url = base.copy_with(raw_path=base.raw_path.rstrip(b"/") + path.encode("ascii"))
    params = render_query(raw.get("query") or {}, spec.query, values)
    pagination = call.operation.pagination
    if (pagination is not None and pagination.page_size_param and pagination.max_page_size
            and not any(k == pagination.page_size_param for k, _ in params)):
        size = pagination.max_page_size
        if call.limits.max_items is not None:
            size = min(size, call.limits.max_items)
        params.append((pagination.page_size_param, str(size)))
    call.own_headers = render_headers(call.name, spec.headers, values)
    kwargs: dict[str, Any] = {"params": params, "headers": call.own_headers}
    if spec.body is not None:
        body = render_body(spec.body, values)
        kwargs["json"] = None if body is DROP else body
    return call.client.build_request(spec.method, url, **kwargs)


@dataclass
class Call:
    """One operation call's state: who, with which client, within which bounds."""

    runtime: Runtime
    name: str
    service: Service
    operation: OperationSpec
    authentication: Authentication
    client: httpx.AsyncClient
    limiter: RateLimiter
    limits: PageLimits
    secrets: Sequence[str]
    own_headers: dict[str, str] = field(default_factory=dict)
    bucket: RateLimitBucket | None = None

    def error(self, message: str, *, status: int | None = None,
              provider: str | None = None) -> APIError:
        return APIError(
            f"service '{self.service.id}' operation '{self.name}' (authentication"
            f" '{self.authentication.name}'): {message}",
            service=self.service.id, authentication=self.authentication.name,
            operation=self.name, status=status, provider_message=provider)

    def scrub(self, response: httpx.Response) -> tuple[str, ...]:
        """Secrets plus the token header values actually sent with this response's request."""
        sent = []
        for header in self.service.auth.headers:
            value = response.request.headers.get(header)
            if value:
                sent.append(value)
                sent.extend(p for p in value.split() if len(p) >= 8)
        return (*self.secrets, *sent)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send with rate-limit waits; ``APIError`` for a failure, the response otherwise.

        With a shared bucket (the operation declares ``rate_limit``) each attempt first
        waits for its slot, which never counts against ``max_waits``; only a 429 does."""
        limit = declared_limit(self.service, self.operation)
        while True:
            response = await self._attempt(request)
            delay = rate_limit_delay(response.status_code, response.headers,
                                     now=self.limiter.now(), limit=limit)
            if delay is not None:
                said = api_message(response, self.scrub(response))
                if self.bucket is None:
                    await self.limiter.wait(delay, status=response.status_code,
                                            provider_message=said)
                else:  # counted here, slept by the bucket, which holds every caller
                    self.limiter.count(delay, status=response.status_code,
                                       provider_message=said)
                continue
            if response.status_code >= 400:
                said = api_message(response, self.scrub(response))
                reason = response.reason_phrase or "error"
                raise self.error(
                    f"the API answered {response.status_code} {reason}"
                    + (f": {said}" if said else ""), status=response.status_code, provider=said)
            return response

    async def _attempt(self, request: httpx.Request) -> httpx.Response:
        """One request: its pacing wait first, the bucket settled with the answer."""
        bucket = self.bucket
        if bucket is not None:
            await self.limiter.pause(await bucket.reserve(1.0, now=self.limiter.now()))
        status: int | None = None
        headers: Mapping[str, str] = {}
        try:
            response = await self._send_bounded(request)
            status, headers = response.status_code, response.headers
        except httpx.TimeoutException:
            raise self.error(f"{request.url.host} did not answer in time; retry later or"
                             " raise the runtime's HttpSettings.timeout") from None
        except httpx.TransportError as exc:
            raise self.error(f"could not reach {request.url.host} ({type(exc).__name__});"
                             " check the network") from None
        finally:
            if bucket is not None:
                await bucket.settle(1.0, status, headers, now=self.limiter.now())
        return response

    async def _send_bounded(self, request: httpx.Request) -> httpx.Response:
        """A runaway answer (over ``HttpSettings.max_response_bytes`` decoded) or a damaged
        one fails the operation instead of filling the memory; a server that drips its
        answer is cut off at ``HttpSettings.timeout`` for the whole exchange."""
        http = self.runtime.http

        def incomplete(response: httpx.Response, damaged: str | None) -> Exception:
            what = (f"the API's answer has a damaged {damaged} coding" if damaged
                    else too_large(http.max_response_bytes, "max_response_bytes"))
            return self.error(what, status=response.status_code)

        return await read_response(self.client, request, limit=http.max_response_bytes,
                                   seconds=http.timeout, incomplete=incomplete)

    async def fetch(self, request: httpx.Request) -> tuple[httpx.Response, Any]:
        response = await self.send(request)
        return response, decode_json(response, lambda: self.error(
            f"the API answered {response.status_code} with a body that is not JSON",
            status=response.status_code))

    def next_request(
        self, previous: httpx.Request, response: httpx.Response, body: Any
    ) -> httpx.Request | None:
        spec = self.operation.pagination
        assert spec is not None
        if spec.style == "cursor":
            cursor = next_cursor(body, spec)
            if cursor is None or spec.cursor_param is None:
                return None
            if previous.url.params.get(spec.cursor_param) == cursor:
                return None  # the same cursor again would loop forever
            url = previous.url.copy_set_param(spec.cursor_param, cursor)
            return self.client.build_request(previous.method, url, headers=self.own_headers)
        link = next_link(response)
        if link is None:
            return None
        base = self.client.base_url
        url = check_url(link, service=self.service.id, url_name="pagination link",
                        allowed_hosts=self.service.allowed_hosts,
                        allow_loopback=self.runtime.http.allow_loopback,
                        allowed_ports=() if base.port is None else (base.port,),
                        path_prefix=base.path.rstrip("/") + "/")
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            # *.myshopify.com allows every shop; the token of this one must not go to another
            raise self.error("the pagination link points at another host than the one the"
                             " operation called; refusing to send this authentication's"
                             " token there")
        return self.client.build_request("GET", url, headers=self.own_headers)
