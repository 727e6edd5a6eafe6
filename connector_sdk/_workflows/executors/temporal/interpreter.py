"""The one generic Temporal workflow: it interprets a checked workflow document.

``RunWorkflow`` receives the document's data (JSON, as read from the file the client checked),
the run's prepared inputs and the activity settings, builds the ``Workflow`` with the same
pure code a local run uses (``model.build_workflow``, ``references``, ``step.render_call``,
``step.check_items``, ``Workflow.render_outputs``) and runs its steps in order: each step, and
each foreach item, is one ``connector-sdk.run_step`` activity (``activities.py``). Foreach
items run on ``concurrency`` tasks that take the next index in turn; without
``continue_on_error`` the first failed item stops the others from starting (items in flight
finish); a failed step stops the run unless it has ``continue_on_error``. All of it is
deterministic: no clock but ``workflow.time()``, no I/O, references resolved in memory, so
a replay on any worker takes the same path.

Large fan-outs: a foreach of more than ``chunk_items`` items (default ``CHUNK_ITEMS``) runs in
child workflows (``ForeachChunk``) of that many items each, one after another, so no history
holds more than a chunk's activities and no payload more than a chunk's results. The run's
own result then lists those children (``chunks``) instead of the items; the client reads
them back (``client.assemble``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from ...._errors import WorkflowError
    from ...._manifest.reader import Document
    from ...model import Step, build_workflow
    from ...results import ItemResult, RunResult, StepResult
    from ...step import check_items, error_report, render_call

__all__ = ["CHUNK_ITEMS", "MAX_RESULT_BYTES", "ForeachChunk", "RunWorkflow"]

#: Items of one foreach run by the workflow itself; more go to child workflows of this size.
CHUNK_ITEMS = 200
#: The run's result is kept under this many bytes of JSON (Temporal fails a payload at 2 MB).
MAX_RESULT_BYTES = 1_500_000
#: A worker that dies is noticed after this long without a heartbeat; its calls then retry.
HEARTBEAT_SECONDS = 10.0
_PERMANENT = "ConnectorPermanentError"


class _Calls:
    """How the activities of a run are scheduled: timeouts and retries from its settings."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.timeouts: dict[str, float] = settings["timeouts"]
        self.heartbeat = timedelta(seconds=settings.get("heartbeat", HEARTBEAT_SECONDS))
        self.retry = RetryPolicy(initial_interval=timedelta(seconds=settings["retry_initial"]),
                                 maximum_interval=timedelta(seconds=settings["retry_maximum"]),
                                 maximum_attempts=settings["maximum_attempts"],
                                 non_retryable_error_types=[_PERMANENT])

    async def run(self, call: dict[str, Any]) -> dict[str, Any]:
        """The outcome of one call: its result, or the report of its last failure."""
        seconds = self.timeouts.get(call["step"], 300.0)
        try:
            result: dict[str, Any] = await workflow.execute_activity(
                "connector-sdk.run_step", call, start_to_close_timeout=timedelta(seconds=seconds),
                heartbeat_timeout=self.heartbeat, retry_policy=self.retry)
        except ActivityError as exc:
            return {"status": "failed", "error": _report_of(exc, call, seconds),
                    "duration_ms": 0.0}
        return result

    async def run_items(self, entries: list[dict[str, Any]], concurrency: int,
                        continue_on_error: bool) -> list[dict[str, Any] | None]:
        """Each entry's outcome (None: not started because an item failed first). An entry
        is ``{"call": …}`` or ``{"error": report}`` (its input did not render)."""
        outcomes: list[dict[str, Any] | None] = [None] * len(entries)
        state = {"next": 0, "stop": False}

        async def worker() -> None:
            while not state["stop"] and state["next"] < len(entries):
                index = state["next"]
                state["next"] = index + 1
                entry = entries[index]
                outcome = await self.run(entry["call"]) if "call" in entry else \
                    {"status": "failed", "error": entry["error"], "duration_ms": 0.0}
                outcomes[index] = outcome
                if outcome["status"] == "failed" and not continue_on_error:
                    state["stop"] = True

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(entries)))))
        return outcomes


