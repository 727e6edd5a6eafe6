"""Provider text made fit to show: the one reading of an error body, for every endpoint.

Token endpoints, APIs and revocation endpoints explain a failure in many shapes: RFC 6749
§5.2 ``error``/``error_description``, Twitch ``{"status":400,"message":...}``, Shopify
``{"errors": "..." | [...] | {field: [...]}}``, a proxy's HTML page, plain text.
``provider_message`` reads all of them into a ``ProviderMessage``.

Whatever the shape, the text shown goes through ``shown_text``, in this order: whitespace
collapsed, every secret redacted (``redact``: every encoding, judged on the whole text before
anything is cut or serialised), control characters escaped (``escape_controls``: an
``error_description`` cannot drive the terminal it is printed on), then cut to the limit.
An unknown JSON shape is shown as JSON, with secrets and token members masked in the parsed
value before it is serialised.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._text import escape_controls
from .redact import redact, redact_data, shorten

__all__ = ["MESSAGE_LIMIT", "ProviderMessage", "json_value", "provider_message", "shown_text"]

#: How much of a provider's text a message shows.
MESSAGE_LIMIT = 300
#: How much of a huge text redaction looks at; far more than any message shows.
_WINDOW = 64 * 1024
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_TEXT_MEMBERS = ("error_description", "message", "errors", "error_message", "detail")


def shown_text(text: str, secrets: Sequence[str], limit: int = MESSAGE_LIMIT) -> str:
    """``text`` as it may be shown: redacted, control characters escaped, collapsed, cut."""
    text = redact(shorten(text, len(text)), secrets, window=_WINDOW)  # collapsed, redacted
    # escaping only lengthens text: the first limit + 1 characters decide what is shown
    return shorten(escape_controls(text[: limit + 1]), limit)


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """What a provider said, safe to show. ``code`` is the ``error`` member (RFC 6749 §5.2
    code, or Twitch's reason phrase); ``text`` its own description; ``described`` tells that
    ``text`` is the ``error_description`` that belongs to ``code``."""

    code: str | None
    text: str | None
    described: bool = False

    @property
    def shown(self) -> str:
        """The description, or a note that there was none (for messages that need text)."""
        return self.text or ("no description given" if self.code else "(empty body)")

    @property
    def joined(self) -> str | None:
        """One line for an API error: ``code: description`` for the RFC pair, else the
        description, else the code; None when the body said nothing."""
        if self.described and self.code and self.text:
            return f"{self.code}: {self.text}"
        return self.text or self.code


def json_value(body: bytes) -> Any:
    """The JSON value of ``body``, or None; by content, whatever the media type says."""
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _text_of(value: Any, *, mapping: bool = False) -> str | None:
    """The text of a member: a string, the texts of a list, a described object; with
    ``mapping`` an object of fields (Shopify ``errors``) reads ``field: reason, ...``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [_text_of(v) for v in value]
        return "; ".join(p for p in parts if p) or None
    if isinstance(value, dict):
        for name in ("message", "error_description", "detail", "error"):
            if isinstance(value.get(name), str) and value[name].strip():
                return str(value[name])
        if mapping:
            return "; ".join(
                f"{key}: {', '.join(str(v) for v in (item if isinstance(item, list) else [item]))}"
                for key, item in value.items()) or None
        return None
    return str(value)


def _non_json_text(body: bytes, content_type: str | None) -> str:
    text = body.decode("utf-8", errors="replace")
    if "html" in (content_type or "").lower() or text.lstrip()[:1] == "<":
        title = _TITLE.search(text)
        return html.unescape(title.group(1) if title else _TAG.sub(" ", text))
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def provider_message(
    body: bytes, content_type: str | None, *, secrets: Sequence[str] = (),
    limit: int = MESSAGE_LIMIT,
) -> ProviderMessage:
    """Read an error body of any shape; every text in the result passed ``shown_text``.

    JSON objects: the ``error`` code and the first of ``error_description``, ``message``,
    ``errors``, ``error_message``, ``detail`` that says something; an object with none of
    them is shown as JSON. HTML: the page title (or its text). Other text: its first line.
    """
    data = json_value(body) if body else None
    code: str | None = None
    text: str | None = None
    described = False
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, str) and error.strip():
            code = error
        for name in _TEXT_MEMBERS:
            text = _text_of(data.get(name), mapping=name == "errors")
            if text and text.strip():
                described = name == "error_description"
                break
            text = None
        if text is None and code is None:
            text = json.dumps(redact_data(data, secrets), ensure_ascii=False)
    elif data is not None:
        text = _text_of(data)
    elif body:
        text = _non_json_text(body, content_type)
    shown = shown_text(text, secrets, limit) if text else None
    return ProviderMessage(
        code=shown_text(code, secrets, 60) if code else None,
        text=shown or None,
        described=described,
    )
