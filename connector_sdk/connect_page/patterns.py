"""A manifest's RE2 ``pattern`` as an HTML ``pattern`` attribute, or ``None`` when unsafe.

The browser compiles the attribute as ``new RegExp("^(?:" + value + ")$", "v")``
(https://html.spec.whatwg.org/multipage/input.html#compiled-pattern-regular-expression), and
an attribute that does not compile under the ``v`` flag is ignored with a console error. The
``v`` flag is stricter than RE2 inside character classes (``[a-z-]`` is a syntax error there:
``-`` and the other class-set punctuators must be escaped;
https://tc39.es/ecma262/#prod-ClassSetCharacter) and JSON Schema's ``pattern`` is a search,
not a full match (https://json-schema.org/draft/2020-12/json-schema-validation#section-6.3.3).

So the pattern is translated token by token over a small subset of RE2 whose meaning is the
same in both engines (literals, ``.``, ``\\d \\w \\s`` and their negations, escaped
punctuation, classes with ranges, groups, ``(?:``, quantifiers, ``|``, ``^``/``$``); anything
else (named groups, flags, ``\\p{..}``, POSIX classes, ``\\b``, ``\\A``...) gives ``None``, the
attribute is left out and the server's check, the same validator the runtime uses, is the
only one. The browser check is a convenience; the server's is the rule.
"""

from __future__ import annotations

__all__ = ["browser_pattern"]

#: Characters that must be escaped inside a ``v``-mode class (syntax characters, ``/``,
#: and the class-set reserved punctuators), and those escapable outside one.
_CLASS_ESCAPE = frozenset("()[]{}/-\\|^$.*+?&!#%,:;<=>@`~")
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_CLASS_SHORTHANDS = frozenset("dDwWsS")
_CONTROL_ESCAPES = {"n": "\\n", "t": "\\t", "r": "\\r", "f": "\\f", "v": "\\v"}
_MAX_LENGTH = 1000


class _Unsupported(Exception):
    pass


def browser_pattern(pattern: str) -> str | None:
    """The ``pattern`` attribute that accepts what ``pattern`` finds, or ``None``.

    ``None`` means: no browser check for this field (the pattern uses syntax outside the
    shared subset); it never means the value is unconstrained on the server.
    """
    if len(pattern) > _MAX_LENGTH or any(ord(c) < 0x20 for c in pattern):
        return None
    try:
        body = _translate(pattern)
    except _Unsupported:
        return None
    if _anchored(pattern):
        return body[1:-1]
    return f"[\\s\\S]*(?:{body})[\\s\\S]*"


def _anchored(pattern: str) -> bool:
    """``^...$`` with no top-level ``|`` and a real (unescaped) final ``$``: the anchors
    can simply be dropped, the attribute being a full match already."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return False
    backslashes = len(pattern[:-1]) - len(pattern[:-1].rstrip("\\"))
    if backslashes % 2:
        return False
    depth, in_class, i = 0, False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return False
        i += 1
    return True


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape, i = _escape(pattern, i, in_class=False)
            out.append(escape)
            continue
        if char == "[":
            text, i = _class(pattern, i)
            out.append(text)
            continue
        if char == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif pattern.startswith("(?", i):
                raise _Unsupported  # named groups, flags, lookarounds: not shared
            else:
                out.append("(")
                i += 1
            depth += 1
            continue
        if char == ")":
            depth -= 1
            if depth < 0:
                raise _Unsupported
        elif char == "{":
            text, i = _counted(pattern, i)
            out.append(text)
            continue
        elif char in "}]":
            raise _Unsupported  # a literal brace or bracket: RE2 and v mode disagree
        out.append(char)
        i += 1
    if depth:
        raise _Unsupported
    return "".join(out)


def _counted(pattern: str, i: int) -> tuple[str, int]:
    end = pattern.find("}", i)
    inner = pattern[i + 1:end] if end != -1 else ""
    low, comma, high = inner.partition(",")
    if not low.isdigit() or (high and not high.isdigit()) or (not comma and high):
        raise _Unsupported
    return pattern[i:end + 1], end + 1


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str, int]:
    if i + 1 >= len(pattern):
        raise _Unsupported
    char = pattern[i + 1]
    if char in _CLASS_SHORTHANDS:
        return f"\\{char}", i + 2
    if char in _CONTROL_ESCAPES:
        return _CONTROL_ESCAPES[char], i + 2
    if char.isalnum() or ord(char) > 0x7E:
        raise _Unsupported  # \b \A \z \p{..} \x.. \Q..\E and friends: not shared
    return _literal(char, in_class=in_class), i + 2


def _literal(char: str, *, in_class: bool) -> str:
    if in_class:
        return f"\\{char}" if char in _CLASS_ESCAPE else char
    return f"\\{char}" if char in _SYNTAX else char


def _class(pattern: str, i: int) -> tuple[str, int]:
    """One ``[...]``: every punctuator escaped, ranges kept, POSIX classes refused."""
    out = ["["]
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if char == "[":
            raise _Unsupported  # [[:alpha:]] or a nested class
        if char == "\\":
            text, i = _escape(pattern, i, in_class=True)
            out.append(text)
            continue
        if char == "-" and out[-1] != "[" and out[-1] != "^" and i + 1 < len(pattern) \
                and pattern[i + 1] != "]":
            out.append("-")  # a range between the previous item and the next one
            i += 1
            continue
        out.append(_literal(char, in_class=True))
        i += 1
    raise _Unsupported
