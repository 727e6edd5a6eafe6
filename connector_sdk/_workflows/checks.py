"""Checks of a workflow document beyond its JSON Schema: references and operations.

``check_workflow_document`` is what ``connector-sdk validate`` and ``load_workflow`` run. It
returns problems (never raises for bad input), each with a ``WORKFLOW-*`` rule id from
``_rules.RULES`` and the position of the offending value:

* references: ``{{ inputs.x }}`` must name a declared input; ``{{ steps.id... }}`` a step
  that runs *earlier* (a step cannot see its own output or a later step's, which also rules
  out cycles); ``{{ item }}`` only inside a foreach step's inputs;
* foreach: a literal list or exactly one placeholder, at most ``MAX_FOREACH_ITEMS`` literal
  items, a concurrency between 1 and ``MAX_CONCURRENCY``;
* operations: ``service.operation`` must be installed, and literal inputs must satisfy the
  operation's input schema (values that hold placeholders are checked at run time).

The caller passes the service registry to check operations against (a runtime's, the
installed services of ``loading.installed_services``, or a registry built from manifests):
checking never loads plugins, and the same document checks the same against the same registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._hints import closest, did_you_mean, json_type
from .._manifest.dialect import MatchBudget, MatchBudgetExceeded, with_budget
from .._manifest.reader import Document
from .._manifest.schema_errors import (
    describe,
    expected_type,
    missing_property,
    required_alternatives,
    unknown_properties,
)
from .._manifest.schemas import schema_problems
from .._manifest.templates import TemplateSyntaxError, parse_template
from .._problems import Problem
from .limits import MAX_CONCURRENCY, MAX_FOREACH_ITEMS
from .references import ROOTS, Reference, iter_templates, parse_reference

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from .._plugins.registry import ServiceRegistry

__all__ = ["check_workflow_document"]

Path_ = tuple[str | int, ...]
_STRUCTURAL = {"required", "additionalProperties", "minItems", "maxItems", "minProperties",
               "maxProperties", "type", "unevaluatedProperties"}


def check_workflow_document(doc: Document, *, services: ServiceRegistry) -> list[Problem]:
    """Every problem of a workflow document, its operations checked against ``services``."""
    if not isinstance(doc.data, dict):
        return [doc.problem((), "DOC-NOT-MAPPING",
                            "a workflow is a YAML mapping with workflow_version and steps")]
    problems = schema_problems(doc, "workflow")
    if not problems:
        return _Checker(doc, services).run()
    # The reference checks assume the shapes the schema guarantees; with schema problems they
    # still run, as far as the document's shape lets them, so one run reports (nearly) all.
    checker: _Checker | None = None
    try:
        checker = _Checker(doc, services)
        checker.run()
    except Exception:  # noqa: S110 - best effort over a document known to be malformed
        pass  # what it found before the shape stopped it is kept
    seen = set(problems)
    return problems + [p for p in (checker.problems if checker else []) if p not in seen]


class _Checker:
    def __init__(self, doc: Document, services: ServiceRegistry) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data
        self.services = services
        self.problems: list[Problem] = []
        self.inputs: dict[str, Any] = self.data.get("inputs") or {}
        self.steps: list[dict[str, Any]] = self.data["steps"]
        self.order: dict[str, int] = {}
        self.match_budget = MatchBudget()  # the document's, for literal inputs vs patterns

    def add(self, path: Path_, rule: str, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, rule, message, key=key))

    def run(self) -> list[Problem]:
        self._check_input_declarations()
        for index, step in enumerate(self.steps):
            if step["id"] in self.order:
                first = self.order[step["id"]]
                self.add(("steps", index, "id"), "WORKFLOW-STEP-DUPLICATE",
                         f"step id '{step['id']}' is used twice (first by step {first + 1}):"
                         " give each step its own id")
            else:
                self.order[step["id"]] = index
        for index, step in enumerate(self.steps):
            base: Path_ = ("steps", index)
            has_foreach = "foreach" in step
            self._check_foreach(index, step)
            concurrency = step.get("concurrency")
            if concurrency is not None and not has_foreach:
                self.add((*base, "concurrency"), "WORKFLOW-CONCURRENCY-INVALID",
                         "concurrency applies only to a foreach step: remove it or add foreach",
                         key=True)
            elif concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
                self.add((*base, "concurrency"), "WORKFLOW-CONCURRENCY-INVALID",
                         f"concurrency must be between 1 and {MAX_CONCURRENCY}")
            for name, value in (step.get("limits") or {}).items():
                if value < 1:
                    self.add((*base, "limits", name), "WORKFLOW-LIMITS-INVALID",
                             f"{name} must be at least 1 (leave it out for no limit)")
            self._check_references(
                step.get("inputs") or {}, (*base, "inputs"), index, allow_item=has_foreach)
            self._check_operation(index, step)
        outputs = self.data.get("outputs")
        if outputs:
            self._check_references(outputs, ("outputs",), len(self.steps), allow_item=False)
        return self.problems

    # -- inputs -----------------------------------------------------------------------------

    def _check_input_declarations(self) -> None:
        from jsonschema import Draft202012Validator

        for name, spec in self.inputs.items():
            if "default" not in spec:
                continue
            schema = {"type": spec["type"]}
            if "enum" in spec:
                schema["enum"] = spec["enum"]
            if not Draft202012Validator(schema).is_valid(spec["default"]):
                article = "an" if spec["type"][0] in "aeiou" else "a"
                expected = f"{article} {spec['type']}" + (" from its enum" if "enum" in spec
                                                         else "")
                self.add(("inputs", name, "default"), "WORKFLOW-INPUT-DEFAULT-INVALID",
                         f"the default of input '{name}' is not {expected}: fix the default or"
                         " the type")

    # -- foreach ----------------------------------------------------------------------------

    def _check_foreach(self, index: int, step: dict[str, Any]) -> None:
        if "foreach" not in step:
            return
        path: Path_ = ("steps", index, "foreach")
        source = step["foreach"]
        if isinstance(source, list):
            if len(source) > MAX_FOREACH_ITEMS:
                self.add(path, "WORKFLOW-FOREACH-TOO-LARGE",
                         f"foreach lists {len(source)} items; at most {MAX_FOREACH_ITEMS} are"
                         " allowed: split the work into several runs")
            self._check_references(source, path, index, allow_item=False)
            return
        try:
            template = parse_template(source)
        except TemplateSyntaxError as exc:
            self.add(path, "WORKFLOW-PLACEHOLDER-SYNTAX", str(exc))
            return
        if len(template.parts) != 1 or template.is_literal:
            self.add(path, "WORKFLOW-FOREACH-NOT-LIST",
                     "foreach is a list, or exactly one placeholder that gives a list (such as"
                     " '{{ steps.streams.data }}'), with no other text around it")
            return
        self._check_references(source, path, index, allow_item=False)

    # -- references -------------------------------------------------------------------------

    def _check_references(self, value: Any, base: Path_, index: int, *, allow_item: bool) -> None:
        """``index`` is the referring step's position (len(steps) for outputs)."""
        for path, text in iter_templates(value, base):
            try:
                template = parse_template(text)
            except TemplateSyntaxError as exc:
                self.add(path, "WORKFLOW-PLACEHOLDER-SYNTAX", str(exc))
                continue
            for placeholder in template.placeholders:
                self._check_reference(parse_reference(placeholder.name), path, index,
                                      allow_item=allow_item)

    def _check_reference(
        self, ref: Reference, path: Path_, index: int, *, allow_item: bool
    ) -> None:
        shown = f"{{{{ {ref.text} }}}}"
        if ref.root not in ROOTS:
            self.add(path, "WORKFLOW-REFERENCE-ROOT",
                     f"{shown} names nothing: a reference starts with inputs., steps. or (in a"
                     f" foreach step) item{did_you_mean(ref.root, sorted(ROOTS))}")
        elif ref.root == "inputs":
            if not ref.path:
                return
            name = str(ref.path[0])
            if name not in self.inputs:
                declared = ", ".join(sorted(self.inputs)) or "none declared"
                self.add(path, "WORKFLOW-INPUT-UNDECLARED",
                         f"{shown}: the workflow declares no input '{name}' (inputs:"
                         f" {declared}); declare it under inputs:")
        elif ref.root == "item":
            if not allow_item:
                self.add(path, "WORKFLOW-ITEM-OUTSIDE-FOREACH",
                         f"{shown}: 'item' exists only in the inputs of a step with foreach")
        else:
            self._check_step_reference(ref, shown, path, index)

    def _check_step_reference(self, ref: Reference, shown: str, path: Path_, index: int) -> None:
        step_id = ref.step
        if step_id is None:
            self.add(path, "WORKFLOW-REFERENCE-ROOT",
                     f"{shown}: name a step, as in {{{{ steps.STEP_ID.PATH }}}}")
            return
        target = self.order.get(step_id)
        if target is None:
            earlier = [s["id"] for s in self.steps[:index]]
            hint = closest(step_id, earlier)
            known = f"did you mean '{hint}'?" if hint else (
                f"earlier steps: {', '.join(earlier) or 'none'}")
            self.add(path, "WORKFLOW-STEP-UNKNOWN",
                     f"{shown}: no step has id '{step_id}' ({known})")
        elif target == index:
            self.add(path, "WORKFLOW-REFERENCE-SELF",
                     f"{shown}: step '{step_id}' refers to its own output, which does not"
                     " exist while it runs; refer to an earlier step")
        elif target > index:
            cycle = ""
            me = self.steps[index]["id"] if index < len(self.steps) else None
            if me is not None and self._refers_to(self.steps[target], me):
                cycle = f" (and '{step_id}' refers back to '{me}': a cycle)"
            self.add(path, "WORKFLOW-REFERENCE-LATER",
                     f"{shown}: step '{step_id}' runs after this step, so its output does not"
                     f" exist yet{cycle}; move '{step_id}' earlier or refer to an earlier step")

    def _refers_to(self, step: dict[str, Any], step_id: str) -> bool:
        for value in (step.get("inputs") or {}, step.get("foreach")):
            for _, text in iter_templates(value):
                try:
                    names = parse_template(text).names
                except TemplateSyntaxError:
                    continue
                if any(parse_reference(n).step == step_id for n in names):
                    return True
        return False

    # -- operations -------------------------------------------------------------------------

    def _check_operation(self, index: int, step: dict[str, Any]) -> None:
        from .._errors import ConnectorSDKError

        path: Path_ = ("steps", index, "operation")
        try:
            _, spec = self.services.operation(step["operation"])
        except ConnectorSDKError as exc:
            self.add(path, "WORKFLOW-OPERATION-UNKNOWN", f"step '{step['id']}': {exc}")
            return
        try:
            validator = spec.input_validator(step["operation"])
        except ConnectorSDKError as exc:  # a schema validate would refuse (REF-*, REGEX-*)
            self.add(path, "WORKFLOW-OPERATION-UNKNOWN", f"step '{step['id']}': {exc}")
            return
        inputs = step.get("inputs") or {}
        try:
            errors = list(with_budget(validator, self.match_budget).iter_errors(inputs))
        except MatchBudgetExceeded:
            self.add(("steps", index, "inputs"), "WORKFLOW-STEP-INPUT-INVALID",
                     f"step '{step['id']}': the literal inputs are too long to check against"
                     f" the patterns of {step['operation']}: shorten them")
            return
        for error in errors:
            if _depends_on_run_time(inputs, error):
                continue
            self.problems.append(_input_problem(self.doc, index, step, error))


