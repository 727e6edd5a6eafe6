"""The authentication form, derived from a service's parameter JSON Schema (pure, no I/O).

Each property the platform did not fix becomes one field: ``title`` is its label (tied to
the input by ``for``/``id``), ``description`` its hint (``aria-describedby``), ``examples``
its placeholder, ``enum`` a select, ``pattern``/``minLength``/``maxLength`` and ``required``
HTML constraints the browser checks first (the server checks again with the service's own
validator, ``validate_parameters``), and a ``secret`` parameter a password input whose value
is never written back into a page, not even after an error. A field's errors are the
runtime's own reasons (``ParameterError.fields``), so the page says what the CLI says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._auth.parameters import coerce_text
from .._manifest.model import Service
from .patterns import browser_pattern

__all__ = ["Field", "FormValues", "build_fields", "read_form_values"]

#: Longest value a field accepts from a form post; a parameter longer than this is a mistake.
MAX_VALUE_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the form, ready for the template (every text is escaped there)."""

    name: str
    id: str
    label: str
    widget: str  # "text", "password", "number" or "select"
    required: bool
    hint: str | None = None
    placeholder: str | None = None
    pattern: str | None = None
    minlength: int | None = None
    maxlength: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    value: str = ""
    errors: tuple[str, ...] = ()

    @property
    def hint_id(self) -> str:
        return f"{self.id}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def described_by(self) -> str:
        ids = [self.hint_id] if self.hint else []
        if self.errors:
            ids.append(self.error_id)
        return " ".join(ids)


@dataclass(frozen=True, slots=True)
class FormValues:
    """What a post gave for the form's fields: parameter values and the text to show again
    (never a secret's)."""

    values: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def build_fields(
    service: Service,
    fixed: Mapping[str, Any],
    *,
    shown: Mapping[str, str] | None = None,
    errors: Mapping[str, Sequence[str]] | None = None,
) -> list[Field]:
    """The fields for ``service`` minus the ``fixed`` ones, with the values to show again
    (``shown``; secrets are never shown whatever it holds) and each field's ``errors``."""
    properties = service.parameters_schema.get("properties", {})
    shown = shown or {}
    errors = errors or {}
    fields: list[Field] = []
    for index, spec in enumerate(service.parameters):
        if spec.name in fixed:
            continue
        schema = properties.get(spec.name, {})
        schema = schema if isinstance(schema, Mapping) else {}
        examples = schema.get("examples")
        example = examples[0] if isinstance(examples, list) and examples else None
        enum = schema.get("enum")
        widget = "password" if spec.secret else "text"
        options: tuple[tuple[str, str], ...] = ()
        if isinstance(enum, list) and enum and not spec.secret:
            widget = "select"
            options = tuple((_text(v), _text(v)) for v in enum)
            if not spec.required:
                options = (("", "(not set)"), *options)
        elif spec.type == "boolean" and not spec.secret:
            widget = "select"
            options = (*((("", "(not set)"),) if not spec.required else ()),
                       ("true", "yes"), ("false", "no"))
        elif spec.type in ("integer", "number") and not spec.secret:
            widget = "number"
        pattern = schema.get("pattern")
        value = "" if spec.secret else shown.get(
            spec.name, _text(spec.default) if spec.has_default else "")
        fields.append(Field(
            name=spec.name,
            id=f"field-{index}",
            label=spec.title or spec.name,
            widget=widget,
            required=spec.required,
            hint=spec.description,
            placeholder=None if example is None or spec.secret else f"e.g. {_text(example)}",
            pattern=browser_pattern(pattern) if isinstance(pattern, str)
            and widget in ("text", "password") else None,
            minlength=_int(schema.get("minLength")),
            maxlength=_int(schema.get("maxLength")),
            minimum=_number(schema.get("minimum")) if widget == "number" else None,
            maximum=_number(schema.get("maximum")) if widget == "number" else None,
            step=("1" if spec.type == "integer" else "any") if widget == "number" else None,
            options=options,
            value=value,
            errors=tuple(errors.get(spec.name, ())),
        ))
    return fields


def read_form_values(
    service: Service, fixed: Mapping[str, Any], form: Mapping[str, str]
) -> FormValues:
    """The parameter values a form post gives: one per field the form shows (a fixed or
    unknown name in the post is ignored: the platform decides those), empty optional fields
    left out so that defaults apply, text coerced to the parameter's JSON type."""
    result = FormValues()
    for spec in service.parameters:
        if spec.name in fixed or spec.name not in form:
            continue
        text = form[spec.name]
        if len(text) > MAX_VALUE_LENGTH:
            result.errors[spec.name] = [
                f"must be at most {MAX_VALUE_LENGTH} character(s) long on this page"]
            continue
        if not spec.secret:
            result.shown[spec.name] = text
        if text == "" and not spec.required:
            continue
        result.values[spec.name] = coerce_text(service, spec.name, text)
    return result
