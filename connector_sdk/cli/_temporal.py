"""What the Temporal subcommands share: the server options, the extra's check, connecting,
and starting a run for ``connector-sdk run --engine temporal``."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._common import UsageError

if TYPE_CHECKING:
    from temporalio.client import Client

    from .._runtime.runtime import Runtime
    from .._workflows.model import Workflow
    from .._workflows.results import RunResult


def add_temporal_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--temporal HOST:PORT``, ``--task-queue`` and ``--namespace``, shared with run/runs."""
    parser.add_argument("--temporal", metavar="HOST:PORT", required=required,
                        help="the Temporal server's frontend address")
    parser.add_argument("--namespace", default="default",
                        help="the Temporal namespace (default: default)")


def require_temporal() -> None:
    """``UsageError`` with the install command when the extra is missing."""
    from .._workflows.executors.temporal import temporal_missing

    missing = temporal_missing()
    if missing is not None:
        raise UsageError(missing)


async def connect_or_fail(args: argparse.Namespace) -> Client:
    """The client, or ``UsageError`` naming the address when the server cannot be reached."""
    from .._workflows.executors.temporal.client import connect

    try:
        return await connect(args.temporal, namespace=args.namespace)
    except RuntimeError as exc:  # temporalio's connection failure
        raise UsageError(f"cannot reach the Temporal server at {args.temporal}: {exc}"
                         " (is it running? `temporal server start-dev` starts one)") from None


def start_on_temporal(args: argparse.Namespace, runtime: Runtime, workflow: Workflow,
                      inputs: Mapping[str, Any]) -> RunResult | None:
    """Start the run on Temporal; its result, or None with ``--no-wait`` (the id printed)."""
    require_temporal()
    if not args.temporal or not args.task_queue:
        raise UsageError("--engine temporal needs --temporal HOST:PORT and --task-queue QUEUE")
    from .._workflows.executors.temporal.client import result_of, run_request, start_run

    request = run_request(runtime, workflow, inputs)

    async def go() -> RunResult | None:
        client = await connect_or_fail(args)
        run_id = await start_run(client, request, task_queue=args.task_queue)
        if args.no_wait:
            print(run_id)
            exit_with(0)
            return None
        print(f"run {run_id} on task queue '{args.task_queue}'", file=sys.stderr, flush=True)
        result = await result_of(client, run_id)
        exit_with(0 if result.ok else 1)
        return result

    return asyncio.run(go())


def exit_with(code: int) -> None:
    """End the process with ``code`` as soon as the interpreter starts to exit, skipping its
    finalization: temporalio's Rust threads can abort a finalizing interpreter ("Fatal Python
    error: PyGILState_Release", https://github.com/temporalio/sdk-python/issues/300), which
    would turn a finished command's exit code into SIGABRT."""

    def hard_exit() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)

    atexit.register(hard_exit)
