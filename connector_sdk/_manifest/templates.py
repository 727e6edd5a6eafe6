"""``{{ name }}`` placeholders: parsing and plain rendering.

A template is literal text with placeholders ``{{ name }}`` (spaces inside the braces are
optional). A name is an identifier, or a dotted path for workflow references
(``{{ steps.user.data.0.id }}``). There are no expressions, filters or code: a template can
only copy values, so a manifest can never run anything.

Rendering here is plain substitution for headers and form fields. URLs are rendered by
``_urls.render_url``, which also decides what each value may contain from where it sits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._secrets import reveal

__all__ = ["Placeholder", "Template", "TemplateSyntaxError", "parse_template"]

_TOKEN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*")


class TemplateSyntaxError(ValueError):
    """A ``{{`` that does not open a valid placeholder; ``offset`` is 0-based in the text."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{ name }}``; ``start``/``end`` are offsets of the braces in the source."""

    name: str
    start: int
    end: int

    @property
    def root(self) -> str:
        """The first segment of a dotted name: ``steps`` for ``steps.user.id``."""
        return self.name.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; ``parts`` alternate literal strings and placeholders."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.placeholders)

    @property
    def is_literal(self) -> bool:
        return not self.placeholders

    def render(
        self,
        values: Mapping[str, Any],
        *,
        encode: Callable[[Placeholder, str], str] | None = None,
    ) -> str:
        """Substitute every placeholder; ``encode`` may transform (or refuse) each value.

        Raises ``KeyError`` naming the placeholder when a value is missing. Secrets are
        revealed here: the result is what goes on the wire, never into a message.
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name not in values:
                raise KeyError(part.name)
            value = reveal(values[part.name])
            text = value if isinstance(value, str) else _scalar_text(value)
            out.append(encode(part, text) if encode else text)
        return "".join(out)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def parse_template(text: str) -> Template:
    """Parse ``text``; raises ``TemplateSyntaxError`` for ``{{`` without a valid name."""
    parts: list[str | Placeholder] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        inner = match.group(1).strip()
        if not _NAME.fullmatch(inner):
            raise TemplateSyntaxError(
                f"'{{{{{match.group(1)}}}}}' is not a placeholder: write {{{{ name }}}} with a"
                " parameter name (letters, digits, underscores); expressions are not supported",
                offset=match.start(),
            )
        _add_literal(parts, text, pos, match.start())
        parts.append(Placeholder(inner, match.start(), match.end()))
        pos = match.end()
    _add_literal(parts, text, pos, len(text))
    return Template(text, tuple(parts))


def _add_literal(parts: list[str | Placeholder], text: str, start: int, end: int) -> None:
    literal = text[start:end]
    stray = [i for i in (literal.find("{{"), literal.find("}}")) if i >= 0]
    if stray:
        raise TemplateSyntaxError(
            "unbalanced '{{' or '}}': every placeholder is written {{ name }}",
            offset=start + min(stray),
        )
    if literal:
        parts.append(literal)
