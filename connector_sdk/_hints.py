"""Small pieces of user-facing messages that several validators share.

Every "did you mean" and every "expected string, got number" reads the same whether it comes
from a manifest, an operation input or a workflow, because it is written here once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["closest", "did_you_mean", "json_type"]


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value (``True`` is a boolean, not an integer)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, list | tuple) else "object"


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (the same name in other case first), or ``None``."""
    candidates = sorted(known)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    hint = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return hint[0] if hint else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``": did you mean 'x'?"`` for the closest known name, or ``""`` when none is close.

    A name that differs only in case says so, since names are case-sensitive everywhere.
    """
    hint = closest(name, known)
    if hint is None:
        return ""
    case = " (names are case-sensitive)" if hint.lower() == name.lower() else ""
    return f": did you mean '{hint}'?{case}"
