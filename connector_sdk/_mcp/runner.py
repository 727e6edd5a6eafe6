"""One tool call: the model's arguments in, the operation run, a redacted result out.

What callers may rely on:

* the authentication is the tool's bound one, or the one the model named from the tool's
  enum; an authentication is never taken from anywhere else, and none is ever shown;
* the operation runs through ``call_page``, so the input is validated before anything is
  sent, and the network policy, rate-limit waits, retries and the token's single flight
  apply as on every other path; a paginated tool returns one page and a signed
  ``next_cursor`` (``cursors``);
* every result and every error message passes through ``redact`` (the authentication's
  secrets, in any encoding, and the token it holds) before it leaves; a structured result
  is checked against the tool's published output schema, so a client that validates it
  never gets a result that breaks the promise;
* an error is a ``ToolOutcome`` with ``is_error`` and the SDK's own message (class name
  first): the model can read it and correct its call. A bug (any other exception) is
  reported by type only, its details go to the log when ``CONNECTOR_SDK_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._auth.request import secret_strings
from .._errors import ConnectorSDKError, OperationError
from .._http.redact import redact_data
from .._http.seam import httpx
from .._manifest.dialect import build_validator
from .._manifest.model import Authentication
from .._operations.pages import call_page
from .._operations.pagination import PageLimits
from .._operations.ratelimit import RateLimitPolicy
from .._problems import format_path
from .._secrets import json_default
from .._telemetry import get_logger
from .cursors import CursorSigner
from .tools import AUTHENTICATION_ARGUMENT, CURSOR_ARGUMENT, NEXT_CURSOR, ToolSpec

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = ["ToolOutcome", "ToolRunner", "redact"]

log = get_logger("connector_sdk.mcp")


def redact(value: Any, authentication: Authentication, token: str | None) -> Any:
    """``value`` (a JSON value or a message) with every form of ``authentication``'s
    secrets and of ``token`` masked, and token-carrying members masked: the one place tool
    results and errors are redacted."""
    extra = (token,) if token else ()
    return redact_data(value, secret_strings(authentication, *extra))


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool call answers: JSON text for the model, the structured value (an object)
    when there is one, and whether it is an error."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False


class ToolRunner:
    """Runs the exposed tools against one runtime; one HTTP client per authentication,
    opened on first use in the serving event loop and closed by ``aclose``.

    ``page_size`` caps the page size the SDK asks a paginated API for; ``policy`` bounds
    rate-limit waits (default ``RateLimitPolicy()``); ``signer`` seals cursors.
    """

    def __init__(
        self,
        runtime: Runtime,
        tools: Sequence[ToolSpec],
        *,
        page_size: int | None = None,
        policy: RateLimitPolicy | None = None,
        signer: CursorSigner | None = None,
    ) -> None:
        self.runtime = runtime
        self.tools: dict[str, ToolSpec] = {tool.name: tool for tool in tools}
        self.limits = PageLimits(max_items=page_size)
        self.policy = policy
        self.signer = signer or CursorSigner()
        self._validators = {
            tool.name: build_validator(tool.output_schema, name=f"tool '{tool.name}' output")
            for tool in tools if tool.output_schema is not None}
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> ToolOutcome | None:
        """The outcome of calling tool ``name``; None when there is no such tool. Never
        raises: an SDK error is a tool error with its (redacted) message, anything else a
        tool error naming only its type."""
        tool = self.tools.get(name)
        if tool is None:
            return None
        try:
            return await self._call(tool, dict(arguments or {}))
        except Exception as exc:  # a bug: never its text, which may quote anything
            log.error("tool %s failed with %s", name, type(exc).__name__,
                      exc_info=os.environ.get("CONNECTOR_SDK_DEBUG") == "1")
            return ToolOutcome(
                f"internal error ({type(exc).__name__}) in connector-sdk while running"
                f" {tool.operation}; this is a bug: report it", is_error=True)

    async def _call(self, tool: ToolSpec, args: dict[str, Any]) -> ToolOutcome:
        authentication = next(iter(tool.authentications.values()))
        try:
            authentication = self._authentication(tool, args)
            output = await self._run(tool, authentication, args)
        except ConnectorSDKError as exc:
            message = f"{type(exc).__name__}: {exc}"
            try:
                return ToolOutcome(self._redact(message, authentication), is_error=True)
            except ConnectorSDKError as unreadable:  # its secrets cannot be read to redact
                return ToolOutcome(f"{type(unreadable).__name__}: {unreadable}", is_error=True)
        output = self._redact(output, authentication)
        problem = self._check_output(tool, output)
        if problem is not None:
            return ToolOutcome(problem, is_error=True)
        text = json.dumps(output, ensure_ascii=False, default=json_default,
                          separators=(",", ":"))
        return ToolOutcome(text, output if isinstance(output, dict) else None)

    def _authentication(self, tool: ToolSpec, args: dict[str, Any]) -> Authentication:
        if not tool.chooses_authentication:
            return next(iter(tool.authentications.values()))
        chosen = args.pop(AUTHENTICATION_ARGUMENT, None)
        names = ", ".join(f"'{n}'" for n in tool.authentications)
        if not isinstance(chosen, str) or chosen not in tool.authentications:
            raise OperationError(
                f"tool '{tool.name}': give '{AUTHENTICATION_ARGUMENT}' as one of {names}",
                operation=tool.operation)
        return tool.authentications[chosen]

    async def _run(self, tool: ToolSpec, authentication: Authentication,
                   args: dict[str, Any]) -> Any:
        after = None
        cursor = args.pop(CURSOR_ARGUMENT, None) if tool.paginated else None
        if cursor is not None:
            continuation = self.signer.open(cursor, tool=tool.name,
                                            authentication=authentication.name)
            if args and args != continuation.arguments:
                raise OperationError(
                    f"tool '{tool.name}': this cursor continues a listing with other"
                    " arguments; repeat the arguments of the call that returned it (or give"
                    " only the cursor)", operation=tool.operation)
            args, after = continuation.arguments, continuation.after
        page = await call_page(self.runtime, tool.operation, authentication, args,
                               after=after, limits=self.limits,
                               client=self._client(authentication), policy=self.policy)
        if not tool.paginated:
            return page.output
        following = None if page.next is None else self.signer.seal(
            tool=tool.name, authentication=authentication.name, arguments=args,
            after=page.next)
        return {**page.output, NEXT_CURSOR: following}

    def _client(self, authentication: Authentication) -> httpx.AsyncClient:
        key = (authentication.service.id, authentication.name)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self.runtime.async_client(authentication)
        return client

    def _redact(self, value: Any, authentication: Authentication) -> Any:
        token = self.runtime.tokens.peek(authentication)
        return redact(value, authentication, token.access_token.reveal() if token else None)

    def _check_output(self, tool: ToolSpec, output: Any) -> str | None:
        validator = self._validators.get(tool.name)
        if validator is None:
            return None
        error = next(iter(validator.iter_errors(output)), None)
        if error is None:
            return None
        # the validator's message may quote the value: name the place and the rule only
        return (f"OperationError: the answer of {tool.operation} does not match the output"
                f" schema its manifest declares (at {format_path(tuple(error.absolute_path))}:"
                f" '{error.validator}'); this is a bug in the {tool.service.id} connector:"
                " report it")

    async def aclose(self) -> None:
        """Close the clients this runner opened (a transport the runtime was given, as in
        sandbox mode, belongs to the runtime and stays open)."""
        clients, self._clients = list(self._clients.values()), {}
        if self.runtime.http.async_transport is None:
            for client in clients:
                await client.aclose()
