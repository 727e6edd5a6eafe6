"""``{{ inputs.x }}``, ``{{ steps.id.path }}`` and ``{{ item.path }}`` in workflow values.

A step's inputs are JSON-like values whose strings may hold placeholders. They are compiled
once per step (``compile_value``) into a tree that renders cheaply for every foreach item:
constant subtrees are kept as they are and shared, not copied, so callers must not mutate a
rendered value.

Rendering rules callers may rely on:

* a string that is exactly one placeholder keeps the referenced value's JSON type
  (``"{{ steps.user.data }}"`` renders to the list itself);
* a string with other text around its placeholders renders to a string: strings as they are,
  ``true``/``false``/``null`` for JSON literals, numbers as written, lists and objects as
  compact JSON;
* a dotted path walks objects by key and lists by index (``data.0.id``; ``-1`` is the last
  item); a missing key, an index out of range or a walk into a scalar raises
  ``WorkflowError`` naming the placeholder and what was there instead.

The roots are ``inputs`` (the workflow's inputs), ``steps`` (outputs of steps that ran) and
``item`` (the current foreach item). Which roots a value may use is checked statically by
``_workflow_checks``; this module only renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import WorkflowError
from .._manifest.templates import Placeholder, parse_template

__all__ = [
    "ROOTS",
    "Compiled",
    "Reference",
    "compile_value",
    "iter_templates",
    "parse_reference",
    "resolve_path",
]

ROOTS = ("inputs", "steps", "item")

ValuePath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """One placeholder split into its root and path: ``steps.user.data.0`` ->
    ``("steps", ("user", "data", 0))``. Digit segments (and ``-N``) become ints."""

    text: str
    root: str
    path: tuple[str | int, ...]

    @property
    def step(self) -> str | None:
        """The step id a ``steps`` reference names (None for other roots or bare ``steps``)."""
        if self.root == "steps" and self.path:
            return str(self.path[0])
        return None


def parse_reference(name: str) -> Reference:
    """Split a placeholder name; integer-looking segments become list indexes."""
    root, *rest = name.split(".")
    return Reference(name, root, tuple(_segment(part) for part in rest))


def _segment(part: str) -> str | int:
    body = part[1:] if part.startswith("-") else part
    if body.isdigit() and body.isascii():
        return int(part)
    return part


def resolve_path(value: Any, path: tuple[str | int, ...], *, text: str) -> Any:
    """Walk ``path`` into ``value``; raises ``WorkflowError`` saying where the walk stopped."""
    walked: list[str] = [text.split(".")[0]]
    for part in path:
        if isinstance(value, Mapping):
            key = str(part)
            if key not in value:
                known = ", ".join(sorted(map(str, value))[:12]) or "no keys"
                raise WorkflowError(
                    f"{{{{ {text} }}}}: {'.'.join(walked)} has no key '{key}' (it has: {known})")
            value = value[key]
        elif isinstance(value, list):
            if not isinstance(part, int):
                raise WorkflowError(
                    f"{{{{ {text} }}}}: {'.'.join(walked)} is a list; use an index such as"
                    f" {'.'.join(walked)}.0 instead of '{part}'")
            if not -len(value) <= part < len(value):
                raise WorkflowError(
                    f"{{{{ {text} }}}}: {'.'.join(walked)} has {len(value)} item(s); index"
                    f" {part} is out of range")
            value = value[part]
        else:
            kind = "null" if value is None else type(value).__name__
            raise WorkflowError(
                f"{{{{ {text} }}}}: {'.'.join(walked)} is {kind}, not an object or list;"
                f" cannot read '{part}' from it")
        walked.append(str(part))
    return value


class Compiled:
    """A value compiled once; ``render(scope)`` gives the concrete value for one call.

    ``scope`` maps ``inputs``, ``steps`` and (in a foreach) ``item`` to their values.
    ``references`` lists every placeholder the value holds, for static checks.
    """

    __slots__ = ("_render", "constant", "references")

    def __init__(self, render: Any, references: tuple[Reference, ...], constant: bool) -> None:
        self._render = render
        self.references = references
        self.constant = constant

    def render(self, scope: Mapping[str, Any]) -> Any:
        return self._render(scope)


def compile_value(value: Any) -> Compiled:
    """Compile a JSON-like value; raises ``TemplateSyntaxError`` for a bad ``{{``."""
    references: list[Reference] = []
    render = _compile(value, references)
    if not references:
        return Compiled(lambda scope: value, (), True)
    return Compiled(render, tuple(references), False)


def _compile(value: Any, references: list[Reference]) -> Any:
    """Returns a function ``scope -> value``; constant subtrees return the original object."""
    if isinstance(value, str):
        return _compile_string(value, references)
    if isinstance(value, dict):
        before = len(references)
        items = [(key, _compile(item, references)) for key, item in value.items()]
        if len(references) == before:
            return lambda scope: value
        return lambda scope: {key: render(scope) for key, render in items}
    if isinstance(value, list):
        before = len(references)
        renders = [_compile(item, references) for item in value]
        if len(references) == before:
            return lambda scope: value
        return lambda scope: [render(scope) for render in renders]
    return lambda scope: value


def _compile_string(text: str, references: list[Reference]) -> Any:
    if "{{" not in text and "}}" not in text:
        return lambda scope: text
    template = parse_template(text)
    if template.is_literal:
        return lambda scope: text
    lookups = []
    for part in template.parts:
        if isinstance(part, Placeholder):
            reference = parse_reference(part.name)
            references.append(reference)
            lookups.append(_lookup(reference))
        else:
            lookups.append(_literal(part))
    if len(lookups) == 1:
        return lookups[0]
    return lambda scope: "".join(_text(lookup(scope)) for lookup in lookups)


def _literal(text: str) -> Any:
    return lambda scope: text


def _lookup(reference: Reference) -> Any:
    root, path, text = reference.root, reference.path, reference.text

    def lookup(scope: Mapping[str, Any]) -> Any:
        try:
            base = scope[root]
        except KeyError:
            raise WorkflowError(f"{{{{ {text} }}}}: '{root}' is not available here") from None
        if not path:
            return base
        if root == "steps" and path[0] not in base:
            raise WorkflowError(
                f"{{{{ {text} }}}}: step '{path[0]}' has no output (it failed or did not run)")
        return resolve_path(base, path, text=text)

    return lookup


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float | list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def iter_templates(value: Any, path: ValuePath = ()) -> Iterator[tuple[ValuePath, str]]:
    """Every string in ``value`` that contains ``{{`` or ``}}``, with its path; for checks."""
    if isinstance(value, str):
        if "{{" in value or "}}" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_templates(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_templates(item, (*path, index))