def _report_of(exc: ActivityError, call: dict[str, Any], seconds: float) -> dict[str, Any]:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.details \
            and isinstance(cause.details[0], dict):
        report: dict[str, Any] = cause.details[0]
        return report
    message = f"the activity did not finish: {cause or exc}"
    if cause is not None and type(cause).__name__ == "TimeoutError":
        message = f"the step did not finish within {seconds:.0f} s (start-to-close timeout)"
    failure = WorkflowError(message, step=call["step"])
    return error_report(failure, step=call["step"], operation=call["operation"],
                        authentication=call["authentication"], item=call.get("item"))


@workflow.defn(name="connector-sdk.foreach-chunk")
class ForeachChunk:
    """A slice of one foreach step's items, for a large fan-out (see the module docstring)."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> list[dict[str, Any] | None]:
        calls = _Calls(request["settings"])
        return await calls.run_items(request["entries"], request["concurrency"],
                                     request["continue_on_error"])


@workflow.defn(name="connector-sdk.run")
class RunWorkflow:
    """A whole run; returns ``{"result": RunResult.as_dict(), "chunks": {step: [ids]}}``."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        started = workflow.time()
        wf = build_workflow(Document(file=request["source"], data=request["document"]))
        inputs: dict[str, Any] = request["inputs"]
        settings: dict[str, Any] = request["settings"]
        self.calls = _Calls(settings)
        self.chunk_items = int(settings.get("chunk_items", CHUNK_ITEMS))
        self.chunks: dict[str, list[str]] = {}
        outputs: dict[str, Any] = {}
        results = {s.id: StepResult(s.id, s.operation, s.authentication) for s in wf.steps}
        status, error = "succeeded", None
        failed = await workflow.execute_activity(
            "connector-sdk.check_authentications",
            [{"id": s.id, "operation": s.operation, "authentication": s.authentication}
             for s in wf.steps],
            start_to_close_timeout=timedelta(seconds=60), retry_policy=self.calls.retry)
        if failed is not None:
            results[failed["step"]].status, results[failed["step"]].error = "failed", failed
            status, error = "failed", failed
        else:
            for step in wf.steps:
                result = results[step.id]
                await self._step(step, {"inputs": inputs, "steps": outputs}, result)
                if result.status == "succeeded" or result.items is not None:
                    outputs[step.id] = result.output
                if result.status == "failed":
                    if not step.continue_on_error:
                        status, error = "failed", result.error
                        break
                    status = "partial"
                elif result.items and any(i.status == "failed" for i in result.items):
                    status = "partial"
        warnings: list[str] = []
        rendered = wf.render_outputs({"inputs": inputs, "steps": outputs}, warnings) \
            if status != "failed" else {}
        run = RunResult(wf.name, status, inputs, results, rendered,  # type: ignore[arg-type]
                        error, round((workflow.time() - started) * 1000, 3), warnings)
        return self._bounded(run)

    async def _step(self, step: Step, scope: dict[str, Any], result: StepResult) -> None:
        started = workflow.time()
        if step.foreach is None:
            try:
                call = _call_dict(step, scope, None)
            except WorkflowError as exc:
                outcome: dict[str, Any] = {"status": "failed", "error": _report(exc, step)}
            else:
                outcome = await self.calls.run(call)
            result.status, result.output = outcome["status"], outcome.get("output")
            result.error = outcome.get("error")
        else:
            try:
                items = check_items(step, step.foreach.render(scope))
            except WorkflowError as exc:
                result.status, result.error = "failed", _report(exc, step)
            else:
                await self._foreach(step, scope, items, result)
        result.duration_ms = round((workflow.time() - started) * 1000, 3)

    async def _foreach(self, step: Step, scope: dict[str, Any], items: list[Any],
                       result: StepResult) -> None:
        outcomes: list[dict[str, Any] | None] = []
        if len(items) <= self.chunk_items:
            outcomes = await self.calls.run_items(_entries(step, scope, items, 0),
                                                  step.concurrency, step.continue_on_error)
        else:
            ids = self.chunks.setdefault(step.id, [])
            stop = False
            for start in range(0, len(items), self.chunk_items):
                part = items[start:start + self.chunk_items]
                if stop:
                    outcomes.extend([None] * len(part))
                    continue
                child = f"{workflow.info().workflow_id}/{step.id}/{len(ids)}"
                ids.append(child)
                got = await self._chunk(child, step, _entries(step, scope, part, start))
                outcomes.extend(got)
                stop = not step.continue_on_error and any(
                    o is not None and o["status"] == "failed" for o in got)
        apply_outcomes(result, outcomes)

    async def _chunk(self, child: str, step: Step, entries: list[dict[str, Any]]
                     ) -> list[dict[str, Any] | None]:
        request = {"entries": entries, "concurrency": step.concurrency,
                   "continue_on_error": step.continue_on_error,
                   "settings": {"timeouts": self.calls.timeouts, **_retry_settings(self.calls)}}
        try:
            got: list[dict[str, Any] | None] = await workflow.execute_child_workflow(
                "connector-sdk.foreach-chunk", request, id=child)
        except ChildWorkflowError as exc:
            report = _report(WorkflowError(f"chunk {child} failed: {exc.cause or exc}",
                                           step=step.id), step)
            return [{"status": "failed", "error": report, "duration_ms": 0.0}] * len(entries)
        return got

    def _bounded(self, run: RunResult) -> dict[str, Any]:
        """The result as a dict, its chunked steps' items left to their children, and its
        outputs dropped (with a warning) if they would not fit in one payload."""
        out = run.as_dict()
        for step_id in self.chunks:
            step = out["steps"][step_id]
            step["total"] = len(step["items"])
            step["items"] = step["output"] = None
        size = len(json.dumps(out, separators=(",", ":"), default=str))
        if size > MAX_RESULT_BYTES:
            out["outputs"] = dict.fromkeys(out["outputs"])
            out.setdefault("warnings", []).append(
                f"the outputs make the result {size} bytes, over the {MAX_RESULT_BYTES}-byte"
                " limit of one Temporal payload: they were left out; refer to fewer items in"
                " `outputs` (each step's results are still in `connector-sdk runs show`)")
        # Temporal's JSON converter sorts object keys: the order is kept beside the result
        order = {name: list(out[name]) for name in ("steps", "outputs", "inputs")}
        return {"result": out, "chunks": self.chunks, "order": order}


