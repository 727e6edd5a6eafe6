"""Canary secrets: fake secret values a test fails on if they show up where they must not.

A test takes a canary (the ``canary`` / ``make_canary`` fixtures), uses it as a client
secret or a token, and does something that could leak it. The kit's pytest plugin then
fails the test if the canary occurs in anything pytest captured for it: stdout, stderr, log
records at every level the run captures (run with ``-o log_level=DEBUG`` to judge debug
logs too), or the exception and traceback it failed with; the failure report never shows
the canary. Text a test reads itself (``capsys``, a subprocess's output) is checked with
``assert_no_canary``.
"""

from __future__ import annotations

import secrets

__all__ = ["assert_no_canary", "find_leaks", "new_canary"]


def new_canary(prefix: str = "canary") -> str:
    """A unique fake secret, ``prefix-`` and 24 hex digits (valid in any header or form)."""
    return f"{prefix}-" + secrets.token_hex(12)


def assert_no_canary(text: str, *canaries: str) -> None:
    """Fail, without printing the canary, if any canary occurs in ``text``."""
    # A plain raise, not ``assert``: pytest's assertion rewriting would show both operands.
    if any(value in text for value in canaries):
        raise AssertionError("a canary secret leaked into the checked text (not shown)")


def find_leaks(sections: list[tuple[str, str]], canaries: list[str]) -> list[str]:
    """The names of the ``(name, text)`` sections in which a canary occurs, sorted."""
    return sorted({name for name, text in sections if any(c in text for c in canaries)})
