"""``UsageError``: a command-line mistake, turned into exit code 2 by ``cli.main`` alone.

Its own module, importing nothing but the error tree, so that every subcommand can raise it,
``validate`` included, whose import path must not reach HTTP.
"""

from __future__ import annotations

from .._errors import ConnectorSDKError

__all__ = ["UsageError"]


class UsageError(ConnectorSDKError):
    """A command-line mistake the message explains (exit 2)."""