def apply_outcomes(result: StepResult, outcomes: list[dict[str, Any] | None]) -> None:
    """Fill a foreach step's result from its items' outcomes, as the local runner does."""
    total = len(outcomes)
    result.items = [ItemResult(i, o["status"] if o else "skipped",
                               o.get("duration_ms", 0.0) if o else 0.0,
                               o.get("error") if o else None) for i, o in enumerate(outcomes)]
    result.output = [o.get("output") if o else None for o in outcomes]
    errors = {i: o["error"] for i, o in enumerate(outcomes) if o and o.get("error")}
    if errors:
        first = min(errors)
        result.status = "failed"
        result.error = {**errors[first],
                        "message": f"{len(errors)} of {total} item(s) failed; first, item"
                                   f" {first}: {errors[first]['message']}"}
    else:
        result.status = "succeeded"


def _retry_settings(calls: _Calls) -> dict[str, Any]:
    retry = calls.retry
    return {"heartbeat": calls.heartbeat.total_seconds(),
            "retry_initial": retry.initial_interval.total_seconds(),
            "retry_maximum": (retry.maximum_interval or retry.initial_interval).total_seconds(),
            "maximum_attempts": retry.maximum_attempts}


def _entries(step: Step, scope: dict[str, Any], items: list[Any], offset: int
             ) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=offset):
        try:
            entries.append({"call": _call_dict(step, {**scope, "item": item}, index)})
        except WorkflowError as exc:
            entries.append({"error": _report(exc, step, index)})
    return entries


def _call_dict(step: Step, scope: dict[str, Any], item: int | None) -> dict[str, Any]:
    call = render_call(step, scope, item=item)
    return {"step": call.step, "operation": call.operation,
            "authentication": call.authentication, "input": call.input, "item": call.item,
            "max_pages": call.max_pages, "max_items": call.max_items}


def _report(exc: BaseException, step: Step, item: int | None = None) -> dict[str, Any]:
    return error_report(exc, step=step.id, operation=step.operation,
                        authentication=step.authentication, item=item)
