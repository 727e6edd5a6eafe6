"""Starting runs on Temporal, reading them back, and running a worker.

``start_run`` checks what a local run checks before anything is sent (inputs, operations,
foreach lists that depend only on inputs) and starts ``RunWorkflow`` with the document's
data, the prepared inputs and the activity settings derived from the runtime's
``HttpSettings``; ``result_of`` waits for a run and rebuilds the same ``RunResult`` a local
run returns (reading large foreach steps back from their chunk workflows); ``describe`` says
how a run stands. ``run_worker`` serves the workflows and activities on a task queue with
the installed connectors. Every client and worker uses ``codec.data_converter``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError
from temporalio.worker import Worker

from ...._errors import WorkflowError
from ...._manifest.reader import read_yaml_file
from ...inputs import prepare_inputs
from ...results import ItemResult, RunResult, StepResult
from ..local import preflight
from .activities import StepActivities, activities_of
from .chunks import ChunkActivities
from .codec import data_converter
from .interpreter import CHUNK_ITEMS, CHUNK_QUEUE, ForeachChunk, RunWorkflow, apply_outcomes

if TYPE_CHECKING:
    from ...._http.settings import HttpSettings
    from ...._runtime.runtime import Runtime
    from ...model import Step, Workflow

__all__ = ["activity_timeout", "assemble", "connect", "describe", "result_from_dict", "result_of",
           "run_request", "run_worker", "start_run"]

#: Attempts of one step or item (a rate-limited attempt counts as one).
MAXIMUM_ATTEMPTS = 10
#: Chunks one worker waits for at once (``chunks.py``; a wait costs no item slot).
CHUNK_WAITERS = 1000
#: Pages an activity is given time for when the step sets no ``max_pages``.
_PAGES_WITHOUT_LIMIT = 20


async def connect(address: str, *, namespace: str = "default", key: bytes | None = None
                  ) -> Client:
    """A client of the Temporal server at ``HOST:PORT`` with the payload codec."""
    return await Client.connect(address, namespace=namespace, data_converter=data_converter(key))


def activity_timeout(settings: HttpSettings, step: Step) -> float:
    """Seconds one attempt of ``step`` may take: each request's four phases (connect, write,
    read, pool) at ``settings.timeout``, for a token request and each page, three tries each
    (the HTTP layer's own retries); at least 30 s, at most an hour."""
    pages = step.max_pages or _PAGES_WITHOUT_LIMIT
    return float(min(3600.0, max(30.0, 4 * settings.timeout * (pages + 1) * 3)))


def run_request(runtime: Runtime, workflow: Workflow, inputs: Mapping[str, Any] | None, *,
                chunk_items: int = CHUNK_ITEMS) -> dict[str, Any]:
    """The argument of ``RunWorkflow``: checked like a local run before anything is sent."""
    prepared = prepare_inputs(workflow, inputs)
    preflight(runtime, workflow, prepared)
    doc, problems = read_yaml_file(Path(workflow.source))
    if doc is None:
        raise WorkflowError(f"workflow {workflow.source} cannot be read again: "
                            + "; ".join(p.message for p in problems))
    return {
        "source": workflow.source, "document": doc.data, "inputs": prepared,
        "settings": {
            "timeouts": {s.id: activity_timeout(runtime.http, s) for s in workflow.steps},
            "retry_initial": 1.0, "retry_maximum": 60.0, "maximum_attempts": MAXIMUM_ATTEMPTS,
            "chunk_items": chunk_items,
        },
    }


async def start_run(client: Client, request: dict[str, Any], *, task_queue: str,
                    workflow_id: str | None = None) -> str:
    """Start a run; returns its workflow id."""
    name = request["document"].get("name") or Path(request["source"]).stem
    run_id = workflow_id or f"{name}-{uuid.uuid4().hex[:12]}"
    await client.start_workflow(RunWorkflow.run, request, id=run_id, task_queue=task_queue)
    return run_id


async def result_of(client: Client, workflow_id: str) -> RunResult:
    """Wait for the run ``workflow_id`` and return its ``RunResult`` (the same report a local
    run gives). A run that Temporal itself failed or terminated is a ``WorkflowError``."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        value: dict[str, Any] = await handle.result()
    except WorkflowFailureError as exc:
        raise WorkflowError(f"run {workflow_id} did not finish: {exc.cause or exc}") from None
    return await assemble(client, value)


def result_from_dict(data: Mapping[str, Any],
                     order: Mapping[str, list[str]] | None = None) -> RunResult:
    """A ``RunResult`` from its ``as_dict()`` form, steps, outputs and inputs in ``order``
    (their order in the workflow file) when given."""
    order = order or {}
    steps: dict[str, StepResult] = {}
    for step_id in order.get("steps") or list(data["steps"]):
        raw = data["steps"][step_id]
        step = StepResult(step_id, raw["operation"], raw["authentication"], raw["status"],
                          raw.get("output"), raw.get("error"), raw["duration_ms"])
        if raw.get("items") is not None:
            step.items = [ItemResult(i["index"], i["status"], i["duration_ms"], i.get("error"))
                          for i in raw["items"]]
        steps[step_id] = step
    return RunResult(data["workflow"], data["status"], _ordered(data["inputs"], order, "inputs"),
                     steps, _ordered(data.get("outputs") or {}, order, "outputs"),
                     data.get("error"), data["duration_ms"], data.get("warnings") or [])


def _ordered(values: Mapping[str, Any], order: Mapping[str, list[str]], name: str
             ) -> dict[str, Any]:
    keys = [k for k in order.get(name, ()) if k in values]
    return {**{k: values[k] for k in keys}, **values}


async def assemble(client: Client, value: dict[str, Any]) -> RunResult:
    """The ``RunResult`` of a finished run's value, chunked foreach steps read back."""
    data = value["result"]
    run = result_from_dict(data, value.get("order"))
    steps = run.steps
    for step_id, children in value.get("chunks", {}).items():
        status, error = steps[step_id].status, steps[step_id].error
        total = int(data["steps"][step_id]["total"])
        size = int(data["steps"][step_id].get("chunk_items") or total)
        outcomes: list[dict[str, Any] | None] = []
        for child in children:
            try:
                outcomes.extend(await client.get_workflow_handle(child).result())
            except (WorkflowFailureError, RPCError) as exc:  # terminated, or never started
                report = {**(error or {}), "message": f"chunk {child} did not finish:"
                                                      f" {getattr(exc, 'cause', None) or exc}"}
                outcomes.extend([{"status": "failed", "error": report, "duration_ms": 0.0}]
                                * min(size, total - len(outcomes)))
        outcomes.extend([None] * (total - len(outcomes)))
        apply_outcomes(steps[step_id], outcomes)
        steps[step_id].status, steps[step_id].error = status, error
    return run


async def describe(client: Client, workflow_id: str) -> dict[str, Any]:
    """How the run stands: ``{"id", "status", "result"?}``; the result once it has ended."""
    handle = client.get_workflow_handle(workflow_id)
    info = await handle.describe()
    status = info.status.name.lower() if info.status is not None else "unknown"
    out: dict[str, Any] = {"id": workflow_id, "status": status,
                           "start_time": info.start_time.isoformat(),
                           "task_queue": info.task_queue}
    if info.status == WorkflowExecutionStatus.COMPLETED:
        out["result"] = (await assemble(client, await handle.result())).as_dict()
    return out


async def run_worker(runtime: Runtime, client: Client, *, task_queue: str,
                     max_concurrent_activities: int = 100,
                     stop: asyncio.Event | None = None) -> None:
    """Serve ``RunWorkflow``, ``ForeachChunk`` and the step activities until ``stop`` is set
    (or the task is cancelled); the activities share ``runtime`` and its token manager. The
    chunk waiters (``chunks.py``) are served on ``task_queue + CHUNK_QUEUE``."""
    holder = StepActivities(runtime)
    worker = Worker(client, task_queue=task_queue, workflows=[RunWorkflow, ForeachChunk],
                    activities=activities_of(holder),
                    max_concurrent_activities=max_concurrent_activities)
    waiter = Worker(client, task_queue=task_queue + CHUNK_QUEUE,
                    activities=[ChunkActivities(client).run_chunk],
                    max_concurrent_activities=CHUNK_WAITERS)
    try:
        async with worker, waiter:
            await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await holder.aclose()

