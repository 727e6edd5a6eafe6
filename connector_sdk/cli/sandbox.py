"""``connector-sdk sandbox twitch [shopify] --port 0``: the emulators on a loopback port.

Prints the address and the emulators' throwaway credentials, then serves until Ctrl-C. Point
a runtime at it with ``connector_sdk.sandbox.routing_transports(url)``; manifests keep their
real URLs, only the transport reroutes.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", choices=("twitch", "shopify"), metavar="SERVICE",
                        help="twitch and/or shopify")
    parser.add_argument("--port", type=int, default=0,
                        help="loopback port (default 0: any free port, printed)")


def run(args: argparse.Namespace) -> int:
    from ..sandbox import serve_forever_cli
    from ._common import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535")
    serve_forever_cli(args.names, args.port)
    return 0
