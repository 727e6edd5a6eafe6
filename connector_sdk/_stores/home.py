"""Where connector-sdk keeps its files, and how that directory is kept private.

The home directory is ``$CONNECTOR_SDK_HOME`` when set (and not empty), else
``~/.connector-sdk``. It holds the authentication store (``authentications.db``) and, unless
``CONNECTOR_SDK_SECRET_KEY`` is set, the key that encrypts its secrets (``secret.key``), so it
must be reachable by its owner only.

Policy on an existing directory that is too open: **refuse, do not tighten**. The directory
may be one the user chose and shares on purpose (or ``$HOME`` by mistake); silently changing
its mode is a side effect they did not ask for, and a loud error with the ``chmod`` command is
easy to act on. A directory we create is created ``0o700`` and never hits this. A directory
owned by another user is refused too: its owner could replace the files in it. On Windows,
POSIX mode bits mean nothing and these checks are skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from .._errors import StoreError

__all__ = ["HOME_ENV", "check_private", "ensure_private_dir", "sdk_home"]

#: The environment variable that overrides the home directory.
HOME_ENV = "CONNECTOR_SDK_HOME"

_CHECK_MODES = os.name == "posix"


def sdk_home(environ: Mapping[str, str] | None = None) -> Path:
    """The home directory: ``$CONNECTOR_SDK_HOME`` (``~`` expanded) or ``~/.connector-sdk``.

    Does not create or check anything; see ``ensure_private_dir``. ``environ`` defaults to
    ``os.environ`` and lets callers (and tests) pass their own.
    """
    env = os.environ if environ is None else environ
    value = env.get(HOME_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return Path.home() / ".connector-sdk"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing, with mode ``0o700``; return it.

    Raises ``StoreError`` naming the directory and the fix when it exists but is not a
    directory, belongs to another user, or grants any permission to group or others. Callers
    may rely on the returned directory being owner-only when this returns (on POSIX).
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except FileExistsError as exc:
        raise StoreError(
            f"cannot use {path} as the connector-sdk home: it exists and is not a directory; "
            f"remove it or set {HOME_ENV} to another directory"
        ) from exc
    except OSError as exc:
        raise StoreError(
            f"cannot create the connector-sdk home directory {path}: {exc.strerror}; "
            f"set {HOME_ENV} to a directory you can write"
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"cannot use {path} as the connector-sdk home: it is not a directory; "
            f"remove it or set {HOME_ENV} to another directory"
        )
    check_private(path, info, kind="directory", fix_mode="700")
    return path


def check_private(path: Path, info: os.stat_result, *, kind: str, fix_mode: str) -> None:
    """Raise ``StoreError`` if ``path`` (whose ``stat`` is ``info``) is not owner-only.

    Shared by the home directory, the key file and the database files so that every one of
    them is refused the same way, with the ``chmod`` that fixes it.
    """
    if not _CHECK_MODES:
        return
    if info.st_uid != os.geteuid():
        raise StoreError(
            f"refusing to use the {kind} {path}: it belongs to another user (uid "
            f"{info.st_uid}); use a {kind} you own (set {HOME_ENV} to move the home)"
        )
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise StoreError(
            f"refusing to use the {kind} {path}: its mode {stat.S_IMODE(info.st_mode):04o} "
            f"lets group or others access it, and it holds or guards secrets; "
            f"run `chmod {fix_mode} {path}`"
        )
