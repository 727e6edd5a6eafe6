"""``connector-sdk completion SHELL`` prints a script the shell accepts and that completes
the commands, actions and options of the real parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk.cli import main

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def _script(shell: str, tmp_path: Path) -> Path:
    env = dict(os.environ)
    env.pop("CONNECTOR_SDK_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "connector_sdk.cli", "completion", shell],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"connector-sdk.{shell}"
    path.write_text(done.stdout)
    return path


def _bash(command: str) -> str:
    assert BASH is not None
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", command], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_bash
def test_the_bash_script_parses_and_registers_the_command(tmp_path: Path) -> None:
    script = _script("bash", tmp_path)
    _bash(f"bash -n {script}")
    assert "connector-sdk" in _bash(f"source {script}; complete -p connector-sdk")


@needs_bash
@pytest.mark.parametrize(("words", "expected"), [
    ("connector-sdk va", {"validate"}),
    ("connector-sdk auth c", {"create"}),
    ("connector-sdk validate --format s", {"sarif"}),
    ("connector-sdk completion ", {"bash", "zsh", "tcsh"}),
])
def test_bash_completes_commands_actions_and_choices(
        tmp_path: Path, words: str, expected: set[str]) -> None:
    script = _script("bash", tmp_path)
    parts = words.split(" ")
    array = " ".join(f"'{w}'" for w in parts)
    out = _bash(f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(parts) - 1};"
                f" COMP_LINE='{words}'; COMP_POINT={len(words)};"
                " _shtab_connector_sdk; printf '%s\\n' \"${COMPREPLY[@]}\"")
    assert expected <= {line.strip() for line in out.splitlines()}


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_zsh_and_tcsh_scripts_name_the_command(shell: str, tmp_path: Path) -> None:
    text = _script(shell, tmp_path).read_text()
    assert "connector-sdk" in text and "validate" in text


def test_without_the_extra_the_error_names_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "shtab", None)  # what an environment without it does
    assert main(["completion", "bash"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "pip install 'connector-sdk[completion]'" in err
