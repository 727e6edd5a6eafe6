"""The local executor: a workflow's steps in order, foreach items concurrently, in-process.

``run_workflow`` is async inside (httpx.AsyncClient); ``run_workflow_sync`` wraps it for
callers without an event loop. Each step and each foreach item is one ``step.StepCall``
run by ``step.run_step_call``, the same unit another executor would run elsewhere. What
callers may rely on:

* **Nothing starts half-way.** Inputs are checked, every operation is looked up, every
  authentication is resolved and every foreach list that depends only on inputs is measured
  (at most ``MAX_FOREACH_ITEMS``) before the first request; a problem there raises
  ``WorkflowError`` (bad inputs) or ends the run ``failed`` with no step run (an unknown
  authentication), never after some requests went out.
* **One client and one token per authentication.** Every step and foreach item using the same
  authentication shares one ``httpx.AsyncClient`` for the whole run, and the runtime's token
  manager (single flight) fetches one token for all of them, refreshing it once when it
  expires mid-run.
* **The result is JSON** (``results.RunResult``). A failure's ``error`` names the step,
  operation, authentication, HTTP status and the provider's message; messages are scrubbed of
  the authentications' secret values as a last line of defence.
* **Concurrency.** Foreach items run on ``concurrency`` worker tasks that take the next index
  in turn: no task or semaphore per item, and inputs are rendered from templates compiled
  once per step. Without ``continue_on_error`` the first failed item stops the others from
  starting; items in flight finish.
* **Streaming.** With ``on_result``, every step call's ``results.CallResult`` goes to it as
  the call finishes (foreach items in the order they finish, each with its index); a foreach
  over more than ``KEEP_STREAMED_OUTPUTS`` items then keeps no item output in memory (see
  ``results``). An exception from ``on_result`` fails the step (the report names it) and
  no further result is delivered.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from ..._errors import ConnectorSDKError, WorkflowError
from ..._http.seam import httpx
from ..._runtime.sync import run_sync
from ..._telemetry import unit
from ..inputs import prepare_inputs
from ..model import Step, Workflow
from ..results import (
    KEEP_STREAMED_OUTPUTS,
    CallResult,
    EventKind,
    ItemResult,
    RunEvent,
    RunResult,
    RunStatus,
    Status,
    StepResult,
)
from ..step import (
    STEP_ERRORS,
    Outcome,
    check_items,
    elapsed_ms,
    error_report,
    render_call,
    run_step_call,
    secrets_of,
)

if TYPE_CHECKING:
    from ..._manifest.model import Authentication
    from ..._operations.ratelimit import RateLimitPolicy
    from ..._runtime.runtime import Runtime

__all__ = ["preflight", "run_workflow", "run_workflow_sync"]


async def run_workflow(
    runtime: Runtime,
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    policy: RateLimitPolicy | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> RunResult:
    """Run ``workflow`` with ``runtime``; see the module docstring for the guarantees.

    Raises ``WorkflowError`` before any request for bad inputs, an operation the runtime
    does not know or a foreach list over the limit; step failures are in the result.
    ``policy`` bounds the rate-limit waits of each call (default ``RateLimitPolicy()``).
    ``on_result`` receives each call's result as it finishes (``results.JsonLinesSink``
    writes them to a file).
    """
    run = _Run(runtime, workflow, prepare_inputs(workflow, inputs), on_event, policy,
               on_result)
    return await run.execute()


def run_workflow_sync(
    runtime: Runtime,
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    policy: RateLimitPolicy | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> RunResult:
    """``run_workflow`` for callers that are not async (starts and ends its own event loop).

    Inside a running event loop, raises ``EventLoopError``: await ``run_workflow`` there.
    """
    return run_sync(
        lambda: run_workflow(runtime, workflow, inputs, on_event=on_event, policy=policy,
                             on_result=on_result),
        entry_point="run_workflow_sync", use="run_workflow", about=f"workflow '{workflow.name}'")


def preflight(runtime: Runtime, workflow: Workflow, inputs: Mapping[str, Any]) -> None:
    """What every executor checks before the first request: each operation is known and each
    foreach list that depends only on ``inputs`` is a list within the limit; else
    ``WorkflowError`` naming the step."""
    for step in workflow.steps:
        try:
            runtime.services.operation(step.operation)
        except ConnectorSDKError as exc:
            raise WorkflowError(f"step '{step.id}': {exc}", step=step.id) from None
        if step.foreach is None or any(r.root == "steps" for r in step.foreach.references):
            continue
        try:
            items = step.foreach.render({"inputs": inputs})
        except WorkflowError as exc:
            raise WorkflowError(f"step '{step.id}' foreach: {exc}", step=step.id) from None
        check_items(step, items)


class _Run:
    def __init__(self, runtime: Runtime, workflow: Workflow, inputs: dict[str, Any],
                 on_event: Callable[[RunEvent], None] | None,
                 policy: RateLimitPolicy | None,
                 on_result: Callable[[CallResult], None] | None = None) -> None:
        self.runtime = runtime
        self.on_result = on_result
        self.sink_error: Exception | None = None
        self.warnings: list[str] = []
        self.workflow = workflow
        self.inputs = inputs
        self.on_event = on_event
        self.policy = policy
        self.outputs: dict[str, Any] = {}
        self.results = {s.id: StepResult(s.id, s.operation, s.authentication)
                        for s in workflow.steps}
        self.authentications: dict[tuple[str, str], Authentication] = {}
        self.clients: dict[tuple[str, str], httpx.AsyncClient] = {}
        self._secrets: Sequence[str] | None = None
        self.stack = AsyncExitStack()

    def emit(self, kind: EventKind, step: Step | None = None, **fields: Any) -> None:
        if self.on_event is None:
            return
        position = self.workflow.steps.index(step) + 1 if step is not None else 0
        self.on_event(RunEvent(
            kind, self.workflow.name, len(self.workflow.steps),
            step=step.id if step else None, position=position,
            operation=step.operation if step else None,
            authentication=step.authentication if step else None, **fields))

    async def execute(self) -> RunResult:
        with unit("workflow", f"workflow {self.workflow.name}",
                  workflow=self.workflow.name) as run:
            result = await self._execute()
            if result.status == "failed":
                run.fail((result.error or {}).get("type"))
            return result

    async def _execute(self) -> RunResult:
        started = time.perf_counter()
        self._preflight_static()
        self.emit("run_started")
        status: RunStatus = "succeeded"
        error: dict[str, Any] | None = None
        async with self.stack:
            failed = self._resolve_authentications()
            if failed is not None:
                status, error = "failed", failed
            else:
                for step in self.workflow.steps:
                    result = await self._run_step(step)
                    if result.status == "failed":
                        if not step.continue_on_error:
                            status, error = "failed", result.error or _item_error(result)
                            break
                        status = "partial"
                    elif result.items and any(i.status == "failed" for i in result.items):
                        status = "partial"
        warnings = self.warnings
        outputs = self.workflow.render_outputs(self._scope(), warnings) \
            if status != "failed" else {}
        duration = elapsed_ms(started)
        self.emit("run_finished", status=status, duration_ms=duration, error=error)
        return RunResult(self.workflow.name, status, self.inputs, self.results, outputs,
                         error, duration, warnings)

    def _scope(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "steps": self.outputs}

    # -- before any request -------------------------------------------------------------------

    def _preflight_static(self) -> None:
        preflight(self.runtime, self.workflow, self.inputs)

    def _resolve_authentications(self) -> dict[str, Any] | None:
        for step in self.workflow.steps:
            key = (step.authentication, step.service)
            if key in self.authentications:
                continue
            try:
                self.authentications[key] = self.runtime.resolve_authentication(*key)
            except ConnectorSDKError as exc:
                result = self.results[step.id]
                result.status = "failed"
                result.error = self._report(exc, step)
                return result.error
        return None

    def _client(self, step: Step) -> tuple[Authentication, httpx.AsyncClient]:
        key = (step.authentication, step.service)
        authentication = self.authentications[key]
        client = self.clients.get(key)
        if client is None:
            client = self.runtime.async_client(authentication)
            self.stack.push_async_callback(client.aclose)
            self.clients[key] = client
        return authentication, client

    # -- steps ----------------------------------------------------------------------------------

    async def _run_step(self, step: Step) -> StepResult:
        with unit("step", f"step {step.id}", step=step.id, service=step.service,
                  operation=step.operation, authentication=step.authentication) as span:
            result = await self._step(step)
            if result.status == "failed":
                span.fail((result.error or {}).get("type"))
            return result

    async def _step(self, step: Step) -> StepResult:
        result = self.results[step.id]
        started = time.perf_counter()
        scope = self._scope()
        try:
            authentication, client = self._client(step)
            if step.foreach is None:
                self.emit("step_started", step)
                outcome = await self._call(step, scope, authentication, client)
                result.status, result.output, result.error = \
                    outcome.status, outcome.output, outcome.error
                self._deliver(CallResult(step.id, None, outcome.status, outcome.output,
                                         outcome.error, elapsed_ms(started)))
            else:
                rendered: Any = None
                try:
                    rendered = step.foreach.render(scope)
                    items = check_items(step, rendered)
                finally:
                    self.emit("step_started", step,
                              total=len(rendered) if isinstance(rendered, list) else 0)
                await self._foreach(step, authentication, client, items, result)
        except STEP_ERRORS as exc:
            result.status = "failed"
            result.error = self._report(exc, step)
        if self.sink_error is not None and result.status != "failed":
            result.status = "failed"
            result.error = self._report(WorkflowError(
                f"the results sink failed: {type(self.sink_error).__name__}:"
                f" {self.sink_error}"), step)
        result.duration_ms = elapsed_ms(started)
        if result.status == "succeeded" or result.items is not None:
            self.outputs[step.id] = result.output
        failed = sum(1 for i in result.items if i.status == "failed") if result.items else 0
        self.emit("step_finished", step, status=result.status, duration_ms=result.duration_ms,
                  error=result.error, done=len(result.items or ()), failed=failed)
        return result

    async def _call(self, step: Step, scope: Mapping[str, Any], authentication: Authentication,
                    client: httpx.AsyncClient, item: int | None = None) -> Outcome:
        """Render ``step`` in ``scope`` and run the call; a failure is in the outcome."""
        try:
            call = render_call(step, scope, item=item)
        except STEP_ERRORS as exc:
            return Outcome("failed", error=self._report(exc, step, item=item))
        return await run_step_call(self.runtime, call, authentication=authentication,
                                   client=client, policy=self.policy, secrets=self.secrets)

    async def _foreach(self, step: Step, authentication: Authentication,
                       client: httpx.AsyncClient, items: list[Any], result: StepResult) -> None:
        total = len(items)
        # streamed past the limit: nothing per item is held but the failures (flat memory)
        keep = self.on_result is None or total <= KEEP_STREAMED_OUTPUTS
        held = total if keep else 0
        outputs: list[Any] = [None] * held
        statuses: list[Status] = ["skipped"] * held
        durations = [0.0] * held
        errors: dict[int, dict[str, Any]] = {}
        failures: dict[int, ItemResult] = {}
        every = max(1, min(100, math.ceil(total / 10)))
        state = {"next": 0, "done": 0, "failed": 0, "stop": False}
        inputs, steps = self.inputs, self.outputs

        async def worker() -> None:
            while not state["stop"] and self.sink_error is None:
                index = state["next"]
                if index >= total:
                    return
                state["next"] = index + 1
                started = time.perf_counter()
                scope = {"inputs": inputs, "steps": steps, "item": items[index]}
                outcome = await self._call(step, scope, authentication, client, item=index)
                duration = elapsed_ms(started)
                if keep:
                    statuses[index], outputs[index] = outcome.status, outcome.output
                    durations[index] = duration
                if outcome.error is not None:
                    errors[index] = outcome.error
                    if not keep:
                        failures[index] = ItemResult(index, "failed", duration, outcome.error)
                    state["failed"] += 1
                    if not step.continue_on_error:
                        state["stop"] = True
                self._deliver(CallResult(step.id, index, outcome.status, outcome.output,
                                         outcome.error, duration))
                state["done"] += 1
                if state["done"] % every == 0 or state["done"] == total:
                    self.emit("foreach_progress", step, done=state["done"], total=total,
                              failed=state["failed"])

        async with asyncio.TaskGroup() as group:
            for _ in range(min(step.concurrency, total)):
                group.create_task(worker())
        for index in range(state["next"], total):  # never started: the run stopped first
            self._deliver(CallResult(step.id, index, "skipped"))
        if keep:
            result.items = [ItemResult(i, statuses[i], durations[i], errors.get(i))
                            for i in range(total)]
            result.output = outputs
        else:
            result.items = [failures[i] for i in sorted(failures)]
            self.warnings.append(
                f"step '{step.id}': its {total} item results went to the results sink and"
                f" were not kept (more than {KEEP_STREAMED_OUTPUTS}): its output is null here"
                " and to later steps and outputs, and its items list only the failed ones")
        if errors:
            result.status = "failed"
            first = min(errors)
            result.error = {**errors[first],
                            "message": f"{len(errors)} of {total} item(s) failed; first, item"
                                       f" {first}: {errors[first]['message']}"}
        else:
            result.status = "succeeded"

    def _deliver(self, result: CallResult) -> None:
        """Hand ``result`` to the sink; its first exception stops the deliveries (and the
        step: ``_step`` reports it), so a broken sink never goes unnoticed."""
        if self.on_result is None or self.sink_error is not None:
            return
        try:
            self.on_result(result)
        except Exception as exc:
            self.sink_error = exc

    # -- reports --------------------------------------------------------------------------------

    @property
    def secrets(self) -> Sequence[str]:
        """The secret values of every authentication of the run, scrubbed from all reports."""
        if self._secrets is None:
            self._secrets = secrets_of(self.authentications.values())
        return self._secrets

    def _report(self, exc: BaseException, step: Step, *, item: int | None = None
                ) -> dict[str, Any]:
        return error_report(exc, step=step.id, operation=step.operation,
                            authentication=step.authentication, item=item,
                            secrets=self.secrets)


def _item_error(result: StepResult) -> dict[str, Any] | None:
    for item in result.items or ():
        if item.error is not None:
            return item.error
    return None
