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

__all__ = ["main"]

#: subcommand -> (module, one-line help); modules are imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check manifest and workflow files (or installed plugins')"),
    "services": ("services", "list installed services and their parameters"),
    "plugins": ("plugins", "list loaded plugins and load failures"),
    "auth": ("auth", "create, list, show, test and delete authentications"),
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
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"connector_sdk.cli.{name}") is not None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the ``command`` being run, only that subcommand's module is
    imported (the others are listed for ``--help`` and errors): start-up pays for one."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
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
    return parser


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
    # no top-level option takes a value, so the first word is the command
    parser = build_parser(next((a for a in args_list if not a.startswith("-")), None))
    args = parser.parse_args([a for a in args_list if a not in ("--debug", "-v", "--verbose")])
    if verbose:
        from ._verbose import enable

        enable()
    if not args.command:
        parser.print_help()
        return 2
    from .._errors import ConnectorSDKError
    from ._usage import UsageError

    module = importlib.import_module(f"connector_sdk.cli.{COMMANDS[args.command][0]}")
    try:
        if args.command not in _READS_NO_CONFIGURATION:
            _check_configuration()
        code: int = module.run(args)
        return code
    except UsageError as exc:  # the one place a usage error becomes exit 2
        print(f"{_label(args)}: {exc}", file=sys.stderr)
        return 2
    except ConnectorSDKError as exc:
        print(f"connector-sdk {args.command}: {exc}", file=sys.stderr)
        if debug or _debug_env():
            for note in getattr(exc, "__notes__", ()):  # a handler's redacted traceback
                print(note, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `connector-sdk ... | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug or _debug_env():
            raise
        print(f"connector-sdk {args.command}: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in connector-sdk; rerun with --debug for a traceback and report"
              " it.", file=sys.stderr)
        return 2


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
