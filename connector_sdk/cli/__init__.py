"""The ``connector-sdk`` command line: one module per subcommand, imported when needed.

Exit codes: 0 success, 1 problems found or the operation failed for a reason the user can
fix (the message says how), 2 usage error or internal error. User errors never print a
traceback; an internal error prints one only when ``CONNECTOR_SDK_DEBUG=1``.

Subcommands raise ``_common.UsageError`` for a command-line mistake and never catch it:
``main`` turns it into ``connector-sdk COMMAND: message`` on stderr and exit code 2, once for
every subcommand (argparse's own errors exit 2 the same way).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

#: subcommand -> (module, one-line help); modules are imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check manifest, workflow and redirect files (or installed"
                 " plugins')"),
    "services": ("services", "list installed services and their parameters"),
    "plugins": ("plugins", "list loaded plugins and load failures"),
    "auth": ("auth", "create, connect, list, show, test, update and delete authentications"),
    "operations": ("operations", "list the operations of installed services"),
    "call": ("call", "run one operation"),
    "run": ("run", "run a workflow file"),
    "store": ("store", "copy authentications between stores (store migrate --to URL)"),
    "sandbox": ("sandbox", "serve installed services' emulators on a loopback port"),
    "mcp": ("mcp", "serve operations as MCP tools for AI agents (extra: connector-sdk[mcp])"),
    "connect-page": ("connect_page", "serve the embeddable connect page on loopback, mint"
                     " session links (extra: [connect-page])"),
    "worker": ("worker", "run workflow steps as a Temporal worker (extra: [temporal])"),
    "runs": ("runs", "show a Temporal run's status and result (runs show ID)"),
    "new": ("new", "scaffold a connector distribution (manifest, plugin, tests with the kit)"),
    "docs": ("docs", "a service's reference page in Markdown, from its manifest"),
    "schema": ("schema", "print the JSON Schema of manifests or workflows (for editors)"),
    "completion": ("completion", "print a shell-completion script (bash, zsh, tcsh; extra:"
                   " [completion])"),
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"connector_sdk.cli.{name}") is not None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the ``command`` being run, only that subcommand's module is
    imported (the others are listed for ``--help`` and errors): start-up pays for one."""
    from .._version import __version__
    from ._usage import ArgumentParser

    parser = ArgumentParser(
        prog="connector-sdk",
        description="Validate connector manifests, manage authentications, run operations.",
    )
    parser.add_argument("--version", action="version", version=f"connector-sdk {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks (a plugin handler's error, internal errors);"
                             " accepted anywhere on the line; also CONNECTOR_SDK_DEBUG=1")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show each HTTP exchange and token request on stderr (method,"
                             " URL, status, time); accepted anywhere on the line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if command in COMMANDS and name != command:
            sub.add_parser(name, help=help_text, description=help_text)
        elif _available(module):
            importlib.import_module(f"connector_sdk.cli.{module}").add_arguments(
                sub.add_parser(name, help=help_text, description=help_text))
    _add_error_format(parser)
    return parser


def _add_error_format(parser: argparse.ArgumentParser) -> None:
    """Give every command (and action) that has no ``--format`` of its own one that only
    changes how its errors are reported, so ``--format json`` works on every command line;
    a new command is covered without doing anything."""
    subcommands = [a for a in parser._actions  # argparse has no public walk of subparsers
                   if isinstance(a, argparse._SubParsersAction)]
    for action in subcommands:
        for child in dict.fromkeys(action.choices.values()):
            _add_error_format(child)
    has_format = any("--format" in a.option_strings for a in parser._actions)
    if not subcommands and not has_format and parser.prog != "connector-sdk":
        parser.add_argument("--format", choices=("text", "json"), default="text",
                            help="how errors are reported: json writes one JSON error"
                                 " document to stdout (the command's output is unchanged)")


def _label(args: argparse.Namespace) -> str:
    """``connector-sdk auth create``: the command as typed, with its action if it has one."""
    action = getattr(args, f"{args.command}_command", None)
    return " ".join(["connector-sdk", args.command, *([action] if action else [])])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; everything it prints has its control characters escaped."""
    from ._output import escaped_output

    with escaped_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list in (["--version"], ["-V"]):  # fast path: no subcommand imports
        from .._version import __version__

        print(f"connector-sdk {__version__}")
        return 0
    debug = "--debug" in args_list  # anywhere: `connector-sdk call X --debug` too
    verbose = bool({"-v", "--verbose"} & set(args_list))
    from .._errors import ConnectorSDKError
    from ._output import json_errors_requested
    from ._usage import UsageError

    fail = _Failures(as_json=json_errors_requested(args_list))
    try:
        # no top-level option takes a value, so the first word is the command
        parser = build_parser(next((a for a in args_list if not a.startswith("-")), None))
        args = parser.parse_args([a for a in args_list
                                  if a not in ("--debug", "-v", "--verbose")])
    except UsageError as exc:  # argparse's own: an unknown option, a bad choice
        return fail.usage(exc.prog or "connector-sdk", exc)
    if verbose:
        from ._verbose import enable

        enable()
    if not args.command:
        parser.print_help()
        return 2

    module = importlib.import_module(f"connector_sdk.cli.{COMMANDS[args.command][0]}")
    try:
        if args.command not in _READS_NO_CONFIGURATION:
            _check_configuration()
        code: int = module.run(args)
        return code
    except UsageError as exc:  # the one place a usage error becomes exit 2
        return fail.usage(_label(args), exc)
    except ConnectorSDKError as exc:
        return fail.failed(f"connector-sdk {args.command}", exc, debug=debug or _debug_env())
    except KeyboardInterrupt:
        return fail.report(f"connector-sdk {args.command}", "interrupted", "interrupted",
                           130, "KeyboardInterrupt", text="interrupted")
    except BrokenPipeError:  # `connector-sdk ... | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug or _debug_env():
            raise
        label = f"connector-sdk {args.command}"
        message = (f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in"
                   " connector-sdk; rerun with --debug for a traceback and report it.")
        return fail.report(label, "internal", message, 2, type(exc).__name__)


class _Failures:
    """How ``main`` reports a failure: ``connector-sdk COMMAND: message`` on stderr, or the
    one JSON error document on stdout when the line asked for ``--format json``."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json

    def usage(self, label: str, exc: Exception) -> int:
        usage = getattr(exc, "usage", None)
        if usage and not self.as_json:  # argparse's own error, printed as argparse does
            sys.stderr.write(usage)
            print(f"{label}: error: {exc}", file=sys.stderr)
            return 2
        return self.report(label, "usage", str(exc), 2, type(exc).__name__)

    def failed(self, label: str, exc: Exception, *, debug: bool) -> int:
        problems = list(getattr(exc, "problems", ()) or ())
        head = Exception.__str__(exc) if problems and self.as_json else str(exc)
        code = self.report(label, "failed", head, 1, type(exc).__name__, problems=problems)
        if debug:
            for note in getattr(exc, "__notes__", ()):  # a handler's redacted traceback
                print(note, file=sys.stderr)
        return code

    def report(self, label: str, kind: Any, message: str, code: int, error_type: str, *,
               problems: Sequence[object] = (), text: str | None = None) -> int:
        if not self.as_json:
            print(text if text is not None else f"{label}: {message}", file=sys.stderr)
            return code
        from ._output import error_document, write_error

        write_error(error_document(command=label, kind=kind, message=message, exit_code=code,
                                   error_type=error_type, problems=problems), sys.stdout)
        return code


#: Commands that print or check only what they are given, so no configuration can break them
#: (``validate`` never opens a file it was not named: docs/security.md).
_READS_NO_CONFIGURATION = frozenset({"validate", "schema", "new", "completion"})


def _check_configuration() -> None:
    """Start-up checks of what the environment configures, once for every command that
    reads it: an invalid ``CONNECTOR_SDK_REDIRECTS`` file fails the command before it does
    anything, naming file:line and the fix (``Runtime()`` checks it the same way)."""
    from .._manifest.redirects import configured_redirects

    configured_redirects(None, os.environ)


def _debug_env() -> bool:
    from .._config import env_flag

    return env_flag(os.environ, "CONNECTOR_SDK_DEBUG")
