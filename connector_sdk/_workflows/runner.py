"""Running a workflow: steps in order, foreach items concurrently, one JSON-ready result.

``run_workflow`` is async inside (httpx.AsyncClient); ``run_workflow_sync`` wraps it for
callers without an event loop. What callers may rely on:

* **Nothing starts half-way.** Inputs are checked, every operation is looked up, every
  authentication is resolved and every foreach list that depends only on inputs is measured
  (at most ``MAX_FOREACH_ITEMS``) before the first request; a problem there raises
  ``WorkflowError`` (bad inputs) or ends the run ``failed`` with no step run (an unknown
  authentication), never after some requests went out.
* **One client and one token per authentication.** Every step and foreach item using the same
  authentication shares one ``httpx.AsyncClient`` for the whole run, and the runtime's token
  manager (single flight) fetches one token for all of them, refreshing it once when it
  expires mid-run.
* **The result is JSON.** ``RunResult.as_dict()`` holds every step's status, output, error and
  duration; foreach steps list their items' results in input order. A failure's ``error``
  names the step, operation, authentication, HTTP status and the provider's message; messages
  are scrubbed of the authentications' secret values as a last line of defence.
* **Statuses.** Steps and items are ``succeeded``, ``failed`` or ``skipped`` (not run because
  the run stopped first). The run is ``succeeded``, ``partial`` (a ``continue_on_error`` step
  or item failed and the run went on) or ``failed`` (a step failed and stopped the run).

Foreach items run on ``concurrency`` worker tasks that take the next index in turn: no task
or semaphore per item, and inputs are rendered from templates compiled once per step.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._errors import ConnectorSDKError, WorkflowError
from .._http.seam import httpx
from .._secrets import Secret, json_default
from .model import MAX_FOREACH_ITEMS, Step, Workflow

if TYPE_CHECKING:
    from .._manifest.model import Authentication
    from .._runtime.runtime import Runtime

__all__ = [
    "ItemResult",
    "RunEvent",
    "RunResult",
    "StepResult",
    "prepare_inputs",
    "run_workflow",
    "run_workflow_sync",
]

Status = Literal["succeeded", "failed", "skipped"]
RunStatus = Literal["succeeded", "partial", "failed"]
EventKind = Literal["run_started", "step_started", "foreach_progress", "step_finished",
                    "run_finished"]
#: Errors that fail a step; anything else is a bug and propagates.
_STEP_ERRORS = (ConnectorSDKError, httpx.HTTPError)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Progress of a run, for ``on_event``: step started/finished, foreach progress.

    ``position`` is the step's 1-based position among ``total_steps``; for foreach progress,
    ``done`` of ``total`` items have finished and ``failed`` of them failed.
    """

    kind: EventKind
    workflow: str
    total_steps: int
    step: str | None = None
    position: int = 0
    operation: str | None = None
    authentication: str | None = None
    status: str | None = None
    done: int = 0
    total: int = 0
    failed: int = 0
    duration_ms: float | None = None
    error: Mapping[str, Any] | None = None


@dataclass(slots=True)
class ItemResult:
    """One foreach item: its index in the list, status, duration and error (no output:
    outputs are the step's ``output`` list, in the same order)."""

    index: int
    status: Status
    duration_ms: float = 0.0
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status,
                               "duration_ms": self.duration_ms}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class StepResult:
    """One step; ``items`` is set for foreach steps (``output`` is then the list of item
    outputs, ``None`` for failed or skipped items)."""

    id: str
    operation: str
    authentication: str
    status: Status = "skipped"
    output: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    items: list[ItemResult] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operation": self.operation,
            "authentication": self.authentication,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "output": self.output,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.items is not None:
            out["items"] = [item.as_dict() for item in self.items]
        return out


@dataclass(slots=True)
class RunResult:
    """The whole run. ``as_dict()`` / ``to_json()`` give the report the CLI prints."""

    workflow: str
    status: RunStatus
    inputs: dict[str, Any]
    steps: dict[str, StepResult]
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True unless a step failed and stopped the run (``partial`` is ok)."""
        return self.status != "failed"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "workflow": self.workflow,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "inputs": self.inputs,
            "steps": {step_id: step.as_dict() for step_id, step in self.steps.items()},
            "outputs": self.outputs,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.warnings:
            out["warnings"] = self.warnings
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent, default=json_default,
                          ensure_ascii=False)

    def raise_for_status(self) -> RunResult:
        """Raise ``WorkflowError`` (with this report) when the run failed; else return self."""
        if self.status == "failed":
            error = self.error or {}
            raise WorkflowError(f"workflow {self.workflow} failed: {error.get('message', '')}",
                                step=error.get("step"), report=self.as_dict())
        return self


# -- inputs ---------------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


def prepare_inputs(workflow: Workflow, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's inputs: ``given`` checked against the declarations, defaults applied.

    Raises ``WorkflowError`` listing every unknown, missing or mistyped input.
    """
    given = dict(given or {})
    problems: list[str] = []
    for name in sorted(set(given) - set(workflow.inputs)):
        declared = ", ".join(workflow.inputs) or "none"
        problems.append(f"unknown input '{name}' (declared: {declared})")
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name not in given:
            if spec.has_default:
                values[name] = spec.default
            else:
                problems.append(f"input '{name}' ({spec.type}) is required: give it with"
                                f" --input {name}=VALUE")
            continue
        value = given[name]
        kinds = _TYPES[spec.type]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            problems.append(f"input '{name}' must be {spec.type}, got {type(value).__name__}")
        elif spec.enum is not None and value not in spec.enum:
            problems.append(f"input '{name}' must be one of: "
                            + ", ".join(json.dumps(v) for v in spec.enum))
        else:
            values[name] = value
    if problems:
        raise WorkflowError(f"workflow {workflow.name}: " + "; ".join(problems))
    return values


