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
chunk workflows (``ForeachChunk``) of that many items each, one after another, so no history
holds more than one chunk's activities and no payload more than one chunk's results. Each
chunk is started and awaited by a ``connector-sdk.run_chunk`` activity (on the task queue
``QUEUE.chunks``, whose slots are the worker's own, so waiting never takes a slot an item
needs), not as a child workflow: a child's result would land in the run's history, so the
run's history would hold every item's output. The activity hands the run a summary of the
chunk (items failed, the first failure) and the chunk's outputs only when a later step or an
output refers to the step. Chunk inputs are sent compact: what every item shares once, then
each item's rendered input. The run's own result lists the chunks (``chunks``) instead of
the items; the client reads them back (``client.assemble``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ...._errors import WorkflowError
    from ...._manifest.reader import Document
    from ...model import Step, Workflow, build_workflow
    from ...results import ItemResult, RunResult, StepResult
    from ...step import check_items, error_report, render_call

__all__ = ["CHUNK_ITEMS", "CHUNK_QUEUE", "MAX_RESULT_BYTES", "ForeachChunk", "RunWorkflow",
           "chunk_bounds", "referenced_steps", "summarize"]

#: Items of one foreach run by the workflow itself; more go to child workflows of this size.
CHUNK_ITEMS = 200
#: The run's result is kept under this many bytes of JSON (Temporal fails a payload at 2 MB).
MAX_RESULT_BYTES = 1_500_000
#: A worker that dies is noticed after this long without a heartbeat; its calls then retry.
HEARTBEAT_SECONDS = 10.0
#: The chunk waiters' task queue is the run's queue with this suffix.
CHUNK_QUEUE = ".chunks"
#: How long one chunk may take, all its items and their retries included.
CHUNK_TIMEOUT = timedelta(days=7)
_PERMANENT = "ConnectorPermanentError"


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` slices of ``total`` items in chunks of ``size``: in order,
    contiguous, each of ``size`` items but the last."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def referenced_steps(wf: Workflow) -> set[str]:
    """The ids of the steps whose output a later step or an output refers to (every step
    when a value refers to ``steps`` as a whole)."""
    found: set[str] = set()
    values = [v for s in wf.steps for v in (s.inputs, s.foreach) if v is not None]
    for compiled in [*values, *wf.outputs.values()]:
        for reference in compiled.references:
            if reference.root == "steps" and not reference.path:
                return {s.id for s in wf.steps}
            if reference.step is not None:
                found.add(reference.step)
    return found


def summarize(outcomes: list[dict[str, Any] | None], offset: int, keep: bool) -> dict[str, Any]:
    """What the run learns of a finished chunk: the items that failed, the first failure
    (its index in the whole list and its report) and, if ``keep``, the items' outputs."""
    failures = [(offset + i, o["error"]) for i, o in enumerate(outcomes)
                if o is not None and o.get("error")]
    return {"count": len(outcomes), "failed": len(failures),
            "first": {"index": failures[0][0], "error": failures[0][1]} if failures else None,
            "outputs": [o.get("output") if o else None for o in outcomes] if keep else None}


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
        return await calls.run_items(_expand(request), request["concurrency"],
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
        self.totals: dict[str, int] = {}
        self.referenced = referenced_steps(wf)
        self.queue = workflow.info().task_queue
        outputs: dict[str, Any] = {}
        results = {s.id: StepResult(s.id, s.operation, s.authentication) for s in wf.steps}
        status, error = "succeeded", None
        # a local activity: a store lookup on this worker, recorded as a marker, without the
        # server round trip a scheduled activity costs before the first step
        failed = await workflow.execute_local_activity(
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
                if result.status == "succeeded" or result.items is not None \
                        or step.id in self.chunks:
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
        if len(items) <= self.chunk_items:
            outcomes = await self.calls.run_items(_entries(step, scope, items, 0),
                                                  step.concurrency, step.continue_on_error)
            apply_outcomes(result, outcomes)
            return
        ids = self.chunks.setdefault(step.id, [])
        self.totals[step.id] = len(items)
        keep = step.id in self.referenced
        failed, first = 0, None
        outputs: list[Any] = []
        for start, end in chunk_bounds(len(items), self.chunk_items):
            if failed and not step.continue_on_error:
                outputs.extend([None] * (end - start))
                continue
            # the run id too: a run started again under the same workflow id must not attach
            # to the finished chunks of the earlier run (REJECT_DUPLICATE + USE_EXISTING)
            info = workflow.info()
            ids.append(f"{info.workflow_id}/{info.run_id}/{step.id}/{len(ids)}")
            got = await self._chunk(ids[-1], step, scope, items[start:end], start, keep)
            failed += got["failed"]
            first = first or got["first"]
            outputs.extend(got["outputs"] or [None] * (end - start))
        result.output = outputs if keep else None
        result.status = "failed" if failed else "succeeded"
        if first is not None:
            result.error = {**first["error"],
                            "message": f"{failed} of {len(items)} item(s) failed; first, item"
                                       f" {first['index']}: {first['error']['message']}"}

    async def _chunk(self, chunk_id: str, step: Step, scope: dict[str, Any], items: list[Any],
                     offset: int, keep: bool) -> dict[str, Any]:
        """Run one chunk through the ``run_chunk`` activity; its summary (``summarize``)."""
        request = {"id": chunk_id, "keep": keep, "offset": offset,
                   "chunk": {**_compact(step, scope, items, offset),
                             "concurrency": step.concurrency,
                             "continue_on_error": step.continue_on_error,
                             "settings": {"timeouts": self.calls.timeouts,
                                          **_retry_settings(self.calls)}}}
        try:
            summary: dict[str, Any] = await workflow.execute_activity(
                "connector-sdk.run_chunk", request, task_queue=self.queue + CHUNK_QUEUE,
                start_to_close_timeout=CHUNK_TIMEOUT, heartbeat_timeout=self.calls.heartbeat,
                retry_policy=self.calls.retry)
        except ActivityError as exc:
            report = _report(WorkflowError(f"chunk {chunk_id} failed: {exc.cause or exc}",
                                           step=step.id), step, offset)
            return {"count": len(items), "failed": len(items),
                    "first": {"index": offset, "error": report}, "outputs": None}
        return summary

    def _bounded(self, run: RunResult) -> dict[str, Any]:
        """The result as a dict, its chunked steps' items left to their children, and its
        outputs dropped (with a warning) if they would not fit in one payload."""
        out = run.as_dict()
        for step_id, total in self.totals.items():
            step = out["steps"][step_id]
            step["total"], step["chunk_items"] = total, self.chunk_items
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


def _compact(step: Step, scope: dict[str, Any], items: list[Any], offset: int
             ) -> dict[str, Any]:
    """A chunk's entries with what their calls share said once (``_expand`` reverses it)."""
    shared = {"step": step.id, "operation": step.operation,
              "authentication": step.authentication, "max_pages": step.max_pages,
              "max_items": step.max_items}
    inputs: list[Any] = []
    errors: dict[str, Any] = {}
    for number, entry in enumerate(_entries(step, scope, items, offset)):
        inputs.append(entry["call"]["input"] if "call" in entry else None)
        if "error" in entry:
            errors[str(number)] = entry["error"]
    return {"shared": shared, "offset": offset, "inputs": inputs, "errors": errors}


def _expand(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    shared, offset, errors = chunk["shared"], chunk["offset"], chunk["errors"]
    return [{"error": errors[str(n)]} if str(n) in errors else
            {"call": {**shared, "input": value, "item": offset + n}}
            for n, value in enumerate(chunk["inputs"])]


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
