"""``connector-sdk runs show ID --temporal HOST:PORT``: how a run on Temporal stands.

Prints the run's status and, once it has finished, the same report ``connector-sdk run``
prints (``--format json`` for the JSON report). Exit codes: 0 the run succeeded, ended
``partial`` or is still running; 1 it failed, was cancelled, terminated or timed out; 2 usage
(no such run, server unreachable). Extra ``connector-sdk[temporal]``; see docs/temporal.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ._common import UsageError
from ._temporal import add_temporal_arguments, connect_or_fail, exit_with, require_temporal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="a run's status, and its result once it has finished")
    show.add_argument("id", metavar="ID", help="the workflow id `run --no-wait` printed")
    add_temporal_arguments(show, required=True)
    show.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    require_temporal()
    from .._workflows.executors.temporal.client import describe

    async def show() -> dict[str, Any]:
        client = await connect_or_fail(args)
        try:
            return await describe(client, args.id)
        except Exception as exc:  # temporalio's RPCError: not found, bad id
            if type(exc).__name__ != "RPCError":
                raise
            raise UsageError(f"run '{args.id}': {exc}") from None

    found = asyncio.run(show())
    if args.format == "json":
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(f"run {found['id']}: {found['status']} (task queue"
                         f" {found['task_queue']}, started {found['start_time']})\n")
        if "result" in found:
            from .._workflows.executors.temporal.client import result_from_dict
            from .run import render_text

            sys.stdout.write("\n" + render_text(result_from_dict(found["result"])))
    code = 1
    if found["status"] in ("completed", "running"):
        code = 1 if found.get("result", {}).get("status") == "failed" else 0
    exit_with(code)
    return code
