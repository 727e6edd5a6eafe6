"""What a runtime was configured with; handed to hooks that build stores and caches."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RuntimeConfig", "env_flag"]


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """True for 1/true/yes/on (any case): how every boolean environment variable reads."""
    return environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class RuntimeConfig:
    """Settings of one runtime. ``environ`` is a snapshot, so hooks never read os.environ."""

    home: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    allow_loopback: bool = False
