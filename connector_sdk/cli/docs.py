"""``connector-sdk docs SERVICE``: a service's reference page in Markdown, from its manifest.

``SERVICE`` is an installed service's id or a manifest file (for a connector not installed
yet). The page covers what an authentication needs (parameters, which are secret, their
constraints), the token endpoint and grant, the hosts, and each operation with its inputs,
output, required scopes and rate limits. ``--output FILE`` writes it to a file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", metavar="SERVICE",
                        help="an installed service's id (see `connector-sdk services`) or a"
                             " manifest file")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="write the page to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    from .._manifest.loader import load_service
    from ._docs_render import render_service

    if args.service.endswith((".yaml", ".yml")) or os.sep in args.service:
        path = Path(args.service)
        if not path.is_file():
            raise UsageError(f"no such manifest file: {path}")
        service = load_service(path)  # ManifestError (exit 1) lists the problems
    else:
        from .._plugins.manager import load_plugins

        service = load_plugins(os.environ).registry.get(args.service)  # ServiceNotFound
    page = render_service(service)
    if args.output is None:
        sys.stdout.write(page)
    else:
        args.output.write_text(page, encoding="utf-8")
        print(f"wrote the reference page of '{service.id}' to {args.output}", file=sys.stderr)
    return 0
