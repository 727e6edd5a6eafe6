"""Is this text safe as an HTTP header value? One answer for every value that enters a header.

A secret parameter placed in a header, a token the provider sent, an operation input the
manifest puts in a header: each is checked when it enters (authentication creation, token
parsing, input validation), so a bad one is a typed error naming the field, never a value.
Left to the HTTP library, the same value fails at send time with a message that quotes it
(``Illegal header value b'...'``), or, for non-ASCII text, with a raw ``UnicodeEncodeError``.

The rule is RFC 9110 §5.5 without ``obs-text``: visible ASCII characters, with spaces and
tabs allowed only between them. Refused: CR, LF, NUL and every other control character
(header injection, RFC 9110 §5.5 and RFC 9112 §2.2), whitespace at either end (silently
trimmed by some servers, so the value sent is not the value stored), and anything outside
ASCII (encodings disagree on it; httpx refuses it).
"""

from __future__ import annotations

import re

__all__ = ["header_value_problem"]

_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\x20\x09\x21-\x7e]*[\x21-\x7e])?)?")
_LINE_BREAK = re.compile(r"[\r\n]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_value_problem(value: str) -> str | None:
    """None when ``value`` may be sent as a header value, else what is wrong with it, in
    words that never quote the value (it may be a secret)."""
    if _FIELD_VALUE.fullmatch(value):
        return None
    if _LINE_BREAK.search(value):
        return "contains a line break (CR or LF), which would end the header"
    if "\x00" in value:
        return "contains a NUL character"
    if _CONTROL.search(value):
        return "contains a control character"
    if not value.isascii():
        return "contains non-ASCII text; header values must be ASCII"
    return "starts or ends with whitespace"
