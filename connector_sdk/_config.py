"""What a runtime was configured with; handed to hooks that build stores and caches.

Also the one reading of yes/no words (``parse_bool``): environment variables, command-line
values and parameter text all accept the same words, in any case, around any whitespace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "RuntimeConfig", "env_flag", "parse_bool"]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(text: str) -> bool | None:
    """True for 1/true/yes/on, False for 0/false/no/off (any case), None for anything else."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """True when ``name`` is set to a true word: how every boolean environment variable reads."""
    return parse_bool(environ.get(name, "")) is True


@dataclass(frozen=True)
class RuntimeConfig:
    """Settings of one runtime. ``environ`` is a snapshot, so hooks never read os.environ."""

    home: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    allow_loopback: bool = False
