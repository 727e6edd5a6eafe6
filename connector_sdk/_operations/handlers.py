"""Operations implemented in Python: the context a plugin's handler receives, and its call.

A handler is registered by a plugin (``register_operation_handlers``) under
``"<service>.<handler>"`` and called as ``handler(context, values)``, sync (in a thread) or
async. A ``ConnectorSDKError`` it raises passes through; any other exception becomes an
``OperationError`` naming the plugin and the exception's type and message, for the plugin's
author, with its traceback as a note the CLI shows with ``--debug``; never a traceback for
the user. Both are redacted of the authentication's secrets.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import APIError, ConnectorSDKError, OperationError
from .._http.messages import MESSAGE_LIMIT, shown_text
from .._http.seam import httpx
from .._manifest.model import Authentication, OperationSpec, Service
from .exchange import Call

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = ["OperationContext", "run_handler"]


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
    _call: Call | None = field(default=None, repr=False)

    def _state(self) -> Call:
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
        """An ``APIError`` for this call. ``message`` and ``provider_message`` may quote the
        provider as they like: both pass the SDK's one ``shown_text`` here (the
        authentication's secrets redacted in every encoding, control characters escaped,
        ``provider_message`` cut to ``MESSAGE_LIMIT`` characters)."""
        call = self._state()
        said = shown_text(provider_message, call.secrets) if provider_message else None
        text = shown_text(message, call.secrets, 4 * MESSAGE_LIMIT)
        return call.error(text, status=status, provider=said)


def _handler(call: Call) -> Callable[..., Any]:
    key = f"{call.service.id}.{call.operation.handler}"
    handler = call.runtime.services.handlers.get(key)
    if handler is None:
        provider = call.service.distribution or call.service.plugin or "its connector plugin"
        raise OperationError(
            f"operation '{call.name}' is implemented by the Python handler '{key}', which no"
            f" loaded plugin registered: install or update {provider} (it declares service"
            f" '{call.service.id}') and check `connector-sdk plugins`", operation=call.name)
    return handler


async def run_handler(call: Call, values: dict[str, Any]) -> Any:
    """Call the operation's registered handler and return its output."""
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
        raise _handler_error(call, exc) from exc
    return result


def _handler_error(call: Call, exc: Exception) -> OperationError:
    """The ``OperationError`` for a handler that raised ``exc``: its type and message (the
    authentication's secrets redacted) for the plugin's author, and, as a note the CLI
    prints with ``--debug``, its traceback, redacted the same way."""
    import traceback

    from .._http.redact import redact

    plugin = call.service.plugin or "?"
    where = f"{plugin}, {call.service.distribution}" if call.service.distribution else plugin
    error = OperationError(
        f"operation '{call.name}': the handler of plugin '{where}' raised"
        f" {type(exc).__name__}: {shown_text(str(exc), call.secrets) or '(no message)'};"
        " an error in the plugin: rerun with --debug (or CONNECTOR_SDK_DEBUG=1) for its"
        " traceback, and report it to the plugin's authors if it is not yours",
        operation=call.name)
    text = "".join(traceback.format_exception(exc))
    error.add_note("the handler's traceback (secrets redacted):\n"
                   + redact(text, call.secrets).rstrip())
    return error
