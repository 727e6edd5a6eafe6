"""``connector-sdk mcp``: connector operations as Model Context Protocol tools for AI agents.

``mcp serve`` runs an MCP server (stdio, or streamable HTTP on loopback) whose tools are the
operations of the named authentications' services; ``mcp tools`` prints the tool definitions
the same options would serve, without starting anything (and without the ``[mcp]`` extra).

Nothing is exposed by default: ``--auth NAME`` names a stored authentication (repeat it),
``--sandbox`` serves against the emulators with throwaway authentications
(``--service SERVICE``, or ``--auth NAME=SERVICE`` for several of one service), and
``--operations GLOB`` narrows the operations. The model never sees or chooses a credential:
it names one of the exposed authentications at most. The HTTP transport's bearer token comes
from ``$CONNECTOR_SDK_MCP_TOKEN`` only, never from the command line (``ps`` would show it).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from .._mcp import DEFAULT_HOST, DEFAULT_PORT, INSTALL_HINT, MIN_TOKEN_LENGTH, TOKEN_ENV
from ._common import UsageError, add_runtime_arguments, emit_json, make_runtime

if TYPE_CHECKING:
    from .._manifest.model import Authentication
    from .._runtime.runtime import Runtime


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auth", action="append", default=[], metavar="NAME",
                        help="expose the operations of this stored authentication's service,"
                             " called as it (repeat for more; with --sandbox: NAME=SERVICE)")
    parser.add_argument("--sandbox", action="store_true",
                        help="call the services' in-process emulators with throwaway"
                             " authentications; nothing leaves the process")
    parser.add_argument("--service", action="append", default=[], metavar="SERVICE",
                        help="with --sandbox: expose SERVICE with a throwaway authentication"
                             " named 'sandbox'")
    parser.add_argument("--operations", action="append", default=[], metavar="GLOB",
                        help="expose only operations matching GLOB (service.operation, e.g."
                             " 'twitch.get_*'); repeat for more; default: all of them")
    parser.add_argument("--page-size", type=int, metavar="N",
                        help="ask paginated APIs for at most N items per page")
    add_runtime_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mcp_command", metavar="ACTION")
    serve = sub.add_parser("serve", help="run the MCP server",
                           description="Serve connector operations as MCP tools.")
    _add_selection(serve)
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                       help="stdio (default; the client starts this command) or streamable"
                            " HTTP")
    serve.add_argument("--host", metavar="HOST",
                       help=f"HTTP: address to bind (default {DEFAULT_HOST}; any other needs"
                            f" the bearer token in ${TOKEN_ENV})")
    serve.add_argument("--port", type=int, metavar="PORT",
                       help=f"HTTP: port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--path", metavar="PATH", help="HTTP: endpoint path (default /mcp)")
    serve.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                       help="HTTP: also accept browser requests from ORIGIN (besides"
                            " loopback origins), e.g. https://app.example.com")
    serve.add_argument("--require-token", action="store_true",
                       help=f"HTTP: require the bearer token in ${TOKEN_ENV} on the default"
                            " host too")
    tools = sub.add_parser("tools", help="print the tool definitions `serve` would offer",
                           description="Print the MCP tool definitions (JSON) for the options.")
    _add_selection(tools)


def run(args: argparse.Namespace) -> int:
    if args.mcp_command is None:
        raise UsageError("give an action: `connector-sdk mcp serve` or `connector-sdk mcp tools`")
    if args.page_size is not None and args.page_size < 1:
        raise UsageError("--page-size must be at least 1")
    if not args.auth and not args.service:
        raise UsageError(
            "name what to expose: --auth NAME for stored authentications (see `connector-sdk"
            " auth list`), or --sandbox --service SERVICE; nothing is exposed by default")
    if args.mcp_command == "tools":
        return _tools(args)
    from .._mcp import mcp_installed

    if not mcp_installed():
        raise UsageError(f"the MCP server needs the optional extra: {INSTALL_HINT}")
    options = _http_options(args)
    return _serve(args, options)


def _authentications(runtime: Runtime, args: argparse.Namespace) -> list[Authentication]:
    if not args.sandbox:
        if args.service:
            raise UsageError("--service needs --sandbox; expose stored authentications with"
                             " --auth NAME")
        return [runtime.get_authentication(name) for name in args.auth]
    pairs = [("sandbox", service) for service in args.service]
    for value in args.auth:
        name, sep, service = value.rpartition("=")
        if not sep or not name or not service:
            raise UsageError(f"--auth '{value}': with --sandbox write NAME=SERVICE (a throwaway"
                             " authentication NAME of SERVICE), or use --service SERVICE")
        pairs.append((name, service))
    return [runtime.resolve_authentication(name, service) for name, service in pairs]


def _tools(args: argparse.Namespace) -> int:
    from .._mcp.tools import derive_tools

    with make_runtime(args, sandbox=args.sandbox) as runtime:
        tools = derive_tools(_authentications(runtime, args), args.operations or ["*"])
        emit_json([dict(tool.definition) for tool in tools])
    return 0


def _http_options(args: argparse.Namespace) -> Any:
    """The HTTP transport's options, checked before anything starts; None for stdio."""
    given = [flag for flag, value in (("--host", args.host), ("--port", args.port),
                                      ("--path", args.path)) if value is not None]
    if args.allowed_origin:
        given.append("--allowed-origin")
    if args.require_token:
        given.append("--require-token")
    if args.transport == "stdio":
        if given:
            raise UsageError(f"{', '.join(given)} apply to --transport http only")
        return None
    from .._mcp.http import HttpOptions

    host = args.host or DEFAULT_HOST
    token: str | None = None
    if host != DEFAULT_HOST or args.require_token:
        token = os.environ.get(TOKEN_ENV, "").strip()
        why = f"binding to {host}" if host != DEFAULT_HOST else "--require-token"
        if not token:
            raise UsageError(
                f"{why} needs a bearer token: set {TOKEN_ENV} (e.g. to the output of"
                " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`); only"
                f" {DEFAULT_HOST}, the default, is served without one")
        if len(token) < MIN_TOKEN_LENGTH:
            raise UsageError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters: use"
                             " a random one, e.g. from `python -c 'import secrets;"
                             " print(secrets.token_urlsafe(32))'`")
    path = args.path or "/mcp"
    if not path.startswith("/"):
        raise UsageError(f"--path '{path}' must start with '/'")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    try:
        return HttpOptions(host=host, port=DEFAULT_PORT if args.port is None else args.port,
                           path=path, token=token, allowed_origins=tuple(args.allowed_origin))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _serve(args: argparse.Namespace, options: Any) -> int:
    import asyncio

    from .._mcp.runner import ToolRunner
    from .._mcp.server import build_server, serve_stdio
    from .._mcp.tools import derive_tools

    with make_runtime(args, sandbox=args.sandbox) as runtime:
        tools = derive_tools(_authentications(runtime, args), args.operations or ["*"])
        runner = ToolRunner(runtime, tools, page_size=args.page_size)
        server = build_server(runner)
        names = ", ".join(tool.name for tool in tools)

        async def main() -> None:
            try:
                if options is None:
                    print(f"connector-sdk mcp: serving {len(tools)} tools on stdio: {names}",
                          file=sys.stderr, flush=True)
                    await serve_stdio(server)
                    return
                from .._mcp.http import HttpServer

                try:
                    http = HttpServer(server, options)
                except OSError as exc:
                    raise UsageError(f"cannot listen on {options.host}:{options.port}"
                                     f" ({exc.strerror or exc})") from None
                await http.serve(lambda url: print(
                    f"connector-sdk mcp: serving {len(tools)} tools on {url}: {names}",
                    file=sys.stderr, flush=True))
            finally:
                await runner.aclose()

        asyncio.run(main())
    return 0
