"""The pages: Jinja2 templates (package data) with autoescaping on for every template.

Jinja2 over hand-built strings so that escaping is the default, not a call to remember: each
value in a page (a label from a manifest, an organisation's name, an error reason) goes
through MarkupSafe's escaping; ``StrictUndefined`` makes a misspelt variable an error, not an
empty string. The templates hold no script and no inline style (the CSP allows neither):
colours come from a per-organisation stylesheet built from validated hex values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from .config import Branding
from .form import Field

__all__ = ["SummaryItem", "brand_css", "render", "stylesheet", "summary"]


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """One line of the error summary; ``target`` the id of the field it links to."""

    text: str
    target: str | None = None


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("connector_sdk.connect_page", "templates"),
                       autoescape=True, undefined=StrictUndefined, trim_blocks=False)


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context`` (every value escaped)."""
    return _environment().get_template(template).render(**context)


@cache
def stylesheet() -> str:
    return files("connector_sdk.connect_page").joinpath("static", "connect.css") \
        .read_text("utf-8")


def brand_css(branding: Branding) -> str:
    """The organisation's colours as CSS custom properties (hex values, checked at start-up
    against the configuration schema, so nothing else can reach the stylesheet)."""
    return (f":root {{ --accent: {branding.accent}; --bg: {branding.background};"
            f" --text: {branding.text}; }}\n")


def summary(fields: Sequence[Field], other: Mapping[str, Sequence[str]],
            labels: Mapping[str, str]) -> list[SummaryItem]:
    """The error summary: one line per field with errors (linking to it), then the errors
    of parameters the form does not show (fixed by the platform) and the general ones."""
    items = [SummaryItem(f"{f.label}: {'; '.join(f.errors)}", f.id) for f in fields if f.errors]
    for name, reasons in other.items():
        label = labels.get(name, name) if name else ""
        text = "; ".join(reasons)
        items.append(SummaryItem(f"{label}: {text}" if label else text))
    return items
