"""Whether a parameter's JSON Schema keeps its values inside a URL's host.

A parameter placed in a host (``https://{{ shop }}.myshopify.com``) must not be able to hold
``/``, ``@``, ``:`` and the like, or a value could move the request (and its token) to another
host. ``value_pattern_is_host_safe`` is the validator's early warning for that
(``HOST-PLACEHOLDER-UNCONSTRAINED``); ``render_url`` still checks every value against
``hosts.SAFE_HOST_VALUE`` at run time. Patterns are compiled by RE2 (``regex.py``), the engine
that matches them at run time, so the probes below say what the run time will do, and a
hostile pattern cannot make this check backtrack.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from .hosts import SAFE_HOST_VALUE
from .regex import RegexError, compile_pattern

__all__ = ["value_pattern_is_host_safe"]

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_CLASS_CHARS = _HOST_CHARS | {"."}
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_RANGES = (("a", "z"), ("A", "Z"), ("0", "9"))

_PROBE_BASES = ("a", "abc", "my-store", "my-store.myshopify.com", "x.example.com", "127.0.0.1")
_PROBE_CHARS = (
    "/", "@", ":", "?", "#", "\\", "%", "%2F", " ", "\t", "\r", "\n", "\x00", "\x0b", "_",
    "\u0430", "\uff0e", "\u3002", "\u200d", "\u202e", "\u00e9", "\u212a", "\u017f", "\u0661",
    "\u00a0",
)


@functools.cache
def _probes() -> tuple[str, ...]:
    probes: list[str] = [
        "evil.com/", "evil.com/.myshopify.com", "evil.com?.myshopify.com",
        "evil.com#.myshopify.com", "a@my-store.myshopify.com", "my-store.myshopify.com:443",
        "https://my-store.myshopify.com/admin", "[::1]", "my-store.myshopify.com\n",
    ]
    for base in _PROBE_BASES:
        for char in _PROBE_CHARS:
            probes += [char + base, base + char, base[:1] + char + base[1:],
                       base + char + "evil.com", base.replace(".", char)]
    return tuple(p for p in probes if not set(p) <= _CLASS_CHARS)


def value_pattern_is_host_safe(
    prop: Mapping[str, Any], *, hostname_format_checked: bool = False
) -> bool:
    """Whether a parameter's JSON Schema guarantees values that cannot break out of a host.

    "Host-safe" means every admitted string uses only ASCII letters, digits, hyphens and dots:
    no ``/ @ : ? # \\ %``, whitespace, control or non-ASCII character can get through. Label
    structure (empty labels, trailing dot) is left to ``render_url``, which still checks every
    value against ``SAFE_HOST_VALUE``: this function is the validator's early warning, not the
    guard.

    Accepted evidence (any one is enough, all constraints of a schema hold together):

    * ``const``, or ``enum`` of strings that each fully match ``SAFE_HOST_VALUE``;
    * a ``pattern`` that passes a conservative syntactic whitelist *and* rejects a battery of
      hostile probes. The whitelist: the pattern is ``^...$``; ``|`` only inside groups (so
      ``^a|b$`` is refused); literals are ASCII letters, digits, ``-``, ``\\.`` and ``\\-``;
      classes ``[...]`` hold only those characters, ``.`` and ranges inside ``a-z``, ``A-Z``
      or ``0-9`` (no ``[^``); groups ``(...)``/``(?:...)``; quantifiers ``* + ? {m,n}``.
      Everything else is refused, including unescaped ``.``, ``\\d``/``\\w``/``\\S`` (Unicode
      classes in Python), inline flags (``(?i)`` makes ``k`` match the Kelvin sign) and other
      escapes. Refusing a safe pattern only costs the author a warning; admitting an unsafe
      one is what must not happen.
    * ``format: hostname`` only when ``hostname_format_checked`` is true: jsonschema checks
      that format only with the optional ``fqdn`` package, so by default it proves nothing.

    ``allOf`` is safe when one branch is; ``anyOf``/``oneOf`` when every branch is.
    """
    if "const" in prop and _safe_literal(prop["const"]):
        return True
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(_safe_literal(v) for v in enum):
        return True
    pattern = prop.get("pattern")
    if isinstance(pattern, str) and _pattern_is_host_safe(pattern):
        return True
    if hostname_format_checked and prop.get("format") == "hostname":
        return True
    all_of = prop.get("allOf")
    if isinstance(all_of, list) and any(
        isinstance(s, Mapping)
        and value_pattern_is_host_safe(s, hostname_format_checked=hostname_format_checked)
        for s in all_of
    ):
        return True
    for key in ("anyOf", "oneOf"):
        branches = prop.get(key)
        if isinstance(branches, list) and branches and all(
            isinstance(s, Mapping)
            and value_pattern_is_host_safe(s, hostname_format_checked=hostname_format_checked)
            for s in branches
        ):
            return True
    return False


def _safe_literal(value: Any) -> bool:
    return isinstance(value, str) and SAFE_HOST_VALUE.fullmatch(value) is not None


@functools.lru_cache(maxsize=256)
def _pattern_is_host_safe(pattern: str) -> bool:
    if not _pattern_syntax_is_host_safe(pattern):
        return False
    try:
        compiled = compile_pattern(pattern)
    except RegexError:
        return False
    return not any(compiled.fullmatch(probe) for probe in _probes())


def _pattern_syntax_is_host_safe(pattern: str) -> bool:
    if len(pattern) < 2 or pattern[0] != "^" or pattern[-1] != "$" or pattern.endswith("\\$"):
        return False
    body = pattern[1:-1]
    depth = 0
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if body[i + 1: i + 2] not in (".", "-"):
                return False
            i += 2
        elif char == "[":
            end = _class_end(body, i)
            if end < 0:
                return False
            i = end + 1
        elif char == "(":
            if body.startswith("(?:", i):
                i += 3
            elif body.startswith("(?", i):
                return False
            else:
                i += 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
            i += 1
        elif char == "|":
            if depth == 0:
                return False
            i += 1
        elif char in "*+?":
            i += 1
        elif char == "{":
            match = _QUANTIFIER.match(body, i)
            if match is None:
                return False
            i = match.end()
        elif char in _HOST_CHARS:
            i += 1
        else:
            return False
    return depth == 0


def _class_end(body: str, start: int) -> int:
    """Index of the ``]`` closing the class at ``start``, or -1 if the class is not safe."""
    i = start + 1
    if body[i: i + 1] in ("^", "]", ""):
        return -1
    while i < len(body):
        char = body[i]
        if char == "]":
            return i
        if char == "[":
            return -1
        if char == "\\":
            char = body[i + 1: i + 2]
            if char not in (".", "-"):
                return -1
            i += 2
        else:
            i += 1
        if char not in _CLASS_CHARS:
            return -1
        if body[i: i + 1] == "-" and body[i + 1: i + 2] not in ("]", ""):
            high = body[i + 1]
            if not any(lo <= char <= high <= hi for lo, hi in _RANGES):
                return -1
            i += 2
    return -1
