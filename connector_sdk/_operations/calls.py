"""Running an operation: validate the input, build the request, send it, page, wait, report.

An operation (``twitch.get_users``) is either a declarative request from its manifest or a
Python handler a plugin registered (``register_operation_handlers``). What callers may rely on:

* the input is checked against the operation's input schema before anything is sent (not
  even a token request); ``OperationError`` lists every invalid field by JSON path, never a
  value. Validators are built once per operation and reused;
* a value placed in the path is percent-encoded as one segment (``/``, ``?``, ``#`` encoded;
  empty, ``.`` and ``..`` refused); the query string is built by httpx from pairs, an absent
  or null input drops its parameter and a list repeats it (``login=a&login=b``);
* every request, including every pagination ``Link``, passes the network policy;
* HTTP errors raise ``APIError`` with the provider's message (Twitch's ``message``, Shopify's
  ``errors`` string, list or mapping), shortened and scrubbed of the authentication's secrets;
  rate limits are waited out within ``RateLimitPolicy`` bounds, then ``RateLimitError``;
* a paginated operation's output is ``{items_path: [every item]}``; ``stream_items`` hands
  the items out one by one, fetching each page only when the previous one is consumed.

When a ``client`` is passed (the workflow runner shares one ``AsyncClient`` per authentication)
it is used and left open; otherwise one is opened from the runtime and closed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._auth.request import secret_strings
from .._auth.response import redact
from .._errors import APIError, ConnectorSDKError, OperationError
from .._http.policy import check_url
from .._http.seam import httpx
from .._manifest.model import Authentication, OperationSpec, Service
from .inputs import validate_input
from .pagination import (
    PageLimits,
    PaginationError,
    iterate_items,
    nest,
    next_cursor,
    next_link,
)
from .ratelimit import RateLimiter, RateLimitPolicy, pace_delay, rate_limit_delay
from .requests import (
    DROP,
    render_body,
    render_headers,
    render_path,
    render_query,
)

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = [
    "OperationContext",
    "PageLimits",
    "RateLimitPolicy",
    "call_operation",
    "call_operation_sync",
    "provider_message",
    "stream_items",
    "validate_input",
]

MESSAGE_LIMIT = 300
_SPACE = re.compile(r"\s+")


def _build_request(
    call: _Call, values: Mapping[str, Any]
) -> httpx.Request:
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


# -- sending ---------------------------------------------------------------------------------


def provider_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str | None:
    """The provider's own error text from a response body, shortened and scrubbed.

    Twitch: ``{"error","status","message"}``; Shopify: ``{"errors": "..." | [...] | {...}}``;
    OAuth-style ``{"error","error_description"}``; a plain-text body's first line.
    """
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    text: str | None = None
    if isinstance(body, dict):
        if "errors" in body:
            text = _errors_text(body["errors"])
        elif isinstance(body.get("message"), str) and body["message"].strip():
            text = body["message"]
        elif isinstance(body.get("error"), str):
            text = body["error"]
            if isinstance(body.get("error_description"), str):
                text += ": " + body["error_description"]
        else:  # a shape we do not know: show it rather than nothing
            text = json.dumps(body, ensure_ascii=False)
    elif body is None and response.headers.get("content-type", "").startswith("text/plain"):
        lines = response.text.strip().splitlines()
        text = lines[0] if lines else None
    if not text:
        return None
    text = _SPACE.sub(" ", redact(text, secrets)).strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3].rstrip() + "..."


def _errors_text(errors: Any) -> str | None:
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        texts = [e.get("message") if isinstance(e, dict) else e for e in errors]
        return "; ".join(t for t in texts if isinstance(t, str)) or None
    if isinstance(errors, dict):
        parts: list[str] = []
        for key, value in errors.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {', '.join(str(v) for v in values)}")
        return "; ".join(parts) or None
    return None


@dataclass
class _Call:
    """One operation call's state: who, with which client, within which bounds."""

    runtime: Runtime
    name: str
    service: Service
    operation: OperationSpec
    authentication: Authentication
    client: httpx.AsyncClient
    limiter: RateLimiter
    limits: PageLimits
    secrets: tuple[str, ...]
    pause: float = 0.0
    own_headers: dict[str, str] = field(default_factory=dict)

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
        """Send with rate-limit waits; ``APIError`` for a failure, the response otherwise."""
        while True:
            if self.pause > 0:
                pause, self.pause = self.pause, 0.0
                await self.limiter.pause(pause)
            try:
                response = await self._send_bounded(request)
            except httpx.TimeoutException:
                raise self.error(f"{request.url.host} did not answer in time; retry later or"
                                 " raise the runtime's HttpSettings.timeout") from None
            except httpx.TransportError as exc:
                raise self.error(f"could not reach {request.url.host} ({type(exc).__name__});"
                                 " check the network") from None
            delay = rate_limit_delay(response.status_code, response.headers,
                                     now=self.limiter.now())
            if delay is not None:
                await self.limiter.wait(delay, status=response.status_code,
                                        provider_message=provider_message(
                                            response, self.scrub(response)))
                continue
            if response.status_code >= 400:
                said = provider_message(response, self.scrub(response))
                reason = response.reason_phrase or "error"
                raise self.error(
                    f"the API answered {response.status_code} {reason}"
                    + (f": {said}" if said else ""), status=response.status_code, provider=said)
            self.pause = pace_delay(response.headers, now=self.limiter.now())
            return response

    async def _send_bounded(self, request: httpx.Request) -> httpx.Response:
        """Send and read at most ``HttpSettings.max_response_bytes`` of the (decoded) body:
        a runaway answer fails the operation instead of filling the memory."""
        limit = self.runtime.http.max_response_bytes
        response = await self.client.send(request, stream=True)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self.error(
                        f"the API's answer is larger than {limit} bytes; raise"
                        " HttpSettings.max_response_bytes if it is expected",
                        status=response.status_code)
                chunks.append(chunk)
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                              request=response.request, extensions=response.extensions)

    async def fetch(self, request: httpx.Request) -> tuple[httpx.Response, Any]:
        response = await self.send(request)
        if not response.content:
            return response, None
        try:
            return response, json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise self.error(f"the API answered {response.status_code} with a body that is not"
                             " JSON", status=response.status_code) from None

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


