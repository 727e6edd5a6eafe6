"""Running an operation: validate the input, build the request, send it, page, wait, report.

An operation (``twitch.get_users``) is either a declarative request from its manifest or a
Python handler a plugin registered (``register_operation_handlers``). What callers may rely on:

* the input is checked against the operation's input schema before anything is sent (not
  even a token request); ``OperationError`` lists every invalid field by JSON path, never a
  value. Validators are built once per operation and reused; patterns run in RE2, and an
  input with more than 4,096 characters of text is checked in a worker thread, so checking
  a megabyte never stalls the event loop;
* a value placed in the path is percent-encoded as one segment (``/``, ``?``, ``#`` encoded;
  empty, ``.`` and ``..`` refused); the query string is built by httpx from pairs, an absent
  or null input drops its parameter and a list repeats it (``login=a&login=b``);
* every request, including every pagination ``Link``, passes the network policy;
* HTTP errors raise ``APIError`` with the provider's message (Twitch's ``message``, Shopify's
  ``errors`` string, list or mapping), shortened and scrubbed of the authentication's secrets;
  rate limits are waited out within ``RateLimitPolicy`` bounds, then ``RateLimitError``;
* an operation that declares ``scopes`` is refused with ``MissingScopesError`` before any
  API request when its token was not granted them (``scopes.py``);
* a paginated operation's output is ``{items_path: [every item]}``; ``stream_items`` hands
  the items out one by one, fetching each page only when the previous one is consumed.

When a ``client`` is passed (the workflow runner shares one ``AsyncClient`` per authentication)
it is used and left open; otherwise one is opened from the runtime and closed afterwards.

This module orchestrates a call; the HTTP exchange is ``exchange.Call``, Python handlers run
in ``handlers``, and the body is read and the provider's error text taken in ``responses``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._auth.request import secret_strings
from .._errors import AuthenticationMismatch
from .._http.seam import httpx
from .._manifest.model import Authentication, OperationSpec, Service
from .._runtime.sync import run_sync
from .._telemetry import operation_unit
from .exchange import Call, build_request
from .handlers import OperationContext, run_handler
from .inputs import OFF_LOOP_TEXT, text_size, validate_input
from .pagination import PageLimits, PaginationError, iterate_items, nest
from .ratelimit import RateLimiter, RateLimitPolicy, bucket_for
from .scopes import missing_scopes, refuse_ungranted, refuse_unobtainable

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = [
    "OperationContext",
    "PageLimits",
    "RateLimitPolicy",
    "call_operation",
    "call_operation_sync",
    "missing_scopes",
    "stream_items",
    "validate_input",
]


# -- public API ------------------------------------------------------------------------------


@dataclass
class _Prepared:
    name: str
    service: Service
    operation: OperationSpec
    authentication: Authentication
    values: dict[str, Any]


def _prepare(
    runtime: Runtime, operation: str, authentication: str | Authentication, input: Any,
    *, values: dict[str, Any] | None = None,
) -> _Prepared:
    service, spec = runtime.services.operation(operation)
    name = f"{service.id}.{spec.id}"
    values = validate_input(name, spec, input) if values is None else values
    if isinstance(authentication, Authentication):
        auth = authentication
        if auth.service.id != service.id:
            raise AuthenticationMismatch(
                f"operation '{name}': authentication '{auth.name}' is for service"
                f" '{auth.service.id}'; use an authentication of service '{service.id}'",
                name=auth.name, service=auth.service.id, expected=service.id)
    else:
        auth = runtime.resolve_authentication(authentication, service.id)
    refuse_unobtainable(name, spec, auth)
    return _Prepared(name, service, spec, auth, values)


@contextlib.asynccontextmanager
async def _open_call(
    runtime: Runtime,
    prepared: _Prepared,
    limits: PageLimits | None,
    client: httpx.AsyncClient | None,
    policy: RateLimitPolicy | None,
    *,
    traced: bool = True,
) -> AsyncIterator[Call]:
    """The call's state and client; with ``traced``, its operation span and log fields
    around the caller's block (``stream_items`` yields between pages, so it has none)."""
    if prepared.operation.scopes:  # the token the client would attach, from the same cache
        token = await runtime.aget_token(prepared.authentication)
        refuse_ungranted(prepared.name, prepared.operation, prepared.authentication,
                         token.scopes)
    owned = client is None
    active = runtime.async_client(prepared.authentication) if client is None else client
    call = Call(
        runtime=runtime, name=prepared.name, service=prepared.service,
        operation=prepared.operation, authentication=prepared.authentication, client=active,
        limiter=RateLimiter(policy or RateLimitPolicy(), service=prepared.service.id,
                            operation=prepared.name,
                            authentication=prepared.authentication.name),
        limits=limits or PageLimits(), secrets=secret_strings(prepared.authentication),
        bucket=bucket_for(runtime, prepared.authentication, prepared.operation))
    try:
        with operation_unit(call) if traced else contextlib.nullcontext():
            yield call
    finally:
        # A transport the runtime was given (sandbox routing) belongs to the runtime.
        if owned and runtime.http.async_transport is None:
            await active.aclose()


async def _items(call: Call, values: dict[str, Any]) -> AsyncIterator[Any]:
    spec = call.operation.pagination
    assert spec is not None
    first = build_request(call, values)
    try:
        async for item in iterate_items(first, spec, call.fetch, call.next_request, call.limits):
            yield item
    except PaginationError as exc:
        raise call.error(f"unexpected page: {exc}; the manifest's pagination block does not"
                         " match the API's answer") from None


async def _output(call: Call, values: dict[str, Any]) -> Any:
    if call.operation.handler is not None:
        return await run_handler(call, values)
    if call.operation.pagination is not None:
        items = [item async for item in _items(call, values)]
        return nest(call.operation.pagination.items_path, items)
    _, body = await call.fetch(build_request(call, values))
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
    ``RateLimitError`` (still limited after the policy's waits), ``NetworkPolicyError``,
    ``AuthenticationMismatch`` (an authentication of another service).
    ``policy`` bounds the rate-limit waits of this call (default ``RateLimitPolicy()``).
    """
    prepared = await _prepare_off_loop(runtime, operation, authentication, input)
    async with _open_call(runtime, prepared, limits, client, policy) as call:
        return await _output(call, prepared.values)


async def _prepare_off_loop(
    runtime: Runtime, operation: str, authentication: str | Authentication, input: Any
) -> _Prepared:
    """``_prepare``, with a large input checked in a worker thread: matching a pattern costs
    time in proportion to the text (RE2 is linear, and releases the GIL), so the event loop
    keeps running while a megabyte is checked."""
    if text_size(input, OFF_LOOP_TEXT) <= OFF_LOOP_TEXT:
        return _prepare(runtime, operation, authentication, input)
    service, spec = runtime.services.operation(operation)
    values = await asyncio.to_thread(validate_input, f"{service.id}.{spec.id}", spec, input)
    return _prepare(runtime, operation, authentication, input, values=values)


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
        async with _open_call(runtime, prepared, limits, client, policy,
                              traced=False) as call:
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

    Inside a running event loop, raises ``EventLoopError``: await ``call_operation`` there.
    """
    return run_sync(
        lambda: call_operation(runtime, operation, authentication, input, limits=limits,
                               policy=policy),
        entry_point="call_operation_sync", use="call_operation", about=f"operation '{operation}'")
