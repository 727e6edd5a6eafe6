"""The regular expressions of manifests: JSON Schema's ECMA-262 dialect, run by RE2.

JSON Schema's ``pattern``, ``patternProperties`` and ``format: regex`` are ECMA-262 regular
expressions (https://json-schema.org/draft/2020-12/json-schema-core#section-6.4). Python's
``re`` backtracks: ``^(a+)+$`` against 31 ``a`` and a ``!`` takes minutes. Every pattern that
comes from a manifest (and every ``format: regex`` value) is therefore compiled by RE2
(https://github.com/google/re2/wiki/Syntax), whose matching time grows linearly with the
input. What callers may rely on:

* ``compile_pattern`` returns a compiled RE2 regex or raises ``RegexError``, whose message
  says what is wrong and how to fix it and whose ``unsupported`` flag tells a feature RE2
  lacks (lookahead, lookbehind, backreferences, repetition counts above 1000) from a pattern
  that is not a regular expression at all;
* ECMA-262 escapes that RE2 spells differently are translated: ``\\uXXXX``, ``\\u{X...}``
  and ``\\cX``;
* ``$`` matches only at the very end, as in ECMA-262 (Python's also before a final newline);
  ``\\d``, ``\\w`` and ``\\s`` are ASCII classes, as in ECMA-262 without the ``u`` flag;
* ``check_pattern`` (what ``validate`` and every validator build run) refuses a pattern that
  compiles to more than ``MAX_PROGRAM_SIZE`` instructions: matching time is linear in the
  input with a factor that grows with the compiled size, so this bounds the factor (about
  20 us per character at worst, usually nanoseconds: RE2's DFA);
* nothing here logs: RE2's own error logging is off.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CHECK_MEMORY", "MATCH_MEMORY", "MAX_PROGRAM_SIZE", "RegexError", "check_pattern",
           "compile_pattern", "searches", "to_re2"]

#: The largest compiled pattern a manifest may hold, in RE2 instructions. Matching costs at
#: worst about 10 ns per instruction per input character (RE2's NFA, when its DFA runs out
#: of memory); the patterns shipped with the SDK's connectors compile to at most 267.
MAX_PROGRAM_SIZE = 2_000
#: Memory for checking a pattern: enough for any pattern under MAX_PROGRAM_SIZE.
CHECK_MEMORY = 256 * 1024
#: Memory RE2 may use for one pattern that matches values: its DFA caches states in it.
MATCH_MEMORY = 8 * 1024 * 1024

#: RE2 errors that mean "not a regular expression" (the rest name a feature RE2 refuses).
_SYNTAX_ERRORS = ("missing ]", "missing )", "unexpected )", "trailing \\",
                  "no argument for repetition", "missing argument to repetition",
                  "bad repetition operator", "invalid character class", "invalid UTF-8",
                  "invalid named capture group")

_LOOKAROUND = {"(?=": "a lookahead '(?='", "(?!": "a negative lookahead '(?!'",
               "(?<=": "a lookbehind '(?<='", "(?<!": "a negative lookbehind '(?<!'"}
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX_BRACED = re.compile(r"\{([0-9A-Fa-f]{1,6})\}")


class RegexError(ValueError):
    """A pattern RE2 does not compile; the message names the cause and the fix."""

    def __init__(self, message: str, *, unsupported: bool) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def to_re2(pattern: str) -> str:
    """``pattern`` with ECMA-262 escapes RE2 lacks rewritten; ``RegexError`` for features
    RE2 cannot run (lookaround, backreferences)."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escape, i = _escape(pattern, i, in_class)
            out.append(escape)
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            if pattern.startswith("[^]", i) or pattern.startswith("[]", i):
                # ECMA-262: [] matches nothing and [^] anything; RE2 reads ']' as a member.
                out[-1] = r"[^\x00-\x{10FFFF}]" if pattern[i + 1] == "]" else r"[\x00-\x{10FFFF}]"
                i += 2 if pattern[i + 1] == "]" else 3
                in_class = False
                continue
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        elif char == "(" and not in_class:
            for token, name in _LOOKAROUND.items():
                if pattern.startswith(token, i):
                    raise RegexError(
                        f"uses {name}, which the SDK's linear-time regex engine (RE2) does not"
                        " support: rewrite it without lookaround, for example by combining"
                        " patterns with allOf and not", unsupported=True)
            out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """The RE2 spelling of the escape at ``i`` and the index after it."""
    nxt = pattern[i + 1]
    if nxt == "u":
        braced = _HEX_BRACED.match(pattern, i + 2)
        if braced:
            return f"\\x{{{braced.group(1)}}}", braced.end()
        if _HEX4.match(pattern, i + 2):
            return f"\\x{{{pattern[i + 2:i + 6]}}}", i + 6
    if nxt == "c" and i + 2 < len(pattern) and pattern[i + 2].isascii() \
            and pattern[i + 2].isalpha():
        return f"\\x{{{ord(pattern[i + 2]) % 32:02x}}}", i + 3
    if not in_class and (nxt in "123456789" or pattern.startswith("k<", i + 1)):
        shown = "\\k<name>" if nxt == "k" else f"\\{nxt}"
        raise RegexError(
            f"uses a backreference ('{shown}'), which the SDK's linear-time regex engine (RE2)"
            " does not support: rewrite the pattern without it", unsupported=True)
    return pattern[i:i + 2], i + 2


