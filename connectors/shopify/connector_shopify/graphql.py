"""The ``shopify.graphql`` operation: one Admin GraphQL request, throttling waited out.

Shopify answers a query over its cost budget with HTTP 200 and an ``errors`` entry whose
``extensions.code`` is ``THROTTLED``, plus ``extensions.cost`` saying how many points were
requested, how many are available and how fast they come back
(https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits). The
handler waits ``(requestedQueryCost - currentlyAvailable) / restoreRate`` seconds and asks
again, within the call's rate-limit budget; other GraphQL errors (a string or a list) become
``APIError`` with Shopify's messages. The output is the response's ``data``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["graphql", "throttle_delay"]

#: Wait when a THROTTLED answer carries no readable cost data.
_DEFAULT_WAIT = 1.0


def throttle_delay(body: Any) -> float | None:
    """Seconds a ``THROTTLED`` answer asks to wait, or None when the answer is not throttled.

    ``(requestedQueryCost - currentlyAvailable) / restoreRate`` from ``extensions.cost``;
    one second when the cost data is missing or unreadable.
    """
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return None
    if not any(isinstance(e, dict) and isinstance(e.get("extensions"), dict)
               and e["extensions"].get("code") == "THROTTLED" for e in body["errors"]):
        return None
    try:
        cost = body["extensions"]["cost"]
        status = cost["throttleStatus"]
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (TypeError, KeyError, ValueError):
        return _DEFAULT_WAIT
    if not (math.isfinite(requested) and math.isfinite(available) and math.isfinite(rate)
            and rate > 0):
        return _DEFAULT_WAIT
    return max(0.0, (requested - available) / rate)


def _messages(errors: Any) -> str:
    if isinstance(errors, str):
        text = errors
    elif isinstance(errors, list):
        parts = [e.get("message") if isinstance(e, dict) else e for e in errors]
        text = "; ".join(p for p in parts if isinstance(p, str)) or "unknown error"
    else:
        text = "unknown error"
    return text  # context.error redacts, escapes and shortens it (the SDK's one redactor)


async def graphql(context: Any, input: dict[str, Any]) -> Any:
    """POST ``{"query", "variables"}`` to ``graphql.json`` under the base URL; return ``data``.

    ``context`` is a ``connector_sdk`` ``OperationContext``: its client's base URL already
    carries the shop and the ``api_version`` parameter, so the path is relative.
    """
    payload: dict[str, Any] = {"query": input["query"], "variables": input.get("variables") or {}}
    if input.get("operation_name"):
        payload["operationName"] = input["operation_name"]
    while True:
        response = await context.request("POST", "graphql.json", json=payload)
        try:
            body = response.json()
        except ValueError:
            raise context.error("the GraphQL endpoint answered with a body that is not JSON",
                                status=response.status_code) from None
        delay = throttle_delay(body)
        if delay is not None:
            await context.rate_limited(delay, provider_message="Throttled")
            continue
        if not isinstance(body, dict):
            raise context.error("the GraphQL answer is not an object",
                                status=response.status_code)
        if body.get("errors"):
            said = _messages(body["errors"])
            raise context.error(f"GraphQL errors: {said}", status=response.status_code,
                                provider_message=said)
        return body.get("data")
