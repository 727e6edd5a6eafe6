"""The SDK's own defaults, registered as a plugin through the same hooks third parties use.

Both answer last (``trylast``), so any installed plugin that returns a store or a cache wins.
"""

from __future__ import annotations

from typing import Any

from .._config import RuntimeConfig
from .hookspecs import hookimpl


@hookimpl
def register_secret_resolvers(register: Any) -> None:
    """``env:NAME``, ``file:/path`` and ``keyring:service/user`` (``_auth/secret_refs``)."""
    from .._auth.secret_refs import BUILTIN_RESOLVERS

    for scheme, resolver in BUILTIN_RESOLVERS.items():
        register(scheme, resolver)


@hookimpl(trylast=True)
def authentication_store(config: RuntimeConfig) -> Any:
    """The store ``CONNECTOR_SDK_STORE`` names (``postgresql://…``), else the encrypted
    SQLite store under ``config.home``."""
    from .._stores.select import STORE_ENV, open_store

    return open_store(config.environ.get(STORE_ENV), config.environ, home=config.home)


@hookimpl(trylast=True)
def token_cache(config: RuntimeConfig) -> Any:
    """The Redis cache ``CONNECTOR_SDK_TOKEN_CACHE`` names (``redis://…``), shared by a fleet;
    else a per-runtime in-memory cache: tokens never touch the disk."""
    url = config.environ.get("CONNECTOR_SDK_TOKEN_CACHE", "").strip()
    if url:
        from .._auth.redis_cache import open_token_cache

        return open_token_cache(url, config.environ, home=config.home)
    from .._auth.cache import MemoryTokenCache

    return MemoryTokenCache()
