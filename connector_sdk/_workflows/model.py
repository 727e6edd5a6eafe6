"""A workflow file in memory: frozen dataclasses built from a checked document.

``load_workflow`` reads a file (or text), runs every check ``connector-sdk validate`` runs
(schema, references, operations and their input schemas) and raises ``ManifestError`` with
all the problems when any is found; otherwise it returns a ``Workflow`` whose step inputs are
compiled once (``_references.compile_value``), so the runner renders them per item without
parsing again. Code reading a ``Workflow`` may rely on: step ids are unique, every reference
names a declared input or an earlier step, ``item`` appears only inside foreach steps, and
every operation was known when the workflow was loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._errors import ManifestError
from .._manifest.reader import Document, load_yaml, read_yaml_file
from .references import Compiled, compile_value

if TYPE_CHECKING:
    from .._plugins.registry import ServiceRegistry

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "MAX_FOREACH_ITEMS",
    "Step",
    "Workflow",
    "WorkflowInput",
    "build_workflow",
    "load_workflow",
]

#: A foreach list longer than this is refused before any of its requests is made.
MAX_FOREACH_ITEMS = 100_000
#: Items of one foreach step in flight at once, at most and by default.
MAX_CONCURRENCY = 100
DEFAULT_CONCURRENCY = 10

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

    @property
    def required(self) -> bool:
        return not self.has_default


@dataclass(frozen=True, slots=True)
class Step:
    """One operation call (or one per foreach item) with a named authentication.

    ``inputs`` and ``foreach`` are compiled; ``raw_inputs`` is the value as written.
    ``line`` is where the step starts in its file (0 when built from data).
    """

    id: str
    operation: str
    authentication: str
    inputs: Compiled
    raw_inputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
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

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


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
            raw_inputs=MappingProxyType(dict(raw.get("inputs") or {})),
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


def load_workflow(
    source: Path | str | bytes,
    *,
    file: str | None = None,
    services: ServiceRegistry | None = None,
) -> Workflow:
    """Read and check a workflow; raises ``ManifestError`` listing every problem.

    ``source`` is a path (a one-line ``str`` ending in .yaml/.yml counts as one), or YAML
    text/bytes (then ``file`` names it in messages).
    ``services`` is the registry to check operations against (a runtime passes its own);
    by default the installed plugins are loaded when the first operation is checked.
    """
    from .checks import check_workflow_document

    if isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml")):
        source = Path(source)  # a file name, not YAML text
    if isinstance(source, Path):
        doc, problems = read_yaml_file(source, file)
    else:
        doc, problems = load_yaml(source, file or "<workflow>")
    if doc is not None:
        problems = problems + check_workflow_document(doc, services=services)
    if doc is None or problems:
        where = file or (str(source) if isinstance(source, Path) else "<workflow>")
        errors = [p for p in problems if p.severity == "error"]
        if doc is None or errors:
            raise ManifestError(
                f"workflow {where} is invalid ({len(errors) or len(problems)} problem(s));"
                " fix them (`connector-sdk validate` shows the same list)",
                problems=sorted(problems, key=lambda p: (p.line, p.column, p.rule)))
    return build_workflow(doc)
