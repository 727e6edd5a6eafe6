"""``UsageError``: a command-line mistake, turned into exit code 2 by ``cli.main`` alone.

argparse's own errors become one too (``ArgumentParser``), so that every usage error is
reported in one place and one shape, JSON included.

Its own module, importing nothing but the error tree, so that every subcommand can raise it,
``validate`` included, whose import path must not reach HTTP.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .._errors import ConnectorSDKError

__all__ = ["ArgumentParser", "UsageError"]


class UsageError(ConnectorSDKError):
    """A command-line mistake the message explains (exit 2). ``prog`` and ``usage`` are set
    for argparse's own errors (``connector-sdk auth create`` and its usage line)."""

    def __init__(self, message: str, *, prog: str | None = None,
                 usage: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog
        self.usage = usage


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors (an unknown option, a bad choice, a missing argument)
    are a ``UsageError`` like every other command-line mistake, instead of a print and
    ``SystemExit(2)``: ``cli.main`` then reports all of them the same way, as text or, with
    ``--format json``, as the one JSON error document. Subparsers inherit the class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviated options: `--form json` would select JSON output while the error
        # path, which reads the line itself, saw no --format (and abbreviations drift as
        # options are added).
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(_masked(message), prog=self.prog, usage=self.format_usage())


_UNRECOGNIZED = "unrecognized arguments: "


def _masked(message: str) -> str:
    """argparse's "unrecognized arguments" error without the values: a word typed in the
    wrong place (``--param client_secret S3CRET``) may be a secret. Option names are kept."""
    if not message.startswith(_UNRECOGNIZED):
        return message
    words = message[len(_UNRECOGNIZED):].split()
    shown = [w if w.startswith("-") else "VALUE" for w in words]
    return (f"{_UNRECOGNIZED}{' '.join(shown)} (values not shown: they may be secrets); give"
            " each value after its option, as KEY=VALUE where the option takes one")
