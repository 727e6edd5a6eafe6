"""An API's answer to an operation: its body read within bounds, its error text shown safely.

What callers may rely on:

* ``read_response`` reads at most ``limit`` decoded bytes of the body and closes the
  response; a larger answer raises the caller's error instead of filling the memory;
* ``provider_message`` is the provider's own error text (Twitch ``message``, Shopify
  ``errors`` string/list/mapping, OAuth-style ``error``/``error_description``, a plain-text
  first line), whitespace-collapsed, scrubbed of the given secrets and shortened;
* ``decode_json`` is None for an empty body and raises the caller's error for a body that
  is not JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .._http.redact import redact
from .._http.seam import httpx

__all__ = ["MESSAGE_LIMIT", "decode_json", "provider_message", "read_response"]

MESSAGE_LIMIT = 300
_SPACE = re.compile(r"\s+")


async def read_response(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    limit: int,
    too_large: Callable[[httpx.Response], Exception],
) -> httpx.Response:
    """Send ``request`` and read at most ``limit`` bytes of the (decoded) body.

    The answer comes back fully read, without ``content-encoding``/``content-length``
    (the content is already decoded). ``too_large(response)`` is raised past the limit.
    """
    response = await client.send(request, stream=True)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_large(response)
            chunks.append(chunk)
    finally:
        await response.aclose()
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                          request=response.request, extensions=response.extensions)


def decode_json(response: httpx.Response, not_json: Callable[[], Exception]) -> Any:
    """The JSON body of ``response`` (None when empty); ``not_json()`` is raised otherwise."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise not_json() from None


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
