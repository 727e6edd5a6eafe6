"""Problems found in a manifest or workflow file, apart from how they are reported.

A validator returns ``Problem`` values; reporters (``cli/_reporters.py``) turn them into text,
JSON or GitHub annotations. Every problem carries where it is (file, 1-based line and column,
the JSON path inside the document), a stable rule id that tests and users can rely on, and a
message that says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Problem", "format_path"]

Severity = Literal["error", "warning"]


def format_path(path: tuple[str | int, ...]) -> str:
    """``("auth", "headers", 0)`` -> ``$.auth.headers[0]``, the form messages show."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file; ``line`` and ``column`` are 1-based (0 when unknown)."""

    file: str
    line: int
    column: int
    rule: str
    message: str
    path: tuple[str | int, ...] = field(default=())
    severity: Severity = "error"

    @property
    def json_path(self) -> str:
        return format_path(self.path)

    def format_text(self) -> str:
        """``file:line:col: RULE-ID message (at $.path)``, the line the CLI prints; a problem
        with no position (a directory, an unreadable file) is ``file: RULE-ID message``."""
        where = f" (at {self.json_path})" if self.path else ""
        position = f":{self.line}:{self.column}" if self.line else ""
        return f"{self.file}{position}: {self.rule} {self.message}{where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.json_path,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
        }
