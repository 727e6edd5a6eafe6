"""Which store a URL names: ``CONNECTOR_SDK_STORE`` and ``store migrate --to/--from``.

* unset, empty or ``sqlite:``: the embedded store in the home directory
  (``<home>/authentications.db``);
* ``sqlite:///absolute/path/authentications.db``: a SQLite store at that path (its directory
  is created private, like the home);
* ``postgresql://user[:password]@host[:port]/dbname[?sslmode=…]`` (or ``postgres://``): the
  PostgreSQL store, with the key that every worker shares.

Every store opened here seals secrets with the same key (``CONNECTOR_SDK_SECRET_KEY`` or
``<home>/secret.key``), which is what lets ``store migrate`` move sealed values between them
without opening them. A URL is never shown whole in a message: it may hold a password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .._errors import SecretKeyError, StoreError
from .crypto import KEY_ENV, KEY_FILE_NAME, SecretCipher, key_origin, load_secret_key
from .home import ensure_private_dir, sdk_home
from .sql import SQLStore
from .sqlite import SQLiteStore, open_default_store

__all__ = ["STORE_ENV", "describe_url", "open_store"]

#: The environment variable that chooses the store.
STORE_ENV = "CONNECTOR_SDK_STORE"


def describe_url(url: str) -> str:
    """``url`` fit for a message: no password, no query."""
    from .postgresql import display_url, is_postgresql_url

    if is_postgresql_url(url):
        return display_url(url)
    if url.startswith("sqlite:"):
        return url
    return f"{url.partition(':')[0]}:…"


def open_store(
    url: str | None, environ: Mapping[str, str] | None = None, *, home: Path | None = None
) -> SQLStore:
    """Open the store ``url`` names (see the module docstring); ``StoreError`` otherwise."""
    url = (url or "").strip()
    home = sdk_home(environ) if home is None else home
    if url in ("", "sqlite:", "sqlite://"):
        return open_default_store(environ, home=home)
    if url.startswith("sqlite://"):
        path = Path(url.removeprefix("sqlite://"))
        if not path.is_absolute() or path.name == "":
            raise StoreError(
                f"the store URL {url} must name a file by its absolute path, as in "
                f"sqlite:///var/lib/connector-sdk/authentications.db"
            )
        ensure_private_dir(path.parent)
        ensure_private_dir(home)
        key = load_secret_key(home, environ, create=not path.exists())
        return SQLiteStore(path, SecretCipher(key, origin=key_origin(home, environ)))
    from .postgresql import PostgreSQLStore, is_postgresql_url

    if is_postgresql_url(url):
        return PostgreSQLStore(url, SecretCipher(_fleet_key(home, environ),
                                                 origin=key_origin(home, environ)))
    raise StoreError(
        f"{STORE_ENV} (or --to/--from) is {describe_url(url)}, which names no kind of store "
        f"connector-sdk knows; use postgresql://user@host:port/dbname or "
        f"sqlite:///path/to/authentications.db (or leave it unset for the home directory)"
    )


def _fleet_key(home: Path, environ: Mapping[str, str] | None) -> bytes:
    """The key of a shared store: given, never generated (a key made up on one worker could
    not read what the others sealed)."""
    env = os.environ if environ is None else environ
    if not env.get(KEY_ENV, "").strip() and not (home / KEY_FILE_NAME).exists():
        raise SecretKeyError(
            f"a shared (PostgreSQL) store needs the fleet's key: set {KEY_ENV} to the same "
            f"key on every worker (make one with `python -c \"import base64, os; "
            f"print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"`), or copy the key "
            f"file to {home / KEY_FILE_NAME}"
        )
    if not env.get(KEY_ENV, "").strip():
        ensure_private_dir(home)
    return load_secret_key(home, environ, create=False)
