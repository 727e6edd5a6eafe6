"""An API's answer to an operation: its body read within bounds, its error text shown safely.

What callers may rely on:

* ``read_response`` sends the request through the one bounded reader (``_http/body.py``):
  connect, headers and body within ``seconds`` in total, at most ``limit`` *decoded* bytes
  (a gzip bomb stops at the limit); a larger answer or a damaged content coding raises the
  caller's error instead of filling the memory; the response is closed;
* ``api_message`` is the provider's own error text read by the one ``provider_message``
  (Twitch ``message``, Shopify ``errors`` string/list/mapping, OAuth-style
  ``error: error_description``, an HTML title, a plain-text first line): redacted in every
  encoding before it is cut, control characters escaped, at most ``MESSAGE_LIMIT`` long;
* ``decode_json`` is None for an empty body and raises the caller's error for a body that
  is not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._http.body import send_async
from .._http.messages import MESSAGE_LIMIT, provider_message
from .._http.seam import httpx

__all__ = ["MESSAGE_LIMIT", "api_message", "decode_json", "read_response"]


async def read_response(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    limit: int,
    seconds: float,
    incomplete: Callable[[httpx.Response, str | None], Exception],
) -> httpx.Response:
    """Send ``request`` and read its answer within bounds (``httpx.TimeoutException`` past
    the deadline). The answer comes back fully read and decoded, without
    ``content-encoding``/``content-length``. ``incomplete(response, damaged_coding)`` is
    raised past the limit (``None``) or for a damaged coding."""
    body = await send_async(client, request, limit=limit, seconds=seconds)
    if not body.complete:
        raise incomplete(body.response, body.damaged)
    return body.as_response()


def decode_json(response: httpx.Response, not_json: Callable[[], Exception]) -> Any:
    """The JSON body of ``response`` (None when empty); ``not_json()`` is raised otherwise."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise not_json() from None


def api_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str | None:
    """The provider's error text of an API answer, safe to show; None when it said nothing."""
    return provider_message(response.content, response.headers.get("content-type"),
                            secrets=secrets, limit=MESSAGE_LIMIT).joined
