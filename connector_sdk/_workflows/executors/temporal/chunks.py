"""The ``connector-sdk.run_chunk`` activity: one chunk of a large foreach, started and awaited.

The run (``RunWorkflow``) does not start its chunks as child workflows: a child's result is
written into its parent's history, so a 100,000-item foreach would put every item's output
into the run's history (Temporal fails a history at 50 MB). This activity starts the chunk as
a workflow of its own (``ForeachChunk``, id ``RUN/RUN_ID/STEP/N``) on the run's task queue,
waits for it while heartbeating, and returns only ``interpreter.summarize`` of its outcomes (the
outputs too when a later step needs them). The outcomes themselves stay in the chunk's
result, where ``client.assemble`` reads them.

It runs on the task queue ``QUEUE.chunks`` (``CHUNK_QUEUE``), served by every worker with
slots of its own: a waiting chunk never holds a slot its own items need. A retry after a
worker died attaches to the chunk already started or finished, never starts it twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from .interpreter import CHUNK_QUEUE, summarize

__all__ = ["ChunkActivities"]


class ChunkActivities:
    """The chunk activity of one worker, over the worker's client (and so its codec)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="connector-sdk.run_chunk")
    async def run_chunk(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start (or attach to) the chunk ``request["id"]`` and summarize its outcomes."""
        queue = activity.info().task_queue.removesuffix(CHUNK_QUEUE)
        try:
            handle = await self.client.start_workflow(
                "connector-sdk.foreach-chunk", request["chunk"], id=request["id"],
                task_queue=queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        except WorkflowAlreadyStartedError:  # it finished before this attempt began
            handle = self.client.get_workflow_handle(request["id"])
        beat = asyncio.create_task(_heartbeat())
        try:
            outcomes: list[dict[str, Any] | None] = await handle.result()
        except WorkflowFailureError as exc:
            raise ApplicationError(f"the chunk workflow {request['id']} did not finish:"
                                   f" {exc.cause or exc}", non_retryable=True) from None
        finally:
            beat.cancel()
        return summarize(outcomes, request["offset"], request["keep"])


async def _heartbeat() -> None:
    timeout = activity.info().heartbeat_timeout
    every = timeout.total_seconds() / 3 if timeout else 5.0
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)
