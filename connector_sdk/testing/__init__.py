"""The connector-sdk test kit: real loopback servers, a fake clock, canaries, conformance.

Install ``connector-sdk[testing]``; its pytest plugin (``pytest11`` entry point
``connector_sdk``) provides the fixtures listed in ``connector_sdk.testing.pytest_plugin``
with no import needed. The classes behind them are importable from here for tests that
build their own (docs/testing.md):

- ``LoopbackServer``: a scriptable HTTP/1.1 server on 127.0.0.1; ``Reply``, ``Exchange``,
  ``Seen``; ``faults`` (5xx, 429 with ``Retry-After``, hangs, bad bodies, resets, trickles).
- ``TokenServer``: a generic OAuth2 client-credentials token endpoint that counts requests
  and expires and revokes tokens on demand. ``APIServer``: routes the author declares,
  accepting only the token server's valid tokens.
- ``Cassette`` / ``Tape`` / ``RecordingTransport`` / ``ReplayTransport``: recordings of real
  responses with secrets scrubbed.
- ``FakeClock``, ``Sleeps``; ``new_canary``, ``assert_no_canary``.
- ``loopback_service``, ``authentication``, ``make_runtime``, ``FAST_RETRY``;
  ``make_emulator``; ``serve_in_background`` (a development server for ``--local-server``).
- ``ConnectorConformance``: subclass it in a test module and a connector gets the standard
  conformance suite (docs/testing.md).

Importing ``connector_sdk`` never imports this package. Nothing here needs pytest except the
plugin and the conformance suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import faults
from .api import APIServer, carried_token
from .canaries import assert_no_canary, new_canary
from .clock import FakeClock, Sleeps
from .servers import Exchange, LoopbackServer, Reply, Responder, Seen
from .tokens import IssuedToken, TokenServer

if TYPE_CHECKING:
    from .conformance import ConnectorConformance
    from .emulators import make_emulator
    from .recording import Cassette, Interaction, RecordingTransport, ReplayTransport, Tape
    from .serve import serve_in_background
    from .services import FAST_RETRY, authentication, loopback_service, make_runtime

__all__ = [
    "FAST_RETRY",
    "APIServer",
    "Cassette",
    "ConnectorConformance",
    "Exchange",
    "FakeClock",
    "Interaction",
    "IssuedToken",
    "LoopbackServer",
    "RecordingTransport",
    "ReplayTransport",
    "Reply",
    "Responder",
    "Seen",
    "Sleeps",
    "Tape",
    "TokenServer",
    "assert_no_canary",
    "authentication",
    "carried_token",
    "faults",
    "loopback_service",
    "make_emulator",
    "make_runtime",
    "new_canary",
    "serve_in_background",
]

#: Names whose modules import httpx or pytest: loaded on first use.
_LAZY = {
    "ConnectorConformance": ".conformance",
    "make_emulator": ".emulators",
    "Cassette": ".recording",
    "Interaction": ".recording",
    "RecordingTransport": ".recording",
    "ReplayTransport": ".recording",
    "Tape": ".recording",
    "FAST_RETRY": ".services",
    "authentication": ".services",
    "loopback_service": ".services",
    "make_runtime": ".services",
    "serve_in_background": ".serve",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'connector_sdk.testing' has no attribute {name!r}")
