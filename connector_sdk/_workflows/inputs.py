"""A run's inputs: the values given, checked against the workflow's declarations. Pure.

Every executor calls ``prepare_inputs`` before anything is sent, so bad inputs fail a run
the same way (``WorkflowError`` listing every unknown, missing or mistyped input) whatever
runs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import WorkflowError
from .model import Workflow

__all__ = ["prepare_inputs"]

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