# -- handlers --------------------------------------------------------------------------------


@dataclass
class OperationContext:
    """What a Python handler receives first: who is calling, and an authenticated client.

    ``client`` has the service's base URL, attaches the token and checks every URL against
    the network policy. ``request`` sends through it with the SDK's rate-limit waits and
    error reporting; ``rate_limited`` spends one wait of the call's budget for a limit the
    handler detected itself (Shopify GraphQL ``THROTTLED``); ``error`` makes an ``APIError``
    naming the service, operation and authentication.
    """

    runtime: Runtime
    authentication: Authentication
    service: Service
    operation: OperationSpec
    client: httpx.AsyncClient
    _call: _Call | None = field(default=None, repr=False)

    def _state(self) -> _Call:
        if self._call is None:
            raise OperationError("this OperationContext is not attached to a running call")
        return self._call

    async def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        """``client.request`` with rate-limit waits; ``APIError`` for a 4xx/5xx answer."""
        call = self._state()
        return await call.send(call.client.build_request(method, url, **kwargs))

    async def rate_limited(self, delay: float, *, provider_message: str | None = None) -> None:
        """Wait ``delay`` seconds (capped) or raise ``RateLimitError`` when out of waits."""
        await self._state().limiter.wait(delay, status=None, provider_message=provider_message)

    def error(self, message: str, *, status: int | None = None,
              provider_message: str | None = None) -> APIError:
        return self._state().error(message, status=status, provider=provider_message)


def _handler(call: _Call) -> Callable[..., Any]:
    key = f"{call.service.id}.{call.operation.handler}"
    handler = call.runtime.services.handlers.get(key)
    if handler is None:
        provider = call.service.distribution or call.service.plugin or "its connector plugin"
        raise OperationError(
            f"operation '{call.name}' is implemented by the Python handler '{key}', which no"
            f" loaded plugin registered: install or update {provider} (it declares service"
            f" '{call.service.id}') and check `connector-sdk plugins`", operation=call.name)
    return handler


async def _run_handler(call: _Call, values: dict[str, Any]) -> Any:
    handler = _handler(call)
    context = OperationContext(call.runtime, call.authentication, call.service,
                               call.operation, call.client, call)
    try:
        if inspect.iscoroutinefunction(handler):
            result = await handler(context, values)
        else:
            result = await asyncio.to_thread(handler, context, values)
        if inspect.isawaitable(result):
            result = await result
    except ConnectorSDKError:
        raise
    except Exception as exc:
        raise OperationError(
            f"operation '{call.name}': the handler of plugin '{call.service.plugin}' failed"
            f" ({type(exc).__name__}); this is a bug in the plugin, report it",
            operation=call.name) from exc
    return result


# -- public API ------------------------------------------------------------------------------


@dataclass
class _Prepared:
    name: str
    service: Service
    operation: OperationSpec
    authentication: Authentication
    values: dict[str, Any]


def _prepare(
    runtime: Runtime, operation: str, authentication: str | Authentication, input: Any
) -> _Prepared:
    service, spec = runtime.services.operation(operation)
    name = f"{service.id}.{spec.id}"
    values = validate_input(name, spec, input)
    if isinstance(authentication, Authentication):
        auth = authentication
        if auth.service.id != service.id:
            raise OperationError(
                f"operation '{name}': authentication '{auth.name}' is for service"
                f" '{auth.service.id}'; use an authentication of service '{service.id}'",
                operation=name)
    else:
        auth = runtime.resolve_authentication(authentication, service.id)
    return _Prepared(name, service, spec, auth, values)


