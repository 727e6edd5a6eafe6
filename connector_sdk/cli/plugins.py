"""``connector-sdk plugins``: what loaded, what was skipped, what failed and why."""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from .._plugins.manager import load_plugins

    plugins = load_plugins(os.environ)
    services_by_plugin: dict[str, list[str]] = {}
    for service in plugins.registry:
        services_by_plugin.setdefault(service.plugin or "", []).append(service.id)
    emulators_by_plugin: dict[str, list[str]] = {}
    for service_id, registered in sorted(plugins.registry.emulators.items()):
        emulators_by_plugin.setdefault(registered.plugin, []).append(service_id)
    if args.format == "json":
        payload = {
            "loaded": [
                {"name": p.name, "distribution": p.distribution, "version": p.version,
                 "module": p.module, "services": services_by_plugin.get(p.name, []),
                 "emulators": emulators_by_plugin.get(p.name, [])}
                for p in plugins.loaded
            ],
            "skipped": [{"name": n, "reason": why} for n, why in plugins.skipped],
            "failures": [
                {"name": f.plugin, "distribution": f.distribution, "message": f.message,
                 "problems": [p.as_dict() for p in f.problems]}
                for f in plugins.failures
            ],
        }
        json.dump(payload, sys.stdout, indent=2)
        print()
    else:
        for p in plugins.loaded:
            dist = f"{p.distribution} {p.version}" if p.distribution else "built in"
            services = ", ".join(services_by_plugin.get(p.name, [])) or "-"
            emulators = ", ".join(emulators_by_plugin.get(p.name, []))
            print(f"{p.name:<16} {dist:<32} services: {services}"
                  f"{f'  emulators: {emulators}' if emulators else ''}")
        for name, why in plugins.skipped:
            print(f"{name:<16} skipped: {why}")
        for f in plugins.failures:
            print(f"{f.plugin:<16} FAILED: {f.message}")
            for problem in f.problems:
                print(f"    {problem.format_text()}")
    return 1 if plugins.failures else 0
