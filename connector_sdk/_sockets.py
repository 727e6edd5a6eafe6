"""Socket settings shared by the SDK's loopback HTTP servers (the sandbox's and the test kit's).

``LISTEN_BACKLOG`` is the ``listen()`` backlog both servers pass through socketserver's
``request_queue_size`` (https://docs.python.org/3/library/socketserver.html#socketserver.BaseServer.request_queue_size).
socketserver's default of 5 is too small for clients that open many connections at once: the
kernel drops the SYNs beyond it and each client retries after a second (a ten-connection burst
took a second per extra connection). Linux caps the value at ``net.core.somaxconn``.
"""

from __future__ import annotations

__all__ = ["LISTEN_BACKLOG"]

#: Enough for the 200 concurrent connections the reliability tests open at once.
LISTEN_BACKLOG = 512