# -- running --------------------------------------------------------------------------------


async def run_workflow(
    runtime: Runtime,
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    on_event: Callable[[RunEvent], None] | None = None,
) -> RunResult:
    """Run ``workflow`` with ``runtime``; see the module docstring for the guarantees.

    Raises ``WorkflowError`` before any request for bad inputs, an operation the runtime
    does not know or a foreach list over the limit; step failures are in the result.
    """
    run = _Run(runtime, workflow, prepare_inputs(workflow, inputs), on_event)
    return await run.execute()


def run_workflow_sync(
    runtime: Runtime,
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    on_event: Callable[[RunEvent], None] | None = None,
) -> RunResult:
    """``run_workflow`` for callers that are not async (starts and ends its own event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_workflow(runtime, workflow, inputs, on_event=on_event))
    raise WorkflowError("run_workflow_sync was called inside a running event loop: use"
                        " `await run_workflow(...)` there instead")


class _Run:
    def __init__(self, runtime: Runtime, workflow: Workflow, inputs: dict[str, Any],
                 on_event: Callable[[RunEvent], None] | None) -> None:
        self.runtime = runtime
        self.workflow = workflow
        self.inputs = inputs
        self.on_event = on_event
        self.outputs: dict[str, Any] = {}
        self.results = {s.id: StepResult(s.id, s.operation, s.authentication)
                        for s in workflow.steps}
        self.authentications: dict[str, Authentication] = {}
        self.clients: dict[tuple[str, str], httpx.AsyncClient] = {}
        self._secrets: list[str] | None = None
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
        warnings: list[str] = []
        outputs = self._outputs(warnings) if status != "failed" else {}
        duration = _ms(started)
        self.emit("run_finished", status=status, duration_ms=duration, error=error)
        return RunResult(self.workflow.name, status, self.inputs, self.results, outputs,
                         error, duration, warnings)

    # -- before any request -------------------------------------------------------------------

    def _preflight_static(self) -> None:
        for step in self.workflow.steps:
            try:
                self.runtime.services.operation(step.operation)
            except ConnectorSDKError as exc:
                raise WorkflowError(f"step '{step.id}': {exc}", step=step.id) from None
            if step.foreach is None or any(r.root == "steps" for r in step.foreach.references):
                continue
            try:
                items = step.foreach.render({"inputs": self.inputs})
            except WorkflowError as exc:
                raise WorkflowError(f"step '{step.id}' foreach: {exc}", step=step.id) from None
            _check_items(step, items)

    def _resolve_authentications(self) -> dict[str, Any] | None:
        for step in self.workflow.steps:
            key = f"{step.authentication}\0{step.service}"
            if key in self.authentications:
                continue
            try:
                self.authentications[key] = self.runtime.resolve_authentication(
                    step.authentication, step.service)
            except ConnectorSDKError as exc:
                result = self.results[step.id]
                result.status = "failed"
                result.error = self._report(exc, step)
                return result.error
        return None

    def _client(self, step: Step) -> tuple[Authentication, httpx.AsyncClient]:
        authentication = self.authentications[f"{step.authentication}\0{step.service}"]
        key = (step.authentication, step.service)
        client = self.clients.get(key)
        if client is None:
            client = self.runtime.async_client(authentication)
            self.stack.push_async_callback(client.aclose)
            self.clients[key] = client
        return authentication, client

    # -- steps ----------------------------------------------------------------------------------

    async def _run_step(self, step: Step) -> StepResult:
        result = self.results[step.id]
        started = time.perf_counter()
        scope = {"inputs": self.inputs, "steps": self.outputs}
        try:
            authentication, client = self._client(step)
            if step.foreach is None:
                self.emit("step_started", step)
                payload = step.inputs.render(scope)
                result.output = await self._call(step, authentication, client, payload)
                result.status = "succeeded"
            else:
                rendered: Any = None
                try:
                    rendered = step.foreach.render(scope)
                    items = _check_items(step, rendered)
                finally:
                    self.emit("step_started", step,
                              total=len(rendered) if isinstance(rendered, list) else 0)
                await self._foreach(step, authentication, client, items, result)
        except _STEP_ERRORS as exc:
            result.status = "failed"
            result.error = self._report(exc, step)
        result.duration_ms = _ms(started)
        if result.status == "succeeded" or result.items is not None:
            self.outputs[step.id] = result.output
        failed = sum(1 for i in result.items if i.status == "failed") if result.items else 0
        self.emit("step_finished", step, status=result.status, duration_ms=result.duration_ms,
                  error=result.error, done=len(result.items or ()), failed=failed)
        return result

    async def _call(self, step: Step, authentication: Authentication,
                    client: httpx.AsyncClient, payload: Any) -> Any:
        from .._operations.calls import PageLimits, call_operation

        limits = None
        if step.max_pages is not None or step.max_items is not None:
            limits = PageLimits(max_pages=step.max_pages, max_items=step.max_items)
        return await call_operation(self.runtime, step.operation, authentication, payload,
                                    limits=limits, client=client)

    async def _foreach(self, step: Step, authentication: Authentication,
                       client: httpx.AsyncClient, items: list[Any], result: StepResult) -> None:
        total = len(items)
        outputs: list[Any] = [None] * total
        statuses: list[Status] = ["skipped"] * total
        durations = [0.0] * total
        errors: dict[int, dict[str, Any]] = {}
        every = max(1, min(100, math.ceil(total / 10)))
        state = {"next": 0, "done": 0, "failed": 0, "stop": False}
        inputs, steps = self.inputs, self.outputs

        async def worker() -> None:
            while not state["stop"]:
                index = state["next"]
                if index >= total:
                    return
                state["next"] = index + 1
                started = time.perf_counter()
                try:
                    payload = step.inputs.render(
                        {"inputs": inputs, "steps": steps, "item": items[index]})
                    outputs[index] = await self._call(step, authentication, client, payload)
                    statuses[index] = "succeeded"
                except _STEP_ERRORS as exc:
                    statuses[index] = "failed"
                    errors[index] = self._report(exc, step, item=index)
                    state["failed"] += 1
                    if not step.continue_on_error:
                        state["stop"] = True
                durations[index] = _ms(started)
                state["done"] += 1
                if state["done"] % every == 0 or state["done"] == total:
                    self.emit("foreach_progress", step, done=state["done"], total=total,
                              failed=state["failed"])

        async with asyncio.TaskGroup() as group:
            for _ in range(min(step.concurrency, total)):
                group.create_task(worker())
        result.items = [ItemResult(i, statuses[i], durations[i], errors.get(i))
                        for i in range(total)]
        result.output = outputs
        if errors:
            result.status = "failed"
            first = min(errors)
            result.error = {**errors[first],
                            "message": f"{len(errors)} of {total} item(s) failed; first, item"
                                       f" {first}: {errors[first]['message']}"}
        else:
            result.status = "succeeded"

    def _outputs(self, warnings: list[str]) -> dict[str, Any]:
        """Each output, or None with a warning when its reference cannot be resolved (a
        path the operation's output does not have, or a step that failed under
        continue_on_error): the steps' results are still worth returning."""
        scope = {"inputs": self.inputs, "steps": self.outputs}
        values: dict[str, Any] = {}
        for name, compiled in self.workflow.outputs.items():
            try:
                values[name] = compiled.render(scope)
            except WorkflowError as exc:
                values[name] = None
                warnings.append(f"output '{name}': {exc}")
        return values

    # -- reports --------------------------------------------------------------------------------

    def _report(self, exc: BaseException, step: Step, *, item: int | None = None
                ) -> dict[str, Any]:
        report: dict[str, Any] = {
            "step": step.id,
            "operation": step.operation,
            "authentication": step.authentication,
            "service": step.service,
        }
        if item is not None:
            report["item"] = item
        report["type"] = type(exc).__name__
        report["status"] = getattr(exc, "status", None)
        report["provider_message"] = self._scrub(getattr(exc, "provider_message", None))
        report["message"] = self._scrub(str(exc)) or type(exc).__name__
        return report

    def _scrub(self, text: Any) -> Any:
        if not isinstance(text, str) or not text:
            return text
        if self._secrets is None:
            self._secrets = sorted(
                {value.reveal() for auth in self.authentications.values()
                 for value in auth.parameters.values()
                 if isinstance(value, Secret) and len(value.reveal()) >= 4},
                key=len, reverse=True)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _check_items(step: Step, items: Any) -> list[Any]:
    """``items`` if it is a list within the limit; else ``WorkflowError`` naming the step."""
    if not isinstance(items, list):
        kind = "null" if items is None else type(items).__name__
        raise WorkflowError(f"step '{step.id}': foreach needs a list, got {kind}",
                            step=step.id)
    if len(items) > MAX_FOREACH_ITEMS:
        raise WorkflowError(
            f"step '{step.id}': foreach has {len(items)} items, more than the limit of"
            f" {MAX_FOREACH_ITEMS}; nothing was sent for this step: split the work",
            step=step.id)
    return items


def _item_error(result: StepResult) -> dict[str, Any] | None:
    for item in result.items or ():
        if item.error is not None:
            return item.error
    return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
