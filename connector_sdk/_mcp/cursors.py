"""Cursors handed to a language model: where the next page starts, signed by the server.

A page's continuation is the provider's cursor or, for ``Link`` pagination, a URL. A model
could alter it, and an altered ``Link`` URL could point at any path under the API's base URL,
reaching operations the server was told not to expose. So the cursor a tool returns is the
tool, the authentication, the call's arguments and the continuation, signed with
HMAC-SHA256 (RFC 2104) under a key that lives only in the server process; a cursor is
accepted back only unaltered, by the same tool, for the same authentication. Nothing in it
is secret (it holds the model's own arguments and what the API said), and a restarted
server no longer accepts the cursors of the previous one: the model starts the listing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from .._errors import OperationError

__all__ = ["Continuation", "CursorSigner"]

MAX_CURSOR = 64 * 1024
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Continuation:
    """What a cursor carries back: the listing's arguments and where its next page starts."""

    arguments: dict[str, Any]
    after: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    """Seals and opens cursors with one random key per server (``key`` for tests)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def seal(self, *, tool: str, authentication: str, arguments: dict[str, Any],
             after: str) -> str:
        """The cursor a tool result carries as ``next_cursor``."""
        payload = json.dumps(
            {"v": _VERSION, "t": tool, "a": authentication, "i": arguments, "n": after},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def open(self, cursor: object, *, tool: str, authentication: str) -> Continuation:
        """The continuation of a cursor this server sealed for ``tool`` and
        ``authentication``; ``OperationError`` for anything else."""
        refused = OperationError(
            f"tool '{tool}': this cursor was not issued by this server for this tool and"
            f" authentication '{authentication}' (or the server restarted since): call again"
            " without 'cursor' to start from the first page", operation=tool)
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR or cursor.count(".") != 1:
            raise refused
        body, _, mac = cursor.partition(".")
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            raise refused from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise refused
        data = json.loads(payload)  # ours: it was signed by this key
        if data.get("v") != _VERSION or data.get("t") != tool or data.get("a") != authentication:
            raise refused
        return Continuation(arguments=data["i"], after=data["n"])
