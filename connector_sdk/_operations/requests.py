"""Building a declarative request's parts from an operation's validated input.

A value in the path is percent-encoded as one segment (empty, ``.``, ``..`` and control
characters refused); query pairs are handed to httpx, never joined by hand (an absent or null
input drops its parameter, a list repeats it); a body template that is exactly
``{{ name }}`` keeps the input's JSON type, and an absent input leaves its key out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._errors import OperationError
from .._manifest.templates import Placeholder, Template, parse_template

__all__ = ["DROP", "render_body", "render_headers", "render_path", "render_query"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SAFE = "-._~!$'()*,=:@"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _only_placeholder(template: Template) -> Placeholder | None:
    parts = template.parts
    return parts[0] if len(parts) == 1 and isinstance(parts[0], Placeholder) else None


def _render_optional(template: Template, values: Mapping[str, Any]) -> str | None:
    """The rendered text, or None when a placeholder's input is absent or null."""
    if any(values.get(name) is None for name in template.names):
        return None
    return template.render({n: _text(values[n]) for n in template.names})


def render_path(name: str, template: Template, values: Mapping[str, Any]) -> str:
    def encode(placeholder: Placeholder, text: str) -> str:
        if text in ("", ".", "..") or _CONTROL.search(text):
            raise OperationError(
                f"operation '{name}': input '{placeholder.name}' goes in the URL path and must"
                " not be empty, '.', '..' or contain control characters", operation=name)
        return quote(text, safe=_PATH_SAFE)

    missing = [n for n in template.names if values.get(n) is None]
    if missing:
        raise OperationError(f"operation '{name}': input '{missing[0]}' is needed for the"
                             " request path", operation=name)
    path = template.render({n: _text(values[n]) for n in template.names}, encode=encode)
    if not path.startswith("/") or path.startswith("//"):
        raise OperationError(f"operation '{name}': the request path must start with one '/'"
                             " (it is relative to the service's base URL)", operation=name)
    return path


def render_query(
    raw: Mapping[str, Any], templates: Mapping[str, Template], values: Mapping[str, Any]
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, template in templates.items():
        literal = raw.get(key)
        if not isinstance(literal, str):  # a YAML number or boolean literal
            pairs.append((key, _text(literal)))
            continue
        single = _only_placeholder(template)
        if single is not None:
            value = values.get(single.name)
            items = value if isinstance(value, list | tuple) else [value]
            pairs.extend((key, _text(item)) for item in items if item is not None)
            continue
        text = _render_optional(template, values)
        if text is not None:
            pairs.append((key, text))
    return pairs


def render_headers(
    name: str, templates: Mapping[str, Template], values: Mapping[str, Any]
) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, template in templates.items():
        text = _render_optional(template, values)
        if text is None:
            continue
        if _CONTROL.search(text):
            raise OperationError(f"operation '{name}': header '{key}' would contain a control"
                                 " character (CR, LF, NUL...); remove it from the input",
                                 operation=name)
        headers[key] = text
    return headers


DROP = object()


def render_body(body: Any, values: Mapping[str, Any]) -> Any:
    """A JSON template: ``"{{ name }}"`` alone becomes the input with its JSON type.

    A key whose whole value is a placeholder of an absent input is left out; other strings
    are rendered as text (an absent input there leaves the key out too).
    """
    if isinstance(body, dict):
        out = {}
        for key, item in body.items():
            rendered = render_body(item, values)
            if rendered is not DROP:
                out[key] = rendered
        return out
    if isinstance(body, list):
        return [v for v in (render_body(item, values) for item in body) if v is not DROP]
    if isinstance(body, str) and "{{" in body:
        template = parse_template(body)
        single = _only_placeholder(template)
        if single is not None:
            return values[single.name] if values.get(single.name) is not None else DROP
        text = _render_optional(template, values)
        return DROP if text is None else text
    return body
