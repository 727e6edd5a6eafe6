"""``connector-sdk call SERVICE.OPERATION``: run one operation and print its output as JSON.

``--input KEY=VALUE`` values are converted by the operation's input schema (integers,
numbers, booleans; an array input collects repeated ``--input``s; an object input takes JSON);
``--input-json`` gives the whole input. ``--sandbox`` answers from the in-process emulators
with a throwaway authentication, so ``--auth`` is optional there. ``--format jsonl`` prints a
paginated operation's items one per line as pages arrive, keeping memory flat.

The output is the API's data; token values never reach it (they live in headers), and errors
are the SDK's messages, which never quote a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._config import parse_bool
from ._common import UsageError, add_runtime_arguments, make_runtime

if TYPE_CHECKING:
    from .._manifest.model import OperationSpec

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("operation", metavar="SERVICE.OPERATION",
                        help="the operation to run (see `connector-sdk operations`)")
    parser.add_argument("--auth", metavar="NAME",
                        help="stored authentication to use (optional with --sandbox)")
    parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE",
                        help="one input; repeat it for each item of an array input")
    parser.add_argument("--input-json", metavar="JSON",
                        help="the whole input as a JSON object (--input values win)")
    parser.add_argument("--sandbox", action="store_true",
                        help="run against the service's in-process emulator (from its plugin)"
                             " with a throwaway authentication; nothing leaves the process")
    parser.add_argument("--max-pages", type=int, metavar="N", help="stop after N pages")
    parser.add_argument("--max-items", type=int, metavar="N", help="stop after N items")
    parser.add_argument("--format", choices=("json", "jsonl"), default="json",
                        help="json: the whole output; jsonl: one item per line, streamed")
    add_runtime_arguments(parser)


def _types(prop: Any) -> set[str]:
    kind = prop.get("type") if isinstance(prop, Mapping) else None
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def _convert(name: str, text: str, types: set[str], operation: str) -> Any:
    """``text`` as the schema's type; left as text when it does not parse (validation says)."""
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in types and (flag := parse_bool(text)) is not None:
        return flag
    if types & {"object"} and "string" not in types:
        try:
            return json.loads(text)
        except ValueError:
            raise UsageError(f"--input {name}: the input of {operation} is an object; give it"
                             " as JSON, e.g. --input " + name + "='{\"key\": 1}'") from None
    return text


def parse_inputs(
    operation: OperationSpec, name: str, pairs: Sequence[str], input_json: str | None
) -> dict[str, Any]:
    """The input object from ``--input-json`` and ``--input`` pairs, typed by the schema."""
    values: dict[str, Any] = {}
    if input_json is not None:
        try:
            loaded = json.loads(input_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--input-json is not valid JSON ({exc.msg} at character"
                             f" {exc.pos + 1})") from None
        if not isinstance(loaded, dict):
            raise UsageError("--input-json must be a JSON object of named inputs")
        values.update(loaded)
    properties = operation.input_schema.get("properties") or {}
    arrays: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--input '{pair.partition('=')[0]}': write KEY=VALUE")
        prop = properties.get(key) if isinstance(properties, Mapping) else None
        types = _types(prop)
        if "array" in types:
            item_types = _types(prop.get("items")) if isinstance(prop, Mapping) else set()
            arrays.setdefault(key, []).append(_convert(key, text, item_types, name))
        else:
            values[key] = _convert(key, text, types, name)
    values.update(arrays)
    return values


def run(args: argparse.Namespace) -> int:
    import asyncio

    from .._operations.calls import PageLimits

    if not args.auth and not args.sandbox:
        raise UsageError("give --auth NAME (see `connector-sdk auth list`), or --sandbox to run"
                         " against the built-in emulators")
    for flag in ("max_pages", "max_items"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
    limits = PageLimits(max_pages=args.max_pages, max_items=args.max_items)
    with make_runtime(args, sandbox=args.sandbox) as runtime:
        service, operation = runtime.services.operation(args.operation)
        name = f"{service.id}.{operation.id}"
        values = parse_inputs(operation, name, args.input, args.input_json)
        auth = args.auth or "sandbox"
        if args.format == "jsonl":
            asyncio.run(_stream(runtime, name, auth, values, limits))
        else:
            from .._operations.calls import call_operation
            from .._secrets import json_default

            output = asyncio.run(call_operation(runtime, name, auth, values, limits=limits))
            json.dump(output, sys.stdout, indent=2, default=json_default, ensure_ascii=False)
            sys.stdout.write("\n")
    return 0


async def _stream(runtime: Any, name: str, auth: str, values: dict[str, Any], limits: Any) -> None:
    import contextlib

    from .._operations.calls import stream_items
    from .._secrets import json_default

    async with contextlib.aclosing(stream_items(runtime, name, auth, values,
                                                limits=limits)) as items:
        async for item in items:
            sys.stdout.write(json.dumps(item, default=json_default, ensure_ascii=False,
                                        separators=(",", ":")) + "\n")
            sys.stdout.flush()
