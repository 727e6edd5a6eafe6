"""Pieces several subcommands share: building the runtime, reading parameter values."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._secrets import json_default
from ._usage import UsageError

if TYPE_CHECKING:
    from .._manifest.model import Service
    from .._runtime.runtime import Runtime

__all__ = ["UsageError", "add_runtime_arguments", "emit_json", "make_runtime", "read_parameters"]


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-loopback", action="store_true",
                        help="allow plain http to 127.0.0.1/localhost (tests, local servers);"
                             " also CONNECTOR_SDK_ALLOW_LOOPBACK=1")
    parser.add_argument("--local-server", metavar="URL",
                        help="send every request (token endpoint too) to this server on"
                             " loopback, keeping real URLs and Host headers, for development;"
                             " it receives the credentials. Also CONNECTOR_SDK_SANDBOX_URL")


def make_runtime(args: argparse.Namespace, **kwargs: Any) -> Runtime:
    from .._runtime.runtime import Runtime
    from ._local_server import check_local_server, note

    allow = True if getattr(args, "allow_loopback", False) else None
    flag = getattr(args, "local_server", None)
    source = "--local-server" if flag else "CONNECTOR_SDK_SANDBOX_URL"
    route = flag or os.environ.get("CONNECTOR_SDK_SANDBOX_URL")
    if route and kwargs.get("sandbox"):
        if flag:
            raise UsageError("--local-server and --sandbox exclude each other: the sandbox"
                             " answers in-process, the local server over loopback")
    elif route:
        try:
            kwargs["sandbox_url"] = check_local_server(route, source=source)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(note(kwargs["sandbox_url"], source), file=sys.stderr)
    return Runtime(allow_loopback=allow, **kwargs)


def emit_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=json_default)
    sys.stdout.write("\n")


def _value_from_reference(name: str, text: str) -> str:
    if text.startswith("@env:"):
        var = text[5:]
        if var not in os.environ:
            raise UsageError(f"--param {name}=@env:{var}: environment variable {var} is not set")
        return os.environ[var]
    if text.startswith("@file:"):
        path = Path(text[6:]).expanduser()
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--param {name}=@file:{path}: cannot read the file ({exc})") from None
    return text


_PREFIXES = ("env", "file", "ref")


def _check_prefix(name: str, text: str) -> None:
    """A mistyped ``@word:`` reference must not become the literal value, or be refused as
    a secret typed on the command line: name it, and the ones that exist."""
    prefix = re.match(r"@([A-Za-z][A-Za-z0-9_-]*):", text)
    if prefix and prefix.group(1) not in _PREFIXES:
        from .._hints import closest

        near = closest(prefix.group(1), _PREFIXES)
        hint = f" (did you mean '@{near}:'?)" if near else ""
        raise UsageError(f"--param {name}: unknown reference '@{prefix.group(1)}:'{hint}; write"
                         f" {name}=@env:VARIABLE, {name}=@file:PATH or {name}=@ref:SCHEME:WHERE"
                         f" (a value that really starts with @WORD: goes in a file:"
                         f" {name}=@file:PATH)")


def read_parameters(service: Service, pairs: Sequence[str], *, prompt: bool,
                    complete: bool = True) -> dict[str, Any]:
    """``key=value`` pairs into values; secrets only via ``@env:``, ``@file:`` or a prompt.
    ``complete=False``: only the pairs given (``auth update``), no required secret asked for.

    A secret typed on the command line would stay in the shell history and be visible to
    every user through ``ps``, so it is refused with the ways that are allowed.
    """
    from .._auth.parameters import coerce_text
    from .._secrets import REFERENCE_KEY

    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param '{name}': write NAME=VALUE, NAME=@env:VAR or"
                             " NAME=@file:PATH")
        if name in values:
            raise UsageError(f"--param {name} is given twice: give each parameter once")
        spec = service.parameter(name)
        _check_prefix(name, text)
        if text.startswith("@ref:"):  # stored as a reference, resolved at each token request
            values[name] = {REFERENCE_KEY: text[5:]}
            continue
        is_reference = text.startswith(("@env:", "@file:"))
        if spec is not None and spec.secret and not is_reference:
            raise UsageError(
                f"secret parameter '{name}' cannot be given on the command line (shell history"
                f" and `ps` would show it): use {name}=@env:VAR, {name}=@file:PATH,"
                f" {name}=@ref:SCHEME:WHERE (a secret reference), or leave it out to be"
                " prompted")
        values[name] = coerce_text(service, name, _value_from_reference(name, text))
    for spec in service.parameters if complete else ():
        if spec.secret and spec.required and spec.name not in values:
            if not prompt or not sys.stdin.isatty():
                raise UsageError(
                    f"secret parameter '{spec.name}' is required: give it as"
                    f" --param {spec.name}=@env:VAR or @file:PATH (no terminal to prompt on)")
            values[spec.name] = getpass.getpass(f"{spec.title or spec.name} (hidden): ")
    return values
