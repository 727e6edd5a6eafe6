"""One page of a listing and where the next one starts, for callers that page themselves.

``call_operation`` reads a whole listing and ``stream_items`` hands its items out one by
one; both hold the listing's position inside one call. A caller that returns between pages
(an AI agent's tool call, a durable workflow step) needs the position as a value instead:
``call_page`` returns one page and ``Page.next``, and a later ``call_page(..., after=next)``
with the same input continues there. What callers may rely on:

* everything ``call_operation`` guarantees holds for each page: input validation before
  anything is sent, the network policy, rate-limit waits, retries, error messages;
* ``next`` is the provider's cursor (``cursor`` style) or the ``Link`` URL of the next page
  (``link`` style), ``None`` after the last page. An ``after`` is turned into a request by
  the same code that follows a cursor or a ``Link`` the API sent
  (``exchange.Call.next_request``): a ``Link``-style ``after`` must pass the network policy,
  stay on the host, port and base path of the call, and is refused otherwise;
* ``next`` says where the API said to go; it is not authenticated. A caller handing it to
  someone who may alter it (a language model) must sign it and check the signature before
  passing it back, as the MCP server does;
* an operation without pagination returns its whole output with ``next`` None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import OperationError
from .._http.seam import httpx
from .calls import _open_call, _output, _prepare_off_loop
from .exchange import Call, build_request
from .pagination import PageLimits, PaginationError, nest, page_items
from .ratelimit import RateLimitPolicy

if TYPE_CHECKING:
    from .._manifest.model import Authentication
    from .._runtime.runtime import Runtime

__all__ = ["Page", "call_page"]

#: What a continuation may contain: a cursor or an absolute URL, never header syntax.
_CONTINUATION = re.compile(r"[!#-;=?-\[\]-~]{1,4096}")


@dataclass(frozen=True, slots=True)
class Page:
    """One page: ``output`` shaped like ``call_operation``'s (``{"data": [...]}``) but holding
    this page's items only, and ``next``, the ``after`` of the next page (None at the end)."""

    output: Any
    next: str | None


async def call_page(
    runtime: Runtime,
    operation: str,
    authentication: str | Authentication,
    input: Mapping[str, Any],
    *,
    after: str | None = None,
    limits: PageLimits | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RateLimitPolicy | None = None,
) -> Page:
    """One page of ``operation``: the first, or the one ``after`` (a ``Page.next``) names.

    ``limits.max_items`` sets the page size the SDK asks for (where the operation has a
    page-size parameter the input does not set); the page is returned whole. Raises what
    ``call_operation`` raises, and ``OperationError`` for an ``after`` that does not
    continue this operation's listing.
    """
    prepared = await _prepare_off_loop(runtime, operation, authentication, input)
    async with _open_call(runtime, prepared, limits, client, policy) as call:
        spec = call.operation.pagination
        if spec is None or call.operation.handler is not None:
            if after is not None:
                raise OperationError(
                    f"operation '{call.name}' has no pages: call it without a continuation",
                    operation=call.name)
            return Page(await _output(call, prepared.values), None)
        first = build_request(call, prepared.values)
        request = first if after is None else _resume(call, first, after)
        response, body = await call.fetch(request)
        try:
            items = page_items(body, spec)
        except PaginationError as exc:
            raise call.error(f"unexpected page: {exc}; the manifest's pagination block does"
                             " not match the API's answer") from None
        following = call.next_request(request, response, body) if items else None
        return Page(nest(spec.items_path, items), _continuation(call, following))


def _resume(call: Call, first: httpx.Request, after: str) -> httpx.Request:
    """The request ``after`` leads to, built as if the API had just sent it."""
    spec = call.operation.pagination
    assert spec is not None
    if not _CONTINUATION.fullmatch(after):
        raise _not_a_continuation(call)
    if spec.style == "cursor":
        sent = httpx.Response(200, request=first)
        request = call.next_request(first, sent, nest(spec.cursor_path, after))
    else:
        sent = httpx.Response(200, headers={"Link": f'<{after}>; rel="next"'}, request=first)
        request = call.next_request(first, sent, None)
    if request is None:
        raise _not_a_continuation(call)
    return request


def _continuation(call: Call, following: httpx.Request | None) -> str | None:
    spec = call.operation.pagination
    if following is None or spec is None:
        return None
    if spec.style == "cursor":
        assert spec.cursor_param is not None
        cursor: str | None = following.url.params.get(spec.cursor_param)
        return cursor
    return str(following.url)


def _not_a_continuation(call: Call) -> OperationError:
    return OperationError(
        f"operation '{call.name}': the continuation does not lead to a next page of this"
        " listing; start again from the first page", operation=call.name)
