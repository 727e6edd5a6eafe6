"""docs/cli.md lists every command, action and option the parser has: the reference cannot
drift from the CLI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from connector_sdk.cli import COMMANDS, build_parser

REFERENCE = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
SHARED = {"--allow-loopback", "--local-server"}  # documented once, for every command


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse offers no public walk of subcommands
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings
            if flag.startswith("--") and flag != "--help" and action.help != argparse.SUPPRESS}


def _section(command: str) -> str:
    match = re.search(rf"^### `connector-sdk {command}\b.*?(?=^### |\Z)", REFERENCE, re.M | re.S)
    assert match, f"docs/cli.md has no section for `connector-sdk {command}`"
    return match.group(0)


def test_every_command_action_and_option_is_in_the_reference() -> None:
    commands = _subparsers(build_parser())
    assert set(commands) == set(COMMANDS)
    missing: list[str] = []
    for name, parser in commands.items():
        section = _section(name)
        actions = _subparsers(parser)
        for action_name, action in (actions or {"": parser}).items():
            if action_name and not re.search(rf"\b{action_name}\b", section):
                missing.append(f"{name} {action_name}")
            missing += [f"{name} {action_name} {flag}".replace("  ", " ")
                        for flag in sorted(_options(action) - SHARED)
                        if f"`{flag}" not in section and f" {flag}" not in section]
    assert not missing, "not in docs/cli.md: " + ", ".join(missing)


def test_the_reference_gives_the_exit_codes_the_cli_uses() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 130 |"):
        assert code in REFERENCE
    for flag in SHARED:
        assert f"`{flag}" in REFERENCE
