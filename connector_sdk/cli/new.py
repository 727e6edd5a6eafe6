"""``connector-sdk new NAME``: scaffold a connector distribution that works at once.

Writes ``NAME/`` with ``pyproject.toml`` (the ``connector_sdk`` entry point, a dependency on
connector-sdk, a ``test`` extra with the test kit), ``connector_NAME/NAME.yaml`` (a manifest
with a parameterized token URL and one operation), ``connector_NAME/__init__.py``, a README and
``tests/`` using the test kit (the conformance suite and one test against the kit's token and
API servers). Right after it, ``pip install -e ./NAME``, ``pytest ./NAME`` and ``connector-sdk
validate ./NAME`` pass.

Answers come from flags (``--title``, ``--token-url``, ``--host-parameter``); on a terminal,
the ones not given are asked for (``--no-input`` never asks). The directory must not exist,
or be empty.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME",
                        help="the service id, also the directory created (lower case, e.g. acme)")
    parser.add_argument("--title", help="the service's title (default: NAME capitalized)")
    parser.add_argument("--token-url", metavar="URL",
                        help="the token URL, {{ placeholders }} allowed (default:"
                             " https://{{ tenant }}.NAME.example/oauth/token)")
    host = parser.add_mutually_exclusive_group()
    host.add_argument("--host-parameter", dest="host_parameter", action="store_true",
                      default=None, help="the whole host is a parameter (one per customer"
                                         " domain, like Shopify's shop)")
    host.add_argument("--no-host-parameter", dest="host_parameter", action="store_false",
                      help="the host is fixed, or has a placeholder label only")
    parser.add_argument("--directory", type=Path, metavar="DIR",
                        help="where to create the connector (default: ./NAME)")
    parser.add_argument("--no-input", action="store_true",
                        help="never prompt: use the defaults for answers not given")


def _ask(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def _answers(args: argparse.Namespace) -> tuple[str, str, bool]:
    from ._scaffold import default_token_url

    prompt = not args.no_input and sys.stdin.isatty()
    title = args.title or (_ask("Title", args.name.capitalize()) if prompt
                           else args.name.capitalize())
    token_url = args.token_url or (_ask("Token URL", default_token_url(args.name)) if prompt
                                   else default_token_url(args.name))
    host_parameter = args.host_parameter
    if host_parameter is None:
        host_parameter = prompt and _ask("Is the whole host a parameter? (y/n)", "n"
                                         ).lower().startswith("y")
    return title, token_url, bool(host_parameter)


def run(args: argparse.Namespace) -> int:
    from ._scaffold import Answers, ScaffoldError, plan

    target: Path = args.directory or Path(args.name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} already exists and is not an empty directory: choose"
                         " another NAME or --directory")
    title, token_url, host_parameter = _answers(args)
    try:
        files = plan(Answers(args.name, title, token_url, host_parameter))
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"created the {title} connector in {target}/ ({len(files)} files). Next:")
    print(f"  pip install -e {target}        # then: connector-sdk validate {target}")
    print(f"  pytest {target}                 # the conformance suite and an API test")
    return 0
