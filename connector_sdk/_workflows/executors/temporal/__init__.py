"""Workflows on Temporal: durable steps across many workers (extra ``connector-sdk[temporal]``).

``require_temporal`` is the one check the CLI makes before importing the modules here (the
only ones that import ``temporalio``): without the extra it raises ``UsageError``-friendly
``ImportError`` text saying how to install it. docs/temporal.md describes workers, the
payload codec, the limits and the error mapping.
"""

from __future__ import annotations

import importlib.util

__all__ = ["INSTALL_HINT", "temporal_missing"]

INSTALL_HINT = "pip install 'connector-sdk[temporal]'"


def temporal_missing() -> str | None:
    """None when ``temporalio`` is importable, else a message saying how to install it."""
    if importlib.util.find_spec("temporalio") is None:
        return f"the Temporal engine needs the temporalio package: {INSTALL_HINT}"
    return None
