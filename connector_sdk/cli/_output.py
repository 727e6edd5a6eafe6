"""The output boundary of the command line: nothing printed can drive a terminal.

Error messages carry provider text (an ``error_description``), manifest values and workflow
inputs; any of them may hold ESC sequences, CR, backspace or NUL that retitle the terminal,
clear it or overwrite a line with a fake "ok". ``main`` runs every subcommand with stdout
and stderr behind ``EscapingStream``, which passes all text through the one escaping
function (``connector_sdk._text.escape_controls``), so no print can forget it. JSON output
stays valid JSON that decodes to the same values: ``json.dumps`` escapes C0 controls itself,
and the characters left (DEL, C1 controls, bidi overrides) are written as JSON ``\\uXXXX``
escapes.

Errors have one JSON shape too (``error_document``), for every command and every kind of
failure, usage errors included: with ``--format json`` (or ``jsonl``, ``sarif``) on the
line, ``main`` writes it to stdout (where a program reading the command's JSON looks)
instead of the ``connector-sdk COMMAND: message`` line on stderr; exit codes do not change.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Literal, TextIO

from .._text import escape_controls

__all__ = ["JSON_FORMATS", "EscapingStream", "error_document", "escaped_output",
           "json_errors_requested", "write_error"]

#: Formats whose readers are programs: an error is then the JSON error document.
JSON_FORMATS = frozenset({"json", "jsonl", "sarif"})

ErrorKind = Literal["usage", "failed", "internal", "interrupted"]


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


def json_errors_requested(argv: Sequence[str]) -> bool:
    """Whether the line asks for a machine format (``--format json`` or ``--format=json``;
    the last one wins, as argparse reads it), before or whether argparse understood it."""
    chosen = None
    for index, word in enumerate(argv):
        if word == "--format" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif word.startswith("--format="):
            chosen = word.partition("=")[2]
    return chosen in JSON_FORMATS


def error_document(*, command: str, kind: ErrorKind, message: str, exit_code: int,
                   error_type: str, problems: Sequence[object] = ()) -> dict[str, object]:
    """The one JSON shape of a failed command::

        {"error": {"command": "connector-sdk auth create", "kind": "usage",
                   "type": "UsageError", "message": "...", "exit_code": 2,
                   "problems": [{"file", "line", "column", "path", "rule", "severity",
                                 "message"}, ...]}}

    ``kind`` is ``usage`` (exit 2), ``failed`` (exit 1: the message says how to fix it),
    ``internal`` (exit 2, a bug) or ``interrupted`` (130). ``problems`` has the shape
    ``validate --format json`` gives each problem (``Problem.as_dict``), for errors that
    carry them (an invalid manifest, workflow or redirect configuration); else ``[]``.
    """
    return {"error": {
        "command": command, "kind": kind, "type": error_type, "message": message,
        "exit_code": exit_code,
        "problems": [p.as_dict() for p in problems if hasattr(p, "as_dict")],
    }}


def write_error(document: dict[str, object], out: TextIO) -> None:
    json.dump(document, out, indent=2)
    out.write("\n")
