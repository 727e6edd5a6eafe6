"""``connector-sdk worker --temporal HOST:PORT --task-queue Q``: a Temporal worker.

Serves the generic workflow interpreter and the step activities with the installed
connectors until SIGINT or SIGTERM (then it stops taking tasks and finishes the activities it
runs, within Temporal's graceful shutdown). Extra ``connector-sdk[temporal]``; see
docs/temporal.md. Workers of one fleet share the store, the token cache
(``CONNECTOR_SDK_TOKEN_CACHE=redis://…``) and the payload key (``CONNECTOR_SDK_TEMPORAL_KEY``,
else derived from the store's key).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from ._common import UsageError, add_runtime_arguments, make_runtime
from ._temporal import add_temporal_arguments, connect_or_fail, exit_with, require_temporal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_temporal_arguments(parser, required=True)
    parser.add_argument("--task-queue", required=True, metavar="QUEUE",
                        help="the task queue to serve (runs started with the same queue)")
    parser.add_argument("--sandbox", action="store_true",
                        help="answer every call from the services' in-process emulators")
    parser.add_argument("--max-concurrent-activities", type=int, default=100, metavar="N",
                        help="steps and items this worker runs at once (default: 100)")
    add_runtime_arguments(parser)


def run(args: argparse.Namespace) -> int:
    require_temporal()
    from .._workflows.executors.temporal.client import run_worker

    if args.max_concurrent_activities < 1:
        raise UsageError("--max-concurrent-activities must be at least 1")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        client = await connect_or_fail(args)
        print(f"worker: serving task queue '{args.task_queue}' on {args.temporal}",
              file=sys.stderr, flush=True)
        await run_worker(runtime, client, task_queue=args.task_queue, stop=stop,
                         max_concurrent_activities=args.max_concurrent_activities)

    with make_runtime(args, sandbox=args.sandbox) as runtime:
        asyncio.run(serve())
    exit_with(0)
    return 0
