"""``-v`` / ``--verbose``: each HTTP exchange and token request of a command, on stderr.

One line per request as httpx reports it (method, URL, status; token requests included),
and the SDK's own token-layer records (which service and authentication, attempt, status,
waits), each prefixed with the milliseconds since the command started, so the time of each
exchange shows. What is shown is what the SDK logs, and the SDK never logs a secret: request
bodies (where client secrets travel) and headers (where tokens travel) are not shown, and
no manifest may put a secret in a URL (rule SECRET-IN-URL).
"""

from __future__ import annotations

import logging
import sys

__all__ = ["enable"]

_LOGGERS = {"httpx": logging.INFO, "connector_sdk.tokens": logging.DEBUG,
            "connector_sdk.operations": logging.DEBUG, "connector_sdk.runtime": logging.INFO}


def enable() -> None:
    """Print the exchanges of this process on the current stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(relativeCreated)7.0f ms] %(message)s"))
    for name, level in _LOGGERS.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
