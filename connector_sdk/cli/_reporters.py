"""Printing validation results as text, JSON, GitHub annotations or SARIF, chosen by name.

Reporters only format: the problems come from ``_validate``. Text lines are
``path:line:col: RULE-ID message``; ``github`` prints workflow commands
(``::error file=...,line=...,col=...,title=RULE::message``) so problems show on the diff;
``sarif`` is a SARIF 2.1.0 log (``_sarif.py``) for code-scanning UIs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TextIO

from ._validation import FileResult

__all__ = ["REPORTERS", "report"]


def _text(results: Sequence[FileResult], out: TextIO) -> None:
    count = 0
    for result in results:
        for problem in result.problems:
            print(problem.format_text(), file=out)
            count += 1
    files = sum(1 for r in results if r.kind != "directory")
    if count:
        where = f" in {files} file{'s' if files != 1 else ''}" if files else ""
        print(f"{count} problem{'s' if count != 1 else ''}{where}", file=out)
    else:
        print(f"{files} file{'s' if files != 1 else ''} valid", file=out)


def _json(results: Sequence[FileResult], out: TextIO) -> None:
    payload = {
        "valid": not any(r.problems for r in results),
        "files": [
            {"file": r.file, "kind": r.kind, "valid": not r.problems,
             "problems": [p.as_dict() for p in r.problems]}
            for r in results
        ],
    }
    json.dump(payload, out, indent=2)
    out.write("\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(results: Sequence[FileResult], out: TextIO) -> None:
    for result in results:
        for p in result.problems:
            level = "warning" if p.severity == "warning" else "error"
            props = f"file={_escape_property(p.file)}"
            if p.line:
                props += f",line={p.line},col={p.column}"
            props += f",title={_escape_property(p.rule)}"
            print(f"::{level} {props}::{_escape_data(p.message)}", file=out)


def _sarif(results: Sequence[FileResult], out: TextIO) -> None:
    from ._sarif import sarif_log

    json.dump(sarif_log([p for r in results for p in r.problems]), out, indent=2)
    out.write("\n")


REPORTERS: dict[str, Callable[[Sequence[FileResult], TextIO], None]] = {
    "text": _text,
    "json": _json,
    "github": _github,
    "sarif": _sarif,
}


def report(results: Sequence[FileResult], fmt: str, out: TextIO) -> None:
    REPORTERS[fmt](results, out)
