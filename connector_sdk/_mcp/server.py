"""The MCP server: the derived tools behind the official SDK's low-level ``Server``, on stdio.

The low-level server (``mcp.server.lowlevel.Server``) is used rather than a decorator
framework because the tool definitions are data derived from manifests: their input and
output schemas, titles and annotations are published exactly as ``tools`` built them. A tool
error is a result with ``isError`` (the model reads it and can correct itself); only an
unknown tool name is a protocol error, as the MCP specification asks
(https://modelcontextprotocol.io/specification/2025-11-25/server/tools#error-handling).

This module and ``http`` are the only ones that import ``mcp``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from . import INSTALL_HINT

try:
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server
    from mcp.shared.exceptions import MCPError
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(f"the MCP server needs the optional extra: {INSTALL_HINT}") from exc

from .._version import __version__
from .runner import ToolRunner
from .tools import ToolSpec

__all__ = ["build_server", "serve_stdio"]

_NAME_SHOWN = 80


def _instructions(tools: Sequence[ToolSpec]) -> str:
    services = sorted({tool.service.title for tool in tools})
    return (
        f"These tools call {', '.join(services)} through connector-sdk, with credentials"
        " held by this server: no tool takes or shows a credential, and a tool that can act"
        " as several accounts takes the account's name as 'authentication'. Listings return"
        " one page and next_cursor; call again with the same arguments and 'cursor' to go"
        " on. Errors come back as tool results that say what to change.")


def build_server(runner: ToolRunner) -> Server[Any]:
    """A low-level MCP server that lists ``runner``'s tools and calls them through it."""
    tools = list(runner.tools.values())
    listed = types.ListToolsResult(
        tools=[types.Tool.model_validate(dict(tool.definition)) for tool in tools])
    schemas: Mapping[str, Any] = {tool.name: tool.definition["inputSchema"] for tool in tools}

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return listed

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        outcome = await runner.call(params.name, params.arguments)
        if outcome is None:
            raise MCPError(code=types.INVALID_PARAMS,
                           message=f"unknown tool {params.name[:_NAME_SHOWN]!r}: see tools/list")
        return types.CallToolResult(content=[types.TextContent(text=outcome.text)],
                                    structured_content=outcome.structured,
                                    is_error=outcome.is_error)

    return Server(
        "connector-sdk",
        version=__version__,
        title="connector-sdk",
        instructions=_instructions(tools),
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve on this process's stdin and stdout until the client closes stdin.

    stdout carries JSON-RPC to the client, not text for a terminal, so the CLI's escaping
    wrapper (``cli._output``) is set aside for the protocol: the SDK needs the real stream to
    claim its file descriptor (and points fd 1 at stderr meanwhile, so stray output cannot
    corrupt the protocol); stderr keeps its escaping.
    """
    wrapped = sys.stdout
    sys.stdout = sys.__stdout__ or wrapped
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        sys.stdout = wrapped
