"""Installed manifests' verdicts, cached by content hash, so a runtime does not re-check them.

A runtime registers every installed plugin's manifest when it starts. Checking one against
the manifest schema and the rules costs a few milliseconds plus importing the validators
(jsonschema, jsonschema-rs, RE2: tens of milliseconds), for manifests that change only when
a connector is installed or upgraded. ``ManifestVerdicts`` remembers which manifest texts
passed, so the next start parses such a text and builds its ``Service`` without the checks.

What callers may rely on:

* **Keyed on everything that decides the verdict.** The key is the SHA-256 of the manifest's
  bytes together with a fingerprint of the checker: the SDK's version, the content of every
  module of ``connector_sdk._manifest`` and of the packaged JSON schemas, and the file size
  and modification time of the validator libraries. Editing the manifest, the rules or the
  schemas, or upgrading a validator, therefore misses the cache; nothing is ever stale.
* **Only passes are kept.** A manifest with problems is checked in full every time, so its
  problems are always reported as they are now.
* **Never a reason to fail.** An unreadable, damaged or foreign cache file counts as empty,
  and a cache that cannot be written is skipped. The file lives in the SDK home
  (``<home>/manifest-verdicts.json``, owner-only, written only when the home exists and is
  private, as the store's files are): whoever can write it can already read the store's key.
* **Opt-in.** ``Runtime`` uses it; ``connector-sdk validate``, which promises to open only
  the files it is named, never does. ``CONNECTOR_SDK_MANIFEST_CACHE=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import stat
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .._config import parse_bool
from .._manifest.loader import build_service, load_manifest
from .._manifest.model import Service
from .._manifest.reader import MAX_FILE_BYTES, load_yaml
from .._problems import Problem
from .._version import __version__

__all__ = ["CACHE_ENV", "CACHE_NAME", "ManifestVerdicts", "verdicts_for"]

CACHE_NAME = "manifest-verdicts.json"
CACHE_ENV = "CONNECTOR_SDK_MANIFEST_CACHE"
#: The most verdicts kept (newest last); a few per installed connector and version.
MAX_ENTRIES = 512
_FORMAT = 1
_VALIDATORS = ("jsonschema", "jsonschema_rs", "re2", "yaml", "referencing")


@cache
def checker_fingerprint() -> bytes:
    """What decides a verdict besides the manifest: computed once per process (~1 ms)."""
    digest = hashlib.sha256(f"connector-sdk {__version__}\0".encode())
    package = Path(__file__).parents[1]
    sources = sorted([*package.joinpath("_manifest").glob("*.py"),
                      *package.joinpath("schemas").glob("*.json")])
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in _VALIDATORS:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        info = os.stat(origin) if origin and os.path.exists(origin) else None
        digest.update(f"{name}:{origin}:{info and info.st_size}:{info and info.st_mtime_ns}\0"
                      .encode())
    return digest.digest()


class ManifestVerdicts:
    """The set of manifest keys known to pass, read from and written to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._valid: dict[str, None] = dict.fromkeys(_read(path))

    def key(self, raw: bytes) -> str:
        return hashlib.sha256(checker_fingerprint() + raw).hexdigest()

    def known_valid(self, key: str) -> bool:
        return key in self._valid

    def remember(self, key: str) -> None:
        """Keep ``key`` as passed and write the file (atomically; errors are skipped)."""
        if key in self._valid:
            return
        self._valid[key] = None
        keys = list(self._valid)[-MAX_ENTRIES:]
        self._valid = dict.fromkeys(keys)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"format": _FORMAT, "valid": keys}, out)
            os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            tmp.unlink()

    def load(
        self, source: Path | str | bytes, file: str
    ) -> tuple[Service | None, list[Problem]]:
        """What ``load_manifest(source, file=file)`` returns, without the checks for a text
        that passed before (a path is read as ``load_manifest`` reads it)."""
        if isinstance(source, Path):
            raw = _read_manifest(source)
            if raw is None:  # not a plain readable file: the full path reports why
                return load_manifest(source)
            text: str | bytes = raw
        else:
            text, raw = source, source.encode() if isinstance(source, str) else source
        key = self.key(raw)
        if self.known_valid(key):
            doc, problems = load_yaml(text, file)
            if doc is not None and not problems:
                return build_service(doc.data, source=doc.file), []
        service, problems = load_manifest(text, file=file)
        if service is not None:
            self.remember(key)
        return service, problems


def verdicts_for(environ: Mapping[str, str]) -> ManifestVerdicts | None:
    """The cache in the SDK home ``environ`` names, or None when it is off or the home does
    not exist or is not private (the cache never creates the home)."""
    from .._errors import StoreError
    from .._stores.home import check_private, sdk_home

    if parse_bool(environ.get(CACHE_ENV, "1")) is False:
        return None
    home = sdk_home(environ)
    try:
        info = home.stat()
        if not stat.S_ISDIR(info.st_mode):
            return None
        check_private(home, info, kind="home directory", fix_mode="700")
    except (OSError, StoreError):
        return None
    return ManifestVerdicts(home / CACHE_NAME)


def _read(path: Path) -> list[str]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return []
    valid = data.get("valid")
    if not isinstance(valid, list):
        return []
    return [key for key in valid if isinstance(key, str) and len(key) == 64]


def _read_manifest(source: Path | bytes) -> bytes | None:
    if not isinstance(source, Path):
        return source
    try:
        info = source.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return source.read_bytes()
    except OSError:
        return None
