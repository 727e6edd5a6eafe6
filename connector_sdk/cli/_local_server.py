"""``--local-server URL``: every request of a command goes to one server on loopback.

What it does is what ``CONNECTOR_SDK_SANDBOX_URL`` does (the flag wins when both are given):
the runtime renders and checks every URL as usual (network policy, allowed hosts, https),
then the transport sends the request to ``URL`` over plain http, keeping the real URL in the
request line's target and the real host in ``Host``. Manifests are never edited, so a
host-parameterized manifest reaches the local server for whatever host its parameters
render, and the server can tell services apart by ``Host``.

Safety: the local server receives what the real service would, client secrets in token
requests included. Only a loopback address is accepted (127.0.0.1, ::1, localhost), so the
credentials never cross a network, but run only a server you trust on your own machine, and
use development credentials.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["check_local_server", "note"]


def check_local_server(url: str, *, source: str) -> str:
    """``url`` if it is ``http://LOOPBACK:PORT`` (a trailing ``/`` allowed), else
    ``ValueError`` naming ``source`` (the flag or the variable) and the fix."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not loopback or port is None or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{source} must be http://127.0.0.1:PORT (a server on this machine's"
                         f" loopback interface, plain http, no path), not {url!r}")
    return url.rstrip("/")


def note(url: str, source: str) -> str:
    return (f"note: {source}: every request goes to {url}, not to the services' real hosts"
            " (real URLs and Host headers kept; that server receives the credentials)")
