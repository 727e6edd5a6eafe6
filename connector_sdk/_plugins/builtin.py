"""The SDK's own defaults, registered as a plugin through the same hooks third parties use.

Both answer last (``trylast``), so any installed plugin that returns a store or a cache wins.
"""

from __future__ import annotations

from typing import Any

from .._config import RuntimeConfig
from .hookspecs import hookimpl


@hookimpl(trylast=True)
def authentication_store(config: RuntimeConfig) -> Any:
    """The encrypted SQLite store under ``config.home``."""
    from .._stores.sqlite import open_default_store

    return open_default_store(config.environ, home=config.home)


@hookimpl(trylast=True)
def token_cache(config: RuntimeConfig) -> Any:
    """A per-runtime in-memory cache: tokens never touch the disk."""
    from .._auth.cache import MemoryTokenCache

    return MemoryTokenCache()
