"""``connector-sdk schema manifest|workflow|redirects|connect-page``: the JSON Schemas, for
editors and other tools.

Prints the schema the validator uses (package data, JSON Schema 2020-12, ``$schema`` the
dialect's real URL ``https://json-schema.org/draft/2020-12/schema``), so an editor can be
pointed at a file written with ``--output``::

    connector-sdk schema manifest -o .schemas/manifest.schema.json
    # then, first line of a manifest:
    # yaml-language-server: $schema=.schemas/manifest.schema.json

The validator checks more than the schema can say (rule ids in docs/manifest.md): a file an
editor accepts may still have problems ``connector-sdk validate`` reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The packaged schemas, by the name the command takes.
KINDS = ("manifest", "workflow", "redirects", "connect-page")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS,
                        help="which schema: service manifests, workflow files, the redirect"
                             " configuration (CONNECTOR_SDK_REDIRECTS) or the connect page's"
                             " configuration")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="write the schema to FILE instead of stdout")


def schema_text(kind: str) -> str:
    """The packaged schema of ``kind``, pretty-printed, with ``$schema`` first."""
    from importlib.resources import files

    data = json.loads((files("connector_sdk") / "schemas" / f"{kind}.schema.json").read_text(
        encoding="utf-8"))
    ordered = {"$schema": DIALECT, **{k: v for k, v in data.items() if k != "$schema"}}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    text = schema_text(args.kind)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote the {args.kind} schema to {args.output}", file=sys.stderr)
    return 0
