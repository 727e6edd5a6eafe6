"""What a workflow run reports, whichever executor ran it: statuses, results, events.

``RunResult.as_dict()`` is the JSON report the CLI prints: every step's status, output, error
and duration; foreach steps list their items' results in input order. Steps and items are
``succeeded``, ``failed`` or ``skipped`` (not run because the run stopped first). The run is
``succeeded``, ``partial`` (a ``continue_on_error`` step or item failed and the run went on)
or ``failed`` (a step failed and stopped the run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import WorkflowError
from .._secrets import json_default

__all__ = ["EventKind", "ItemResult", "RunEvent", "RunResult", "RunStatus", "Status",
           "StepResult"]

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
