"""Responders that misbehave: the faults a token endpoint or an API shows in production.

Each function returns a responder for ``LoopbackServer.script`` / ``route`` (and for
``TokenServer.fail_next``), so a fault is queued for exactly the requests it should hit::

    token_server.fail_next(faults.status(503), faults.rate_limited(retry_after=1))
    local_server.script("/api/things", faults.hang(30))

Waits (``hang``, ``trickle``) end early when the server closes, so a test never waits for a
fault it no longer needs.
"""

from __future__ import annotations

import time
from typing import Any

from .servers import Exchange, Reply, Responder

__all__ = [
    "bad_body",
    "drop",
    "drop_mid_body",
    "hang",
    "huge",
    "rate_limited",
    "reply",
    "reset",
    "reset_mid_body",
    "status",
    "token",
    "trickle",
]


def reply(status: int = 200, **kwargs: Any) -> Responder:
    """``exchange.reply(status, **kwargs)``: ``json_body=``, ``body=``, ``content_type=``,
    ``headers=``."""
    def run(exchange: Exchange) -> None:
        exchange.reply(status, **kwargs)
    return run


def status(code: int, *, error: str = "server_error", headers: dict[str, str] | None = None
           ) -> Reply:
    """A JSON error answer (``{"error": error}``) with status ``code``: 5xx, 4xx."""
    return Reply(code, json={"error": error}, headers=headers or {})


def rate_limited(retry_after: float | str = 1, *, code: int = 429) -> Reply:
    """429 Too Many Requests with ``Retry-After`` (RFC 9110 §10.2.3): seconds or an HTTP
    date, given as text to send it verbatim."""
    value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
    return Reply(code, json={"error": "rate_limited"}, headers={"Retry-After": value})


def bad_body(body: bytes | str = b"<html>not json</html>", *, code: int = 200,
             content_type: str = "application/json") -> Responder:
    """An answer whose body is not what its ``Content-Type`` promises (a proxy's HTML page)."""
    return reply(code, body=body, content_type=content_type)


def token(value: str, **extra: Any) -> Reply:
    """A successful token answer (RFC 6749 §5.1): bearer, one hour unless ``extra`` says."""
    return Reply(200, json={"access_token": value, "token_type": "bearer",
                            "expires_in": 3600, **extra})


def drop() -> Responder:
    """Close the connection without answering (FIN)."""
    return lambda exchange: exchange.drop()


def reset() -> Responder:
    """Abort the connection with a TCP RST."""
    return lambda exchange: exchange.reset()


def hang(seconds: float) -> Responder:
    """Say nothing for ``seconds`` (or until the server closes), then close: a timeout."""
    def run(exchange: Exchange) -> None:
        exchange.sleep(seconds)
        exchange.drop()
    return run


def reset_mid_body(code: int = 200, body: bytes = b'{"access_token": "partial-') -> Responder:
    """Send the headers and the start of a longer body, then RST."""
    def run(exchange: Exchange) -> None:
        exchange.head(code, {"Content-Type": "application/json", "Content-Length": "4096"})
        exchange.write(body)
        exchange.sleep(0.02)
        exchange.reset()
    return run


def drop_mid_body(code: int = 200) -> Responder:
    """Send the headers and part of the declared body, then close cleanly (FIN)."""
    def run(exchange: Exchange) -> None:
        exchange.head(code, {"Content-Type": "application/json", "Content-Length": "4096"})
        exchange.write(b'{"access_token": "x')
        exchange.drop()
    return run


def trickle(interval: float, total_seconds: float) -> Responder:
    """200 with a chunked body that drips one byte every ``interval`` seconds, for
    ``total_seconds``: what a total deadline, not a read timeout, must cut off."""
    def run(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/json",
                            "Transfer-Encoding": "chunked"})
        deadline = time.monotonic() + total_seconds
        exchange.write(b"1\r\n{\r\n")
        while time.monotonic() < deadline:
            if exchange.sleep(interval) or not exchange.write(b"1\r\n \r\n"):
                return
        exchange.drop()
    return run


def huge(code: int, size: int, *, content_type: str = "application/json",
         prefix: bytes = b'{"message": "') -> Responder:
    """A body of ``size`` bytes sent in 64 KiB chunks (nothing held in the server's memory)."""
    def run(exchange: Exchange) -> None:
        exchange.head(code, {"Content-Type": content_type, "Content-Length": str(size)})
        exchange.write(prefix)
        left = size - len(prefix)
        chunk = b"A" * 65536
        while left > 0:
            n = min(left, len(chunk))
            if not exchange.write(chunk[:n]):
                return
            left -= n
    return run