def _policy(runtime: Runtime, policy: RateLimitPolicy | None) -> RateLimitPolicy:
    found = policy or getattr(runtime, "rate_limit_policy", None)
    return found if isinstance(found, RateLimitPolicy) else RateLimitPolicy()


@contextlib.asynccontextmanager
async def _open_call(
    runtime: Runtime,
    prepared: _Prepared,
    limits: PageLimits | None,
    client: httpx.AsyncClient | None,
    policy: RateLimitPolicy | None,
) -> AsyncIterator[_Call]:
    owned = client is None
    active = runtime.async_client(prepared.authentication) if client is None else client
    call = _Call(
        runtime=runtime, name=prepared.name, service=prepared.service,
        operation=prepared.operation, authentication=prepared.authentication, client=active,
        limiter=RateLimiter(_policy(runtime, policy), service=prepared.service.id,
                            operation=prepared.name,
                            authentication=prepared.authentication.name),
        limits=limits or PageLimits(), secrets=secret_strings(prepared.authentication))
    try:
        yield call
    finally:
        # A transport the runtime was given (sandbox routing) belongs to the runtime.
        if owned and runtime.http.async_transport is None:
            await active.aclose()


async def _items(call: _Call, values: dict[str, Any]) -> AsyncIterator[Any]:
    spec = call.operation.pagination
    assert spec is not None
    first = _build_request(call, values)
    try:
        async for item in iterate_items(first, spec, call.fetch, call.next_request, call.limits):
            yield item
    except PaginationError as exc:
        raise call.error(f"unexpected page: {exc}; the manifest's pagination block does not"
                         " match the API's answer") from None


async def _output(call: _Call, values: dict[str, Any]) -> Any:
    if call.operation.handler is not None:
        return await _run_handler(call, values)
    if call.operation.pagination is not None:
        items = [item async for item in _items(call, values)]
        return nest(call.operation.pagination.items_path, items)
    _, body = await call.fetch(_build_request(call, values))
    return body


async def call_operation(
    runtime: Runtime,
    operation: str,
    authentication: str | Authentication,
    input: Mapping[str, Any],
    *,
    limits: PageLimits | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RateLimitPolicy | None = None,
) -> Any:
    """Run ``operation`` (``"service.operation"``) and return its JSON-ready output.

    A paginated operation returns ``{items_path: [every item within limits]}``, e.g.
    ``{"data": [...]}``. ``authentication`` is a name (resolved with
    ``runtime.resolve_authentication``) or an ``Authentication``. Raises ``OperationError``
    (unknown operation, invalid input, missing handler), ``APIError`` (HTTP failure),
    ``RateLimitError`` (still limited after the policy's waits), ``NetworkPolicyError``.
    ``policy`` defaults to ``runtime.rate_limit_policy`` when set, else ``RateLimitPolicy()``.
    """
    prepared = _prepare(runtime, operation, authentication, input)
    async with _open_call(runtime, prepared, limits, client, policy) as call:
        return await _output(call, prepared.values)


def stream_items(
    runtime: Runtime,
    operation: str,
    authentication: str | Authentication,
    input: Mapping[str, Any],
    *,
    limits: PageLimits | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RateLimitPolicy | None = None,
) -> AsyncGenerator[Any, None]:
    """The items of a paginated operation one by one, each page fetched when needed.

    The operation and input are checked now (errors raise here, before iteration); requests
    start on the first ``__anext__``. Nothing is retained: memory stays flat whatever the
    listing's length. An operation without pagination yields its whole output once. Close
    the iterator when stopping early (``contextlib.aclosing``) so an owned client closes.
    """
    prepared = _prepare(runtime, operation, authentication, input)

    async def generate() -> AsyncGenerator[Any, None]:
        async with _open_call(runtime, prepared, limits, client, policy) as call:
            if call.operation.pagination is None or call.operation.handler is not None:
                yield await _output(call, prepared.values)
                return
            async for item in _items(call, prepared.values):
                yield item

    return generate()


def call_operation_sync(
    runtime: Runtime,
    operation: str,
    authentication: str | Authentication,
    input: Mapping[str, Any],
    *,
    limits: PageLimits | None = None,
    policy: RateLimitPolicy | None = None,
) -> Any:
    """``call_operation`` for synchronous callers (runs its own event loop).

    Inside a running event loop, raises ``OperationError``: await ``call_operation`` there.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call_operation(runtime, operation, authentication, input,
                                          limits=limits, policy=policy))
    raise OperationError(f"call_operation_sync('{operation}') was called inside a running event"
                         " loop; use `await call_operation(...)` there", operation=operation)
