"""``--format json`` turns every command's failure into one JSON error document on stdout,
usage errors included, with the exit code unchanged and no traceback (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk.cli import build_parser, main

KEYS = {"command", "kind", "type", "message", "exit_code", "problems"}
PROBLEM_KEYS = {"file", "line", "column", "path", "rule", "severity", "message"}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command line prefix: ``("validate",)``, ``("auth", "create")``..."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    return [leaf for name, child in subs[0].choices.items()
            for leaf in _leaves(child, (*path, name))]


LEAVES = _leaves(build_parser())


def _document(text: str) -> dict[str, object]:
    document = json.loads(text)  # exactly one document: json.loads refuses trailing data
    assert set(document) == {"error"}
    error = document["error"]
    assert set(error) == KEYS
    for problem in error["problems"]:
        assert set(problem) == PROBLEM_KEYS
    return error


def test_every_registered_command_is_covered() -> None:
    commands = {leaf[0] for leaf in LEAVES}
    assert {"validate", "auth", "call", "completion", "schema", "new"} <= commands
    assert ("auth", "create") in LEAVES and ("mcp", "serve") in LEAVES


@pytest.mark.parametrize("leaf", LEAVES, ids=" ".join)
def test_a_usage_error_of_every_command_is_one_json_document(
        leaf: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*leaf, "--format", "json", "--no-such-option"])
    out, err = capsys.readouterr()
    assert code == 2
    error = _document(out)
    assert error["kind"] == "usage" and error["exit_code"] == 2
    assert error["type"] == "UsageError"
    assert str(error["command"]).startswith("connector-sdk")
    assert "--no-such-option" in str(error["message"]) or "required" in str(error["message"])
    assert "Traceback" not in err


@pytest.mark.parametrize("leaf", LEAVES, ids=" ".join)
def test_every_command_accepts_format_json(leaf: tuple[str, ...]) -> None:
    parser = build_parser()
    for name in leaf:
        parser = next(a for a in parser._actions
                      if isinstance(a, argparse._SubParsersAction)).choices[name]
    [action] = [a for a in parser._actions if "--format" in a.option_strings]
    assert "json" in action.choices


def test_text_mode_keeps_argparse_own_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "create"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: connector-sdk auth create")
    assert "connector-sdk auth create: error: the following arguments are required" in err


def _cli(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"), **env)
    environ.pop("CONNECTOR_SDK_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *argv], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize(("argv", "code", "kind", "type_", "message"), [
    (["call", "nosuch.op", "--sandbox", "--format", "json"], 1, "failed", "ServiceNotFound",
     "nosuch"),
    (["auth", "show", "missing", "--format=json"], 1, "failed", "AuthenticationNotFound",
     "missing"),
    (["run", "missing.yaml", "--format", "json"], 2, "usage", "UsageError",
     "no such workflow file"),
    (["nonsense", "--format", "json"], 2, "usage", "UsageError", "invalid choice"),
    (["validate", "--format", "sarif", "missing.yaml"], 2, "usage", "UsageError",
     "no such file"),
])
def test_a_failure_in_a_real_process_is_one_json_document(
        tmp_path: Path, argv: list[str], code: int, kind: str, type_: str,
        message: str) -> None:
    done = _cli(tmp_path, *argv)
    assert done.returncode == code, done.stderr
    error = _document(done.stdout)
    assert (error["kind"], error["type"], error["exit_code"]) == (kind, type_, code)
    assert message in str(error["message"])
    assert "Traceback" not in done.stderr


def test_an_error_with_problems_lists_them_in_the_problem_shape(tmp_path: Path) -> None:
    bad = Path(__file__).parents[1] / "redirects" / "fixtures" / "invalid" / \
        "REDIRECT-URL-NOT-HTTPS.yaml"
    done = _cli(tmp_path, "services", "--format", "json", CONNECTOR_SDK_REDIRECTS=str(bad))
    assert done.returncode == 1, done.stderr
    error = _document(done.stdout)
    assert error["type"] == "RedirectsError"
    [problem] = error["problems"]
    assert (problem["file"], problem["line"], problem["rule"]) == (
        str(bad), 3, "REDIRECT-URL-NOT-HTTPS")
    assert "\n" not in str(error["message"])  # the problems are data, not appended text