def _depends_on_run_time(inputs: Any, error: ValidationError) -> bool:
    """True when the error is about a value that holds a placeholder (known only at run)."""
    value = inputs
    for part in error.absolute_path:
        if isinstance(value, str):
            return "{{" in value
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(value, str):
        return "{{" in value
    if error.validator in _STRUCTURAL and error.validator != "type":
        return False
    return any(True for _ in iter_templates(value))


def _input_problem(doc: Document, index: int, step: dict[str, Any], error: ValidationError
                   ) -> Problem:
    where = list(error.absolute_path)
    path: Path_ = ("steps", index, "inputs", *where)
    operation = step["operation"]
    name = ".".join(map(str, where)) or "inputs"
    if error.validator == "required":
        missing = missing_property(error)
        return doc.problem(path, "WORKFLOW-STEP-INPUT-MISSING",
                           f"step '{step['id']}': operation {operation} needs input '{missing}':"
                           " add it under inputs:", key=True)
    alternatives = [" and ".join(f"'{n}'" for n in branch)
                    for branch in required_alternatives(error)]
    if alternatives:
        return doc.problem(path, "WORKFLOW-STEP-INPUT-MISSING",
                           f"step '{step['id']}': operation {operation} needs one of the inputs"
                           f" {' or '.join(alternatives)}: add one under inputs:", key=True)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        extra = unknown_properties(error)
        first = extra[0] if extra else name
        return doc.problem((*path, first), "WORKFLOW-STEP-INPUT-INVALID",
                           f"step '{step['id']}': operation {operation} has no input"
                           f" '{first}' (inputs: {', '.join(known) or 'none'})", key=True)
    if error.validator == "type":
        return doc.problem(path, "WORKFLOW-STEP-INPUT-INVALID",
                           f"step '{step['id']}': input '{name}' of {operation} must be"
                           f" {expected_type(error)}, got {json_type(error.instance)}")
    return doc.problem(path, "WORKFLOW-STEP-INPUT-INVALID",
                       f"step '{step['id']}': input '{name}' of {operation}: {describe(error)}")


