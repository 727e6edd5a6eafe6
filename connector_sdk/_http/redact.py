"""The one redactor: secrets and tokens never shown, in any form they can take in text.

A secret reaches a message in more shapes than its own: a provider echoes the form it was
sent (``client_secret=a%26b+c``), a JSON body escapes it (``"a\\"b"``), an exception shows a
``repr`` (``b'a\\\\b'``), an HTML page writes entities. ``redact`` builds, for each secret,
one pattern in which every character may appear in any of those forms, mixed freely:
raw, percent-encoded (either case, ``+`` for a space), JSON- and repr-escaped (``\\"``,
``\\uXXXX``, ``\\xXX``, surrogate pairs, UTF-8 bytes, doubled backslashes), and HTML
character references. A run of whitespace in a secret matches any run of whitespace, so
collapsing whitespace first cannot break a match. JSON and form members that carry a token
(``"access_token": "..."``, ``token=...``) are masked whatever their value.

What callers may rely on: redaction happens on the whole text *before* it is cut or
serialised (``redact_data`` masks a parsed value before ``json.dumps``), so neither an
encoding nor the cut-off can show a secret or part of one. ``redact(..., window=N)`` looks at
no more than ``N`` characters of a huge text and drops the last stretch of that window in
which a secret could begin without being whole (never a prefix of one on show).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .._secrets import MASK

__all__ = ["MASK", "TOKEN_KEYS", "redact", "redact_data", "shorten"]

#: Members whose value is a credential whatever it is (RFC 6749 §5.1, OpenID Connect).
TOKEN_KEYS = frozenset({"access_token", "refresh_token", "id_token", "token", "client_secret"})

_KEYS = "|".join(sorted(TOKEN_KEYS))
_JSON_MEMBER = re.compile(rf'("(?:{_KEYS})"\s*:\s*")((?:[^"\\]|\\.)*)("?)')
_FORM_MEMBER = re.compile(rf"(?<![\w.-])((?:{_KEYS})=)([^&\s\"'<>]*)")
_SPACE = re.compile(r"\s+")
_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "(?:apos|#39)"}
_SHORT_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v",
                  '"': '"', "'": "'", "/": "/"}
#: The longest text one character of a secret can become (4 UTF-8 bytes as ``\\\\xHH``).
_FORM_WIDTH = 28
_BS = r"\\{1,4}"  # one escaping backslash, or the doubled ones of an escape escaped again


def _forms(ch: str) -> list[str]:
    """Regex alternatives for one character of a secret, in every encoding it can take."""
    cp = ord(ch)
    data = ch.encode("utf-8", "surrogatepass")
    forms = [re.escape(ch), "(?i:" + "".join(f"%{b:02x}" for b in data) + ")"]
    if ch == " ":
        forms.append(r"\+")
    if ch == "\\":
        forms.append(_BS)
    if ch in _SHORT_ESCAPES:
        forms.append(_BS + re.escape(_SHORT_ESCAPES[ch]))
    if cp < 0x10000:
        forms.append(f"(?i:{_BS}u{cp:04x})")
    else:
        high, low = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
        forms.append(f"(?i:{_BS}u{high:04x}{_BS}u{low:04x})")
    forms.append(f"(?i:{_BS}U{cp:08x})")
    if cp < 0x100:
        forms.append(f"(?i:{_BS}x{cp:02x})")
    if cp >= 0x80:
        forms.append("(?i:" + "".join(f"{_BS}x{b:02x}" for b in data) + ")")
    forms.append(f"&#0*{cp};")
    forms.append(f"(?i:&#x0*{cp:x};)")
    if ch in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[ch]};")
    return forms


def _secret_pattern(secret: str) -> str:
    parts: list[str] = []
    i = 0
    while i < len(secret):
        ch = secret[i]
        if ch.isspace():
            j = i
            while j < len(secret) and secret[j].isspace():
                j += 1
            run = secret[i:j]
            forms = {r"\s"} | {f for c in run for f in _forms(c)}
            parts.append(f"(?:{'|'.join(sorted(forms))}){{1,{len(run)}}}")
            i = j
        else:
            parts.append(f"(?:{'|'.join(_forms(ch))})")
            i += 1
    return "".join(parts)


def _pattern(secrets: Iterable[str]) -> tuple[re.Pattern[str] | None, int]:
    """One pattern for all secrets (longest first) and the widest text a secret can take."""
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not values:
        return None, 0
    pattern = re.compile("|".join(_secret_pattern(s) for s in values))
    return pattern, _FORM_WIDTH * len(values[0]) + 16


def redact(text: str, secrets: Iterable[str], *, window: int | None = None) -> str:
    """``text`` with every form of every secret, and every token-carrying member, masked.

    With ``window``, a longer text is judged on its first ``window`` characters only, and
    the part of them where a secret could start without ending is dropped, not shown.
    """
    return _redact(text, *_pattern(secrets), window=window)


def _redact(text: str, pattern: re.Pattern[str] | None, width: int, *,
            window: int | None = None) -> str:
    end = len(text)
    if window is not None and end > window:
        text = text[:window]
        end = max(window - width, 0)
    if pattern is not None:
        out: list[str] = []
        pos = 0
        for match in pattern.finditer(text):
            if match.start() >= end:
                break
            out += (text[pos:match.start()], MASK)
            pos = match.end()
        if pos < end:
            out.append(text[pos:end])
        text = "".join(out)
    else:
        text = text[:end]
    text = _JSON_MEMBER.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return _FORM_MEMBER.sub(lambda m: m.group(1) + MASK, text)


def redact_data(value: Any, secrets: Sequence[str]) -> Any:
    """A parsed JSON value with secrets masked in every string and token members masked:
    run it before ``json.dumps`` so serialising never produces a form the text missed.

    The secrets' pattern is compiled once per call, not once per string (a listing of a
    thousand items would otherwise compile it thousands of times). It is not cached beyond
    the call, so no secret outlives its use in a module-level cache.
    """
    pattern, width = _pattern(secrets)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _redact(item, pattern, width)
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, dict):
            return {_redact(str(k), pattern, width): MASK if k in TOKEN_KEYS else walk(v)
                    for k, v in item.items()}
        return item

    return walk(value)


def shorten(text: str, limit: int) -> str:
    """Whitespace collapsed, cut to ``limit`` characters with ``...`` when longer."""
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: max(limit - 3, 0)].rstrip() + "..."
