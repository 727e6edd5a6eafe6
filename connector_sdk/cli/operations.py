"""``connector-sdk operations [SERVICE]``: the operations of installed services and their inputs.

Each operation is listed as ``service.operation`` with its title, whether it is a request
(method and path) or a Python handler, how it paginates, the scopes its token must have been
granted (``scopes``; the runtime refuses the operation without them), and every input with its
type, whether it is required, its allowed values, bounds and default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from .._manifest.dialect import plain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", nargs="?", help="only this service's operations")
    parser.add_argument("--format", choices=("text", "json"), default="text")


_CONSTRAINTS = ("enum", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                "pattern", "format")


def _type_text(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    text = "|".join(kind) if isinstance(kind, list) else str(kind or "any")
    items = prop.get("items")
    if text == "array" and isinstance(items, Mapping) and items.get("type"):
        text = f"array of {items['type']}"
    return text


def input_summary(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per top-level input: name, type, required, description and constraints."""
    required = set(schema.get("required") or ())
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        entry: dict[str, Any] = {"name": name, "type": _type_text(prop),
                                 "required": name in required}
        for key in ("description", "default", *_CONSTRAINTS):
            if key in prop:
                entry[key] = prop[key]
        out.append(entry)
    return out


def operation_summary(service: Any, operation: Any) -> dict[str, Any]:
    request = operation.request
    pagination = operation.pagination
    return {
        "name": f"{service.id}.{operation.id}",
        "service": service.id,
        "id": operation.id,
        "title": operation.title,
        "description": operation.description,
        "kind": "handler" if operation.handler else "request",
        **({"handler": f"{service.id}.{operation.handler}"} if operation.handler else {}),
        **({"method": request.method, "path": request.path.source} if request else {}),
        "pagination": None if pagination is None else pagination.style,
        "rate_limit": operation.raw.get("rate_limit"),
        "scopes": list(operation.scopes),
        "inputs": input_summary(operation.input_schema),
        "input_schema": plain(operation.input_schema),
    }


def _constraint_text(entry: Mapping[str, Any]) -> str:
    parts = []
    if "enum" in entry:
        parts.append("one of " + "|".join(map(str, entry["enum"])))
    for key, label in (("minimum", ">="), ("maximum", "<="), ("minItems", "items >="),
                       ("maxItems", "items <="), ("minLength", "length >=")):
        if key in entry:
            parts.append(f"{label} {entry[key]}")
    if "default" in entry:
        parts.append(f"default {json.dumps(entry['default'])}")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from .._plugins.manager import load_plugins

    plugins = load_plugins(os.environ)
    registry = plugins.registry
    services = [registry.get(args.service)] if args.service else list(registry)
    summaries = [operation_summary(s, op) for s in services
                 for op in sorted(s.operations.values(), key=lambda o: o.id)]
    if args.format == "json":
        json.dump({"operations": summaries}, sys.stdout, indent=2)
        print()
    else:
        if not summaries:
            where = f"service '{args.service}'" if args.service else "the installed services"
            print(f"no operations in {where}")
        for op in summaries:
            how = (f"handler {op['handler']}" if op["kind"] == "handler"
                   else f"{op['method']} {op['path']}")
            paged = f", paginated ({op['pagination']})" if op["pagination"] else ""
            print(f"{op['name']}  {op['title']}  [{how}{paged}]")
            if op["scopes"]:
                print(f"    needs scopes: {' '.join(op['scopes'])}")
            for entry in op["inputs"]:
                flags = ", ".join(f for f in (
                    entry["type"], "required" if entry["required"] else "optional",
                    _constraint_text(entry)) if f)
                print(f"    {entry['name']:<20} {flags}")
    for failure in plugins.failures:
        print(f"warning: plugin {failure.plugin} failed: {failure.message}", file=sys.stderr)
    return 0
