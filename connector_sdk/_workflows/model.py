"""A workflow in memory: frozen dataclasses built from a checked document.

``build_workflow`` turns a document that passed ``checks.check_workflow_document`` into a
``Workflow`` whose step inputs are compiled once (``references.compile_value``), so an
executor renders them per item without parsing again (``loading.load_workflow`` reads, checks
and builds in one call). Code reading a ``Workflow`` may rely on: step ids are unique, every
reference names a declared input or an earlier step, ``item`` appears only inside foreach
steps, and every operation was known when the workflow was loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import WorkflowError
from .._manifest.reader import Document
from .limits import DEFAULT_CONCURRENCY
from .references import Compiled, compile_value

__all__ = ["Step", "Workflow", "WorkflowInput", "build_workflow"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WorkflowInput:
    """A named input; required when it has no default."""

    name: str
    type: str
    description: str = ""
    default: Any = None
    has_default: bool = False
    enum: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One operation call (or one per foreach item) with a named authentication.

    ``inputs`` and ``foreach`` are compiled.
    ``line`` is where the step starts in its file (0 when built from data).
    """

    id: str
    operation: str
    authentication: str
    inputs: Compiled
    foreach: Compiled | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    continue_on_error: bool = False
    max_pages: int | None = None
    max_items: int | None = None
    description: str = ""
    line: int = 0

    @property
    def service(self) -> str:
        return self.operation.partition(".")[0]


@dataclass(frozen=True, slots=True)
class Workflow:
    """A checked workflow: inputs, steps in order, and the outputs computed at the end
    (one compiled value per output name)."""

    name: str
    steps: tuple[Step, ...]
    inputs: Mapping[str, WorkflowInput] = field(default_factory=lambda: _EMPTY)
    outputs: Mapping[str, Compiled] = field(default_factory=lambda: _EMPTY)
    description: str = ""
    source: str = ""

    def render_outputs(self, scope: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
        """Each output rendered in ``scope`` (the run's ``inputs`` and the steps' outputs).

        An output whose reference cannot be resolved (a path the operation's output does not
        have, a step that failed under continue_on_error) is None, with a warning appended
        to ``warnings``: the steps' results are still worth returning.
        """
        values: dict[str, Any] = {}
        for name, compiled in self.outputs.items():
            try:
                values[name] = compiled.render(scope)
            except WorkflowError as exc:
                values[name] = None
                warnings.append(f"output '{name}': {exc}")
        return values


def build_workflow(doc: Document, *, name: str | None = None) -> Workflow:
    """The ``Workflow`` of a document that passed ``check_workflow_document``."""
    data = doc.data
    inputs = {
        key: WorkflowInput(
            name=key,
            type=spec["type"],
            description=spec.get("description", ""),
            default=spec.get("default"),
            has_default="default" in spec,
            enum=tuple(spec["enum"]) if "enum" in spec else None,
        )
        for key, spec in (data.get("inputs") or {}).items()
    }
    steps = []
    for index, raw in enumerate(data["steps"]):
        limits = raw.get("limits") or {}
        steps.append(Step(
            id=raw["id"],
            operation=raw["operation"],
            authentication=raw["authentication"],
            inputs=compile_value(raw.get("inputs") or {}),
            foreach=compile_value(raw["foreach"]) if "foreach" in raw else None,
            concurrency=raw.get("concurrency", DEFAULT_CONCURRENCY),
            continue_on_error=raw.get("continue_on_error", False),
            max_pages=limits.get("max_pages"),
            max_items=limits.get("max_items"),
            description=raw.get("description", ""),
            line=doc.where(("steps", index))[0],
        ))
    outputs = {key: compile_value(value) for key, value in (data.get("outputs") or {}).items()}
    default_name = Path(doc.file).stem if doc.file and not doc.file.startswith("<") else "workflow"
    return Workflow(
        name=name or data.get("name") or default_name,
        steps=tuple(steps),
        inputs=MappingProxyType(inputs),
        outputs=MappingProxyType(outputs),
        description=data.get("description", ""),
        source=doc.file,
    )

