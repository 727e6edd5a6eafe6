"""Text shown to a person: control characters escaped, so no text can drive a terminal.

Provider answers, manifest values and workflow inputs reach error messages and command
output. A terminal acts on some characters instead of printing them: ESC starts CSI and OSC
sequences (clear the screen, move the cursor, retitle the window), CR and backspace overwrite
what was printed (a fake "ok"), NUL and DEL confuse pagers, and the C1 controls (U+0080 to
U+009F, CSI is U+009B) act like ESC sequences on many terminals. Bidirectional overrides and
line separators rearrange what a reader sees without being visible themselves.

``escape_controls`` writes each such character as ``\\uXXXX``: visible, unambiguous, and a
valid JSON escape, so it may run over JSON text too and the JSON stays valid and decodes to
the same value. Line feed and tab are kept: they lay out our own output.
"""

from __future__ import annotations

import re

__all__ = ["escape_controls", "has_controls"]

#: C0 controls except tab and line feed, DEL, C1 controls, bidi marks and overrides
#: (https://www.unicode.org/reports/tr9/), line and paragraph separators.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_controls(text: str) -> str:
    """``text`` with every character that can act on a terminal written as ``\\uXXXX``."""
    return _CONTROLS.sub(_escape, text)


def has_controls(text: str) -> bool:
    """True when ``escape_controls`` would change ``text``."""
    return _CONTROLS.search(text) is not None
