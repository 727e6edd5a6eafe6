"""The output boundary of the command line: nothing printed can drive a terminal.

Error messages carry provider text (an ``error_description``), manifest values and workflow
inputs; any of them may hold ESC sequences, CR, backspace or NUL that retitle the terminal,
clear it or overwrite a line with a fake "ok". ``main`` runs every subcommand with stdout
and stderr behind ``EscapingStream``, which passes all text through the one escaping
function (``connector_sdk._text.escape_controls``), so no print can forget it. JSON output
stays valid JSON that decodes to the same values: ``json.dumps`` escapes C0 controls itself,
and the characters left (DEL, C1 controls, bidi overrides) are written as JSON ``\\uXXXX``
escapes.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import TextIO

from .._text import escape_controls

__all__ = ["EscapingStream", "escaped_output"]


class EscapingStream(io.TextIOBase):
    """A text stream that writes ``escape_controls(text)`` to the stream it wraps."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(escape_controls(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def fileno(self) -> int:
        return self.inner.fileno()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Run the body with ``sys.stdout`` and ``sys.stderr`` escaping; restored after."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = EscapingStream(out)
    sys.stderr = EscapingStream(err)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
