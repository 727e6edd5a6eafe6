"""Connector operations as Model Context Protocol tools (the optional ``[mcp]`` extra).

``tools`` derives tool definitions from manifests and needs nothing beyond the core;
``calls`` runs one tool call (cursors from ``cursors``); ``server`` and ``http`` are the MCP
server and its transports and are the only modules that import the ``mcp`` package, so
``import connector_sdk`` and every other command never load it.
"""

from __future__ import annotations

import importlib.util

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "INSTALL_HINT",
    "MIN_TOKEN_LENGTH",
    "TOKEN_ENV",
    "mcp_installed",
]

INSTALL_HINT = "pip install 'connector-sdk[mcp]'"
#: The only binding served without a bearer token.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Where the HTTP transport's bearer token comes from (never a command-line argument).
TOKEN_ENV = "CONNECTOR_SDK_MCP_TOKEN"
MIN_TOKEN_LENGTH = 32


def mcp_installed() -> bool:
    """True when the ``mcp`` package (the extra) can be imported; imports nothing."""
    return importlib.util.find_spec("mcp") is not None
