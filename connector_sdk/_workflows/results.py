"""What a workflow run reports, whichever executor ran it: statuses, results, events.

``RunResult.as_dict()`` is the JSON report the CLI prints: every step's status, output, error
and duration; foreach steps list their items' results in input order. Steps and items are
``succeeded``, ``failed`` or ``skipped`` (not run because the run stopped first). The run is
``succeeded``, ``partial`` (a ``continue_on_error`` step or item failed and the run went on)
or ``failed`` (a step failed and stopped the run).

A run can also stream each step call's result (``CallResult``) to a sink as it finishes:
``run_workflow(..., on_result=callable)``, or ``JsonLinesSink`` (one JSON line per call,
what ``connector-sdk run --results-jsonl FILE`` writes). A streamed foreach step keeps its
item outputs in memory only up to ``KEEP_STREAMED_OUTPUTS`` items, so a 100,000-item run
stays flat in memory (docs/workflows.md, "Streaming results").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from .._errors import WorkflowError
from .._secrets import MASK, json_default

__all__ = ["KEEP_STREAMED_OUTPUTS", "CallResult", "EventKind", "ItemResult", "JsonLinesSink",
           "RunEvent", "RunResult", "RunStatus", "Status", "StepResult"]

#: With a sink, a foreach step over more items than this keeps none of their outputs in
#: memory: its ``output`` is None in the report and to later steps and outputs (a warning
#: says so), and its ``items`` list only the failed ones. Every item is in the sink.
KEEP_STREAMED_OUTPUTS = 1_000

Status = Literal["succeeded", "failed", "skipped"]
RunStatus = Literal["succeeded", "partial", "failed"]
EventKind = Literal["run_started", "step_started", "foreach_progress", "step_finished",
                    "run_finished"]


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


@dataclass(frozen=True, slots=True)
class CallResult:
    """One step call's result, as a sink receives it the moment it finishes.

    ``index`` is the foreach item's position in its list (None for a step without
    ``foreach``). Items arrive in the order they *finish*, which with ``concurrency`` above 1
    is not the list's order: sort on ``index`` for that. Items that never started because the
    run stopped first arrive last, ``skipped``, in index order. ``error`` is the report of
    the failure (scrubbed of the run's secrets), None on success.
    """

    step: str
    index: int | None
    status: Status
    output: Any = None
    error: Mapping[str, Any] | None = None
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "index": self.index, "status": self.status,
                "duration_ms": self.duration_ms, "output": self.output, "error": self.error}


class JsonLinesSink:
    """Writes each ``CallResult`` as one line of JSON (https://jsonlines.org) to ``path``.

    The file is owner-only (0600: outputs are the provider's data), also when it existed
    before, and never reached through a symbolic link; it is opened, and an old one
    truncated, only when the first line is written, so a run refused before any step (an
    unknown authentication, say) leaves a previous results file as it was. Each line is
    flushed as it is written, so a run that fails or is interrupted keeps every line written
    before. ``Secret`` values are masked, and every string of ``secrets`` is replaced by the
    mask in each line, in the JSON-escaped forms it takes there too, as a last line of
    defence. Close it (``with``).
    """

    def __init__(self, path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        if self.path.is_dir() or self.path.is_symlink():
            raise OSError(f"{self.path} is a directory or a symbolic link, not a results file")
        folder = self.path.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"no directory {folder} for {self.path.name}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write in {folder}")
        self._out: IO[str] | None = None
        self.secrets = secrets
        self.lines = 0

    def _open(self) -> IO[str]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode applies to a new file only
        except OSError:
            os.close(fd)
            raise
        return os.fdopen(fd, "w", encoding="utf-8")

    def __call__(self, result: CallResult) -> None:
        line = json.dumps(result.as_dict(), default=json_default, ensure_ascii=False)
        for secret in self.secrets:
            if not secret:
                continue
            escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
            twice = json.dumps(escaped, ensure_ascii=False)[1:-1]
            for form in {secret, escaped, twice}:
                if form in line:
                    line = line.replace(form, MASK)
        if self._out is None:
            self._out = self._open()
        self._out.write(line + "\n")
        self._out.flush()
        self.lines += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def __enter__(self) -> JsonLinesSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
