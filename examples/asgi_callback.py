"""A platform's callback endpoint for users connecting their Twitch account, runnable offline.

Run it against the built-in emulators (nothing leaves the machine)::

    CONNECTOR_SDK_HOME=$(mktemp -d) .venv/bin/uvicorn examples.asgi_callback:app --port 8765

then open http://127.0.0.1:8765/ : it begins an authorization for the Twitch emulator and
sends you to its consent page (through ``/_sandbox/…`` on the same server); Approve
brings you back to ``/callback``, where ``connector_sdk.asgi.callback_app`` completes it and
stores the authentication ``viewer`` with its tokens sealed. In production, drop
``sandbox=True``, give the real client id and secret, and register the redirect URL with the
provider (or configure several, one per white-labelled organisation: docs/redirects.md).
"""

from __future__ import annotations

import os
from typing import Any

from connector_sdk import Runtime
from connector_sdk.asgi import callback_app
from connector_sdk.sandbox import SandboxServer

#: Where the provider sends the user back: this app's /callback (another port: set it).
REDIRECT = os.environ.get("CALLBACK_URL", "http://127.0.0.1:8765/callback")

runtime = Runtime(sandbox=True)
emulator = runtime.emulator("twitch")
callback = callback_app(runtime)
# the emulator's pages are served by a loopback sandbox server a browser can open
consent = SandboxServer(emulator).start()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/`` begins an authorization; everything else is the callback app."""
    if scope["type"] == "http" and scope["path"] == "/":
        begun = await runtime.abegin_authorization(
            "twitch", "viewer", emulator.parameters(), redirect_url=REDIRECT)
        location = consent.browser_url(begun.url).encode()
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location), (b"cache-control", b"no-store"),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    await callback(scope, receive, send)