def check_pattern(pattern: str) -> int:
    """The compiled size of ``pattern`` (RE2 program instructions); ``RegexError`` when RE2
    refuses it or it compiles to more than ``MAX_PROGRAM_SIZE`` instructions.

    Compiled within ``CHECK_MEMORY``, so even a pattern far too large fails in about 1 ms.
    """
    size = int(_compile(pattern, CHECK_MEMORY).programsize)
    if size > MAX_PROGRAM_SIZE:
        raise RegexError(f"compiles to {size:,} instructions, more than {MAX_PROGRAM_SIZE:,}"
                         " (matching costs time in proportion): simplify it, and use"
                         " maxLength for lengths", unsupported=True)
    return size


def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled by RE2 for matching (a ``re2._Regexp``: ``search``,
    ``fullmatch``, ``programsize``), with ``MATCH_MEMORY`` for RE2's automata."""
    return _compile(pattern, MATCH_MEMORY)


def searches(compiled: Any, text: str) -> bool:
    """Whether ``compiled`` (from ``compile_pattern``) finds a match in ``text``.

    RE2 reads UTF-8, and a string holding a lone surrogate (``"\\ud800"`` is valid JSON; an
    undecodable byte on the command line becomes ``"\\udcff"``) has no UTF-8 form: it is not
    text a pattern can describe, so it matches none, and the value is refused as not
    matching instead of escaping as an internal ``UnicodeEncodeError``.
    """
    try:
        return compiled.search(text) is not None
    except UnicodeEncodeError:
        return False


def _compile(pattern: str, memory: int) -> Any:
    import re2  # a C extension, loaded by the first pattern compiled

    options = re2.Options()
    options.log_errors = False
    options.max_mem = memory
    translated = to_re2(pattern)
    try:
        return re2.compile(translated, options)
    except re2.error as exc:
        raise _explained(exc) from None
    except UnicodeEncodeError:
        raise RegexError("is not valid Unicode text (it holds a lone surrogate)",
                         unsupported=False) from None


def _explained(exc: Exception) -> RegexError:
    raw = exc.args[0] if exc.args else ""
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if any(reason.startswith(s) for s in _SYNTAX_ERRORS):
        return RegexError(f"is not a valid regular expression ({reason})", unsupported=False)
    if reason.startswith("invalid repetition size"):
        return RegexError(f"repeats more than 1000 times in all ({reason}): use maxLength for"
                          " long values", unsupported=True)
    if reason.startswith("pattern too large"):
        return RegexError(f"compiles to more than {MAX_PROGRAM_SIZE:,} instructions (matching"
                          " costs time in proportion): simplify it, and use maxLength for"
                          " lengths", unsupported=True)
    return RegexError(f"uses syntax the SDK's linear-time regex engine (RE2) does not accept"
                      f" ({reason}): write it in the common subset of ECMA-262 and RE2",
                      unsupported=True)
