"""``connector-sdk sandbox SERVICE... --port 0``: emulators on a loopback port.

The emulators are those the installed plugins register through the ``register_emulators``
hook (``connector-sdk services`` marks the services that have one). Prints the address and
each emulator's throwaway credentials, then serves until Ctrl-C. Point a runtime at it with
``CONNECTOR_SDK_SANDBOX_URL`` or ``connector_sdk.sandbox.routing_transports(url)``; manifests
keep their real URLs, only the transport reroutes. A browser (an emulator's consent page)
opens ``https://HOST/PATH`` as ``http://127.0.0.1:PORT/_sandbox/HOST/PATH``, which the command
prints too.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._common import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="SERVICE",
                        help="service ids whose emulators to serve (see `connector-sdk services`)")
    parser.add_argument("--port", type=int, default=0,
                        help="loopback port (default 0: any free port, printed)")


def run(args: argparse.Namespace) -> int:
    from .._plugins.manager import load_plugins
    from ..sandbox import serve_forever_cli

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535")
    plugins = load_plugins(os.environ)
    for failure in plugins.failures:
        print(f"warning: plugin {failure.plugin} failed: {failure.message}", file=sys.stderr)
    # Every name is looked up before anything is bound: an unknown one fails the command.
    registered = [plugins.registry.emulator(name) for name in dict.fromkeys(args.names)]
    serve_forever_cli([r.create() for r in registered], args.port)
    return 0
