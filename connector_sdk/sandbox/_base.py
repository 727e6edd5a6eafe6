"""What every emulator shares: a clock, a lock, request counters and JSON responses.

An emulator is a plain object whose ``handle(request) -> response`` is the whole protocol, so
the same code answers in-process (``SandboxTransport``) and on loopback (``SandboxServer``).
Mutable state (tokens, rate-limit buckets, counters) is changed only under ``self._lock``;
time is read only through ``self.clock`` so tests move it instead of sleeping.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from .._http.seam import httpx

__all__ = [
    "HEX",
    "LOWER_ALNUM",
    "Clock",
    "Sandbox",
    "SandboxBase",
    "TokenRecord",
    "json_response",
    "read_form",
    "read_json_object",
    "text_response",
]

Clock = Callable[[], float]


class Sandbox(Protocol):
    """The interface transports and the loopback server dispatch to."""

    name: str

    def serves(self, host: str) -> bool:
        """True when this emulator answers for ``host`` (lower-case, no port)."""
        ...

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request whose body has been read."""
        ...


@dataclass
class TokenRecord:
    """An access token the emulator minted: who owns it and until when it is valid."""

    client_id: str
    expires_at: float
    shop: str = ""
    revoked: bool = False

    def valid_at(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


class SandboxBase:
    """Clock, lock, counters and token minting shared by the emulators.

    Counters callers may read (and reset with ``reset_counters``):
    ``token_requests`` (requests to the token endpoint, whatever the outcome),
    ``api_requests`` (requests to the API host, whatever the outcome) and
    ``requests_by_path`` (a ``Counter`` of every request's path).
    """

    name = "sandbox"

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        self._lock = threading.RLock()
        self._tokens: dict[str, TokenRecord] = {}
        self.token_requests = 0
        self.api_requests = 0
        self.requests_by_path: Counter[str] = Counter()

    def reset_counters(self) -> None:
        """Zero the request counters (tokens and buckets are kept)."""
        with self._lock:
            self.token_requests = 0
            self.api_requests = 0
            self.requests_by_path.clear()

    def revoke_all_tokens(self) -> int:
        """Revoke every token minted so far; returns how many were still valid."""
        with self._lock:
            now = self.clock()
            valid = sum(1 for t in self._tokens.values() if t.valid_at(now))
            for record in self._tokens.values():
                record.revoked = True
            return valid

    def expire_all_tokens(self) -> int:
        """Make every token expire now, as if its lifetime had passed; returns how many."""
        with self._lock:
            now = self.clock()
            live = [t for t in self._tokens.values() if t.valid_at(now)]
            for record in live:
                record.expires_at = now
            return len(live)

    @property
    def hosts(self) -> tuple[str, ...]:
        """The real hosts this emulator stands in for."""
        raise NotImplementedError

    def serves(self, host: str) -> bool:
        """True when this emulator answers for ``host`` (lower-case, no port)."""
        raise NotImplementedError

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request whose body has been read; thread-safe."""
        raise NotImplementedError

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the emulator has minted."""
        with self._lock:
            return len(self._tokens)

    def _mint(self, record: TokenRecord, *, length: int, alphabet: str) -> str:
        token = "".join(secrets.choice(alphabet) for _ in range(length))
        self._tokens[token] = record
        return token

    def _count(self, request: httpx.Request, *, token: bool = False, api: bool = False) -> None:
        self.requests_by_path[request.url.path] += 1
        if token:
            self.token_requests += 1
        if api:
            self.api_requests += 1


LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"


def json_response(
    status: int, body: Any, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON response with compact separators, as both providers send."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return httpx.Response(status, content=content, headers=merged)


def text_response(status: int, text: str, *, content_type: str = "text/plain") -> httpx.Response:
    """A plain-text (or HTML) response, for the providers' non-JSON error bodies."""
    return httpx.Response(
        status, content=text.encode(), headers={"Content-Type": f"{content_type}; charset=utf-8"}
    )


def read_form(request: httpx.Request) -> dict[str, str] | None:
    """The url-encoded form body as a dict (last value wins), or None if it is not a form.

    A ``; charset=...`` suffix on the media type is accepted, as real servers do (the
    twitch-cli mock does not, which is one of its differences from Twitch).
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return None
    try:
        text = request.content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return dict(parse_qsl(text, keep_blank_values=True))


def read_json_object(request: httpx.Request) -> dict[str, Any] | None:
    """The JSON object body, or None when the body is not a JSON object."""
    try:
        value = json.loads(request.content or b"null")
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
