"""What every emulator shares: a clock, a lock, request counters, tokens and JSON responses.

An emulator is a plain object whose ``handle(request) -> response`` is the whole protocol, so
the same code answers in-process (``SandboxTransport``) and on loopback (``SandboxServer``).
Mutable state (tokens, rate-limit buckets, counters, consent) is changed only under
``self.lock``;
time is read only through ``self.clock`` so tests move it instead of sleeping.

``Sandbox`` is what the transports and the server dispatch to; ``Emulator`` adds what the
runtime and ``connector-sdk sandbox`` need from an emulator a plugin registers (its hosts and
the throwaway credentials it accepts). ``SandboxBase`` implements the shared parts of both.
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
from typing import Any
from urllib.parse import parse_qsl

from .._http.seam import httpx
from ._approve import approve
from ._protocol import Emulator, EmulatorFactory, Sandbox

__all__ = [
    "HEX",
    "LOWER_ALNUM",
    "Clock",
    "Emulator",
    "EmulatorFactory",
    "Sandbox",
    "SandboxBase",
    "TokenRecord",
    "json_response",
    "read_form",
    "read_json_object",
    "text_response",
]

Clock = Callable[[], float]

#: Alphabets of minted tokens: lower-case alphanumerics and hex digits.
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"


@dataclass
class TokenRecord:
    """An access token the emulator minted: who owns it and until when it is valid.

    ``subject`` is the user a user access token acts for ("" for an app token) and
    ``scopes`` what that user granted; ``expires_at`` may be ``math.inf`` (no expiry).
    """

    client_id: str
    expires_at: float
    shop: str = ""
    revoked: bool = False
    subject: str = ""
    scopes: tuple[str, ...] = ()

    def valid_at(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


class SandboxBase:
    """Clock, lock, counters and token minting shared by the emulators.

    Subclasses set ``name`` and implement ``hosts``, ``serves``, ``handle`` and
    ``parameters``; they mint tokens with ``mint_token``, look them up with ``find_token``,
    count each request with ``count_request`` and change state only under ``self.lock`` (a
    re-entrant lock, so ``handle`` may hold it while calling helpers that take it too).

    Counters callers may read (and reset with ``reset_counters``):
    ``token_requests`` (requests to the token endpoint, whatever the outcome),
    ``api_requests`` (requests to the API host, whatever the outcome) and
    ``requests_by_path`` (a ``Counter`` of every request's path).
    """

    name = "sandbox"

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        self.lock = threading.RLock()
        self._tokens: dict[str, TokenRecord] = {}
        self.token_requests = 0
        self.api_requests = 0
        self.requests_by_path: Counter[str] = Counter()

    def reset_counters(self) -> None:
        """Zero the request counters (tokens and buckets are kept)."""
        with self.lock:
            self.token_requests = 0
            self.api_requests = 0
            self.requests_by_path.clear()

    def revoke_all_tokens(self) -> int:
        """Revoke every token minted so far; returns how many were still valid."""
        with self.lock:
            now = self.clock()
            valid = sum(1 for t in self._tokens.values() if t.valid_at(now))
            for record in self._tokens.values():
                record.revoked = True
            return valid

    def expire_all_tokens(self) -> int:
        """Make every token expire now, as if its lifetime had passed; returns how many."""
        with self.lock:
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

    def parameters(self) -> dict[str, str]:
        """Authentication parameter values this emulator accepts (a fresh dict)."""
        raise NotImplementedError

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the emulator has minted."""
        with self.lock:
            return len(self._tokens)

    def mint_token(
        self, record: TokenRecord, *, length: int = 30, alphabet: str = LOWER_ALNUM,
        prefix: str = "",
    ) -> str:
        """A new random access token, ``prefix`` then ``length`` characters from
        ``alphabet``, remembered with ``record`` (who owns it, until when); call it under
        ``self.lock``."""
        token = prefix + "".join(secrets.choice(alphabet) for _ in range(length))
        self._tokens[token] = record
        return token

    def find_token(self, token: str) -> TokenRecord | None:
        """The record of a token this emulator minted (valid or not), or None."""
        return self._tokens.get(token)

    def revoke_token(self, token: str) -> None:
        """Revoke one access token this emulator minted (unknown tokens are ignored)."""
        with self.lock:
            record = self._tokens.get(token)
            if record is not None:
                record.revoked = True

    def approve(self, authorization_url: str, *, deny: bool = False) -> str:
        """Answer this emulator's consent page at ``authorization_url`` over HTTP and return
        the callback URL it redirects to (``code`` and ``state``, or ``error``).

        The page is fetched and its form submitted through ``handle``, exactly as a browser
        would (``connector_sdk.sandbox.approve``), pressing Approve, or Deny with ``deny=True``.
        For tests that need no browser; ``ConsentPageError`` when the page cannot be answered.
        """
        return approve(self, authorization_url, deny=deny)

    def count_request(
        self, request: httpx.Request, *, token: bool = False, api: bool = False
    ) -> None:
        """Count ``request`` by path, and as a token or an API request; under ``self.lock``."""
        self.requests_by_path[request.url.path] += 1
        if token:
            self.token_requests += 1
        if api:
            self.api_requests += 1



def json_response(
    status: int, body: Any, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON response with compact separators, as most APIs send."""
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

    A ``; charset=...`` suffix on the media type is accepted, as real servers do.
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
