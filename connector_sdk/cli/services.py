"""``connector-sdk services``: installed services, their plugin and their parameters.

Parameters are listed with their type, whether they are required or secret, and defaults of
non-secret parameters; there is never a secret value to show (manifests hold none). A service
whose plugin registers an emulator is marked ``emulator``: ``--sandbox`` and ``connector-sdk
sandbox`` work for it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def service_summary(service: Any, *, emulator: bool = False) -> dict[str, Any]:
    return {
        "id": service.id,
        "title": service.title,
        "version": service.version,
        "description": service.description,
        "plugin": service.plugin,
        "distribution": service.distribution,
        "source": service.source,
        "allowed_hosts": list(service.allowed_hosts),
        "operations": sorted(service.operations),
        "emulator": emulator,
        "parameters": [
            {"name": p.name, "type": p.type, "required": p.required, "secret": p.secret,
             **({"default": p.default} if p.has_default and not p.secret else {}),
             **({"title": p.title} if p.title else {})}
            for p in service.parameters
        ],
    }


def run(args: argparse.Namespace) -> int:
    from .._plugins.manager import load_plugins

    plugins = load_plugins(os.environ)
    emulators = plugins.registry.emulators
    services = [service_summary(s, emulator=s.id in emulators) for s in plugins.registry]
    if args.format == "json":
        json.dump({"services": services}, sys.stdout, indent=2)
        print()
    else:
        if not services:
            print("no services installed (install a connector package, e.g."
                  " pip install ./connectors/NAME)")
        for s in services:
            print(f"{s['id']}  {s['title']} {s['version']}  (plugin {s['plugin']},"
                  f" {s['distribution'] or 'not a distribution'}"
                  f"{'; emulator' if s['emulator'] else ''})")
            for p in s["parameters"]:
                flags = ", ".join(f for f in (
                    p["type"], "required" if p["required"] else "optional",
                    "secret" if p["secret"] else None,
                    f"default {p['default']!r}" if "default" in p else None) if f)
                print(f"    {p['name']:<20} {flags}")
    for failure in plugins.failures:
        print(f"warning: plugin {failure.plugin} failed: {failure.message}", file=sys.stderr)
    return 0
