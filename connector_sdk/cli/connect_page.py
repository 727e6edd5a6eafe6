"""``connector-sdk connect-page``: the embeddable connect page, on loopback, for development.

``serve --config FILE`` runs the page (``connector_sdk.connect_page``) with uvicorn on
127.0.0.1 (loopback only: it takes credentials and this is a development server), prints the
URL of each organisation's page and how to mint a session link; ``--sandbox`` connects to the
installed emulators (in-process for token requests, on a loopback port for the browser's
consent pages). ``link`` mints a signed, expiring, single-use session link, as a platform
does server-side with ``connector_sdk.connect_page.mint_link``.

The access log is off: a session link is a bearer value in a URL, and the page logs each
request itself without its query.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys
import urllib.parse
from typing import Any

from ._common import UsageError, add_runtime_arguments, make_runtime

INSTALL_HINT = "pip install 'connector-sdk[connect-page]'"
_NEEDS = ("starlette", "itsdangerous", "jinja2", "uvicorn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="connect_page_command", metavar="ACTION")
    serve = sub.add_parser("serve", help="run the connect page on loopback",
                           description="Run the connect page on loopback for development.")
    serve.add_argument("--config", required=True, metavar="FILE",
                       help="the connect page's configuration (docs/connect-page.md)")
    serve.add_argument("--sandbox", action="store_true",
                       help="connect to the installed services' emulators; nothing leaves"
                            " the machine")
    serve.add_argument("--port", type=int, default=8400,
                       help="port to listen on (default 8400; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="loopback address to bind (default 127.0.0.1; loopback only)")
    add_runtime_arguments(serve)
    link = sub.add_parser("link", help="mint a session link for trying the page",
                          description="Print a signed, expiring, single-use session link.")
    link.add_argument("--config", required=True, metavar="FILE")
    link.add_argument("--organisation", required=True, help="an organisation of the config")
    link.add_argument("--service", required=True, help="a service of that organisation")
    link.add_argument("--name", required=True, help="the authentication to create")
    link.add_argument("--port", type=int, metavar="N",
                      help="the port `serve` listens on, when it is not the one in the"
                           " organisation's redirect URL")


def _check_installed() -> None:
    missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"the connect page needs the optional extra (missing:"
                         f" {', '.join(missing)}): {INSTALL_HINT}")


def _origin_on_port(origin: str, port: int | None) -> str:
    if port is None:
        return origin
    parts = urllib.parse.urlsplit(origin)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def run(args: argparse.Namespace) -> int:
    if args.connect_page_command is None:
        raise UsageError("give an action: `connector-sdk connect-page serve --config FILE` or"
                         " `connector-sdk connect-page link --config FILE ...`")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535")
    _check_installed()
    from ..connect_page import load_config

    config = load_config(args.config)
    if args.connect_page_command == "link":
        return _link(args, config)
    return _serve(args, config)


def _link(args: argparse.Namespace, config: Any) -> int:
    from .._stores.protocol import validate_name
    from ..connect_page import mint_link

    validate_name(args.name)
    org = config.organisation(args.organisation)
    print(mint_link(config, args.organisation, args.service, args.name,
                    base_url=_origin_on_port(org.origin, args.port)))
    return 0


def _serve(args: argparse.Namespace, config: Any) -> int:
    import uvicorn

    from ..connect_page import create_app
    from ..sandbox import SandboxServer, require_loopback

    try:
        require_loopback(args.host)
    except Exception as exc:
        raise UsageError(str(exc)) from None
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})"
                         ": choose another --port (0 picks a free one)") from None
    port = int(sock.getsockname()[1])
    with make_runtime(args, sandbox=args.sandbox, redirects=config.redirects) as runtime:
        sandbox = SandboxServer(*runtime.sandboxes).start() if args.sandbox else None
        try:
            app = create_app(runtime, config, sandbox=sandbox)
            _announce(args, config, port, sandbox)
            server = uvicorn.Server(uvicorn.Config(app, access_log=False,
                                                   log_level="warning", lifespan="off"))
            server.run(sockets=[sock])
        finally:
            if sandbox is not None:
                sandbox.stop()
            sock.close()
    return 0


def _announce(args: argparse.Namespace, config: Any, port: int, sandbox: Any) -> None:
    out = sys.stderr
    print(f"connector-sdk connect-page: listening on http://{args.host}:{port}", file=out)
    for org in config.organisations.values():
        print(f"  {org.name}: {_origin_on_port(org.origin, port)}/ (services:"
              f" {', '.join(org.services)})", file=out)
        configured = urllib.parse.urlsplit(org.redirect_url).port
        if configured is not None and configured != port:
            print(f"    note: its redirect URL {org.redirect_url} names port {configured};"
                  " the provider's callback goes there", file=out)
    if sandbox is not None:
        print(f"  emulators (for the browser's consent pages): {sandbox.url}", file=out)
    first = next(iter(config.organisations.values()))
    service = next(iter(first.services))
    print("Mint a session link (each works once, for"
          f" {config.max_age} s):\n  connector-sdk connect-page link --config {args.config}"
          f" --organisation {first.name} --service {service} --name NAME --port {port}",
          file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
